/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The flow record: one per connection on the node (and, for a long one,
 * periodic updates), naming both ends with their pods and processes; and
 * the aggregate record that folds the short connections of an interval.
 * What a record says is first decoded into a struct flow_view (or
 * struct agg_view) by node/state/flows.c; detection reads the same view.
 */
#ifndef PS_NODE_RECORDS_FLOW_H
#define PS_NODE_RECORDS_FLOW_H

#include <stdbool.h>
#include <linux/types.h>

#include "podsentry.h"
#include "node/records/records.h"

/* One flow as a record tells it. Sides are the key's (0, 1); src is the
 * side that opened it (or the best guess when opened_known is false). */
struct flow_view {
	struct ps_flow_key key;
	struct ps_flow f;
	int src;
	bool opened_known;
	__u32 netns[2];	      /* pods of this node at each side, 0: none */
	struct proc *proc[2]; /* the process of each side, NULL: unknown */
	struct proc *holder[2]; /* a later exec reading the socket (nc -e) */
	__u64 ktime;	      /* the record's time */
	const char *reason;   /* "fin", "rst", "idle", "evicted", "periodic" */
	bool final;
	bool refused; /* a TCP connect answered by RST */
	bool failed;  /* a TCP connect never answered */
};

/* The side of v whose pod the record is filed under: src when it is a
 * pod of the node, else dst; src when neither end is a pod. */
static inline int flow_view_pod_side(const struct flow_view *v)
{
	return v->netns[v->src] || !v->netns[!v->src] ? v->src : !v->src;
}

/* The short connections of one interval from one pod's process to one
 * peer and port (struct ps_agg, and those the daemon folded itself). */
struct agg_view {
	struct ps_agg_key key;
	struct ps_agg a;
	__u32 netns;	  /* the pod */
	__u32 peer_netns; /* the peer's pod, 0: none */
	struct proc *proc, *peer_proc;
	__u64 ktime, interval_ns;
};

void flow_record_w(struct record_ctx *rc, struct jw *w,
		   const struct flow_view *v);
void agg_record_w(struct record_ctx *rc, struct jw *w,
		  const struct agg_view *a);

/* "tcp", "udp", … or the number */
const char *ip_proto_name(__u8 proto, char *buf, size_t len);

#endif
