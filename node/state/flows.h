/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Flows in user space. The kernel keeps every flow in its tables
 * (flows4, flows6) and sends a flow once: when a TCP flow ends, and
 * every flow_update of a long one. This module turns those events into
 * flow views for the record writer and detection, and sweeps the kernel's
 * tables for what only time ends (UDP, ICMP, unanswered and half-closed
 * TCP), for ends the ring buffer could not take, and for long flows the
 * LRU evicted. With aggregation, short connections of an interval are
 * folded (in the kernel's flow_agg, and here for those that end by time)
 * into one aggregate record per pod process, peer and port.
 */
#ifndef PS_NODE_STATE_FLOWS_H
#define PS_NODE_STATE_FLOWS_H

#include <linux/types.h>

#include "podsentry.h"
#include "node/records/flow.h"
#include "node/records/records.h"

struct flow_table;

struct flow_stats {
	unsigned long long ended;	    /* final flow records */
	unsigned long long with_process;    /* every pod end named */
	unsigned long long without_process;
	unsigned long long named_by_daemon; /* a refused connect, named by
					     * its socket's notice */
	unsigned long long updates, idle, evicted, recovered;
	unsigned long long aggregated;	    /* connections folded */
	unsigned long long agg_records;
};

typedef void (*flow_out_fn)(void *arg, const struct flow_view *v);
typedef void (*agg_out_fn)(void *arg, const struct agg_view *a);
/* The exec that reads the socket of side `side` of a flow now, when it
 * is not the one that opened it (an inherit event), or NULL. */
typedef struct proc *(*flow_holder_fn)(void *arg, const struct ps_flow_key *k,
				       int side);
/* Tell the kernel when flow_agg was last read (its agg_since). */
typedef void (*agg_since_fn)(void *arg, __u64 ns);

struct flows_opts {
	struct record_ctx *rc;
	int fd4, fd6;	  /* flows4, flows6 */
	int agg_fd;	  /* flow_agg */
	int listeners_fd; /* listeners: UDP receivers the kernel did not name */
	__u64 idle_ns;	  /* a flow without packets this long ends */
	__u64 agg_ns;	  /* aggregation interval, 0: off */
	flow_out_fn out;
	agg_out_fn agg_out;
	flow_holder_fn holder;
	agg_since_fn agg_since;
	void *arg;
};

struct flow_table *flows_new(const struct flows_opts *o);
void flows_free(struct flow_table *t);
/* A PS_EV_FLOW_END or PS_EV_FLOW_UPDATE event (of the checked size). */
void flows_event(struct flow_table *t, const struct ps_flow_event *e);
/* A failed-connect notice: names the refused flow it belongs to. */
void flows_connect_failed(struct flow_table *t, const struct ps_sock_event *e);
/* Once a second (at least): sweeps of the kernel's tables when due,
 * refused connects whose notice did not come, aggregation intervals. */
void flows_tick(struct flow_table *t, __u64 now);
/* At exit: the last sweep and aggregates; `stopping` says the tables go
 * with the daemon (no --keep-pins): live flows get a last, non-final
 * record (reason "stopped"). */
void flows_stop(struct flow_table *t, bool stopping);
const struct flow_stats *flows_stats(const struct flow_table *t);

#endif
