/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sockets in user space: "connect", "accept", "listen" and "inherit"
 * records from sock.bpf.c's events, deferred deletion of closed sockets
 * in the kernel's socks map, exited processes kept while their sockets
 * are open, and a periodic "stats" record with the share of flows that
 * name their process. One instance per daemon.
 */
#ifndef PS_NODE_SOCKETS_H
#define PS_NODE_SOCKETS_H

#include <stddef.h>
#include <json-c/json.h>
#include <linux/types.h>

#include "node/state/flows.h"
#include "node/kern/loader.h"
#include "node/records/records.h"

#define SOCKETS_STATS_NS (10ULL * 1000000000ULL) /* stats record interval */

/* emit(arg, record, netns of the pod the record belongs to) */
typedef void (*sockets_emit_fn)(void *arg, struct json_object *rec,
				__u32 netns);

struct socket_stats {
	unsigned long long connects, connects_failed, accepts, listens;
	unsigned long long udp, inherits, deleted_closed, deleted_idle;
	unsigned long long open; /* entries in the socks map at the last tick */
	unsigned long long unwritten; /* records lost to a failed allocation */
};

/* emit writes the connect, accept, listen and inherit records;
 * emit_json the stats records. */
int sockets_init(struct record_ctx *rc, struct loader *l,
		 struct flow_table *flows, record_line_fn emit,
		 sockets_emit_fn emit_json, void *arg);
/* A PS_EV_CONNECT/ACCEPT/LISTEN/INHERIT event; -EINVAL when malformed. */
int sockets_event(const void *data, size_t len);
/* Once a second: every 5 s deferred deletions and process holds, every
 * 10 s a stats record when something changed. */
void sockets_tick(__u64 now);
/* A last stats record; frees the module. */
void sockets_exit(void);
const struct socket_stats *sockets_stats(void);

#endif
