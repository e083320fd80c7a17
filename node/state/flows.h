/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Flows in user space: the kernel reports a flow when it starts, every
 * flow_update of a long flow and when it ends; the daemon keeps the open
 * ones, writes a "flow" record per update and one final record per flow
 * (after a short linger, so that the last ACK is counted), ends idle
 * flows itself and reports flows the kernel's LRU evicted.
 */
#ifndef PS_NODE_FLOWS_H
#define PS_NODE_FLOWS_H

#include <json-c/json.h>
#include <linux/types.h>

#include "podsentry.h"
#include "node/records/records.h"

struct flow_table;

struct flow_stats {
	unsigned long long started, ended, updates, idle, evicted, adopted;
	unsigned long long with_process, without_process;
	unsigned long long owner_late; /* final records named from socks */
	unsigned long long unwritten; /* records lost to a failed allocation */
};

/* Records go to emit as text, with what they say for detection. */
/* flows4_fd, flows6_fd: the kernel's tables (PS_PIN_FLOWS4, _FLOWS6);
 * socks_fd: PS_PIN_SOCKS, for flows the kernel could not name (-1: none). */
struct flow_table *flows_new(struct record_ctx *rc, int flows4_fd,
			     int flows6_fd, int socks_fd, __u64 idle_ns,
			     record_line_fn emit, void *arg);
void flows_free(struct flow_table *t);
void flows_event(struct flow_table *t, const struct ps_flow_event *e);
/* End what lingered long enough, what is idle, and what the kernel
 * evicted. `all` ends every open flow (shutdown). */
void flows_sweep(struct flow_table *t, __u64 now, int all);
const struct flow_stats *flows_stats(const struct flow_table *t);

/* "tcp", "udp", … or the number */
const char *ip_proto_name(__u8 proto, char *buf, size_t len);

#endif
