/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A set of text keys, each with a time: what the detection engine has
 * seen of a connection (its connect record, its flow's first record),
 * kept from one record to a later one. Keys are stored as their 64-bit
 * hash (a false match needs two live keys with one hash among at most a
 * few hundred thousand: odds below 1e-8), in an open-addressing table
 * that grows by doubling. No allocation per key.
 */
#ifndef PS_NODE_SEEN_H
#define PS_NODE_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct seen_ent {
	__u64 hash; /* 0: free */
	__u64 at;
};

struct seen_set {
	struct seen_ent *e;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

/* The time of key, when it is in the set. */
bool seen_get(const struct seen_set *s, const char *key, __u64 *at);
/* Add key (or move its time to at); -ENOMEM when the table cannot grow. */
int seen_put(struct seen_set *s, const char *key, __u64 at);
/* Remove key; false when it was not there. */
bool seen_del(struct seen_set *s, const char *key);
/* Remove every key whose time is before `before`. */
void seen_reap(struct seen_set *s, __u64 before);
void seen_free(struct seen_set *s);

#endif
