// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "node/detect/seen.h"

#define SEEN_MIN_CAP 1024

/* FNV-1a, 64 bits, never 0 (0 marks a free slot). */
static __u64 seen_hash(const char *key)
{
	__u64 h = 14695981039346656037ULL;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return h ? h : 1;
}

/* The slot of hash h: where it is, or the free slot that ends its run. */
static size_t seen_slot(const struct seen_set *s, __u64 h)
{
	size_t mask = s->cap - 1, i = h & mask;

	while (s->e[i].hash && s->e[i].hash != h)
		i = (i + 1) & mask;
	return i;
}

static int seen_grow(struct seen_set *s)
{
	size_t cap = s->cap ? s->cap * 2 : SEEN_MIN_CAP, i;
	struct seen_set t = { .cap = cap, .n = s->n };

	t.e = calloc(cap, sizeof(*t.e));
	if (!t.e)
		return -ENOMEM;
	for (i = 0; i < s->cap; i++)
		if (s->e[i].hash)
			t.e[seen_slot(&t, s->e[i].hash)] = s->e[i];
	free(s->e);
	*s = t;
	return 0;
}

/* The slot holding key, or -1. */
static ssize_t seen_find(const struct seen_set *s, const char *key)
{
	size_t i;

	if (!s->n)
		return -1;
	i = seen_slot(s, seen_hash(key));
	return s->e[i].hash ? (ssize_t)i : -1;
}

bool seen_get(const struct seen_set *s, const char *key, __u64 *at)
{
	ssize_t i = seen_find(s, key);

	if (i < 0)
		return false;
	if (at)
		*at = s->e[i].at;
	return true;
}

int seen_put(struct seen_set *s, const char *key, __u64 at)
{
	__u64 h = seen_hash(key);
	size_t i;
	int err;

	/* at most half full: runs stay short */
	if ((s->n + 1) * 2 > s->cap && (err = seen_grow(s)))
		return err;
	i = seen_slot(s, h);
	if (!s->e[i].hash) {
		s->e[i].hash = h;
		s->n++;
	}
	s->e[i].at = at;
	return 0;
}

/* Empty slot i and move later entries of its run back, so that no
 * lookup stops at a hole before its entry (no tombstones). */
static void seen_remove_at(struct seen_set *s, size_t i)
{
	size_t mask = s->cap - 1, j = i, home;

	s->e[i].hash = 0;
	s->n--;
	for (;;) {
		j = (j + 1) & mask;
		if (!s->e[j].hash)
			return;
		home = s->e[j].hash & mask;
		/* the entry at j may fill the hole at i when its home slot
		 * is not within (i, j], cyclically */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		s->e[i] = s->e[j];
		s->e[j].hash = 0;
		i = j;
	}
}

bool seen_del(struct seen_set *s, const char *key)
{
	ssize_t i = seen_find(s, key);

	if (i < 0)
		return false;
	seen_remove_at(s, i);
	return true;
}

void seen_reap(struct seen_set *s, __u64 before)
{
	struct seen_set t = { .cap = s->cap };
	size_t i;

	if (!s->n)
		return;
	t.e = calloc(t.cap, sizeof(*t.e));
	if (!t.e) { /* in place, slower: removal may move an entry back */
		for (i = 0; i < s->cap; i++)
			while (s->e[i].hash && s->e[i].at < before)
				seen_remove_at(s, i);
		return;
	}
	for (i = 0; i < s->cap; i++)
		if (s->e[i].hash && s->e[i].at >= before) {
			t.e[seen_slot(&t, s->e[i].hash)] = s->e[i];
			t.n++;
		}
	free(s->e);
	*s = t;
}

void seen_free(struct seen_set *s)
{
	free(s->e);
	memset(s, 0, sizeof(*s));
}
