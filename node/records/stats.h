/* SPDX-License-Identifier: GPL-2.0-only */
/* The stats record and the lost record (see README.md, Records). */
#ifndef PS_NODE_RECORDS_STATS_H
#define PS_NODE_RECORDS_STATS_H

#include "node/records/records.h"
#include "node/state/flows.h"
#include "node/state/sockets.h"

struct stats_view {
	const struct flow_stats *flows;
	const struct socket_stats *sockets;
	unsigned long long unwritten; /* records not built: out of memory */
	unsigned long long lines, bytes; /* written to the node export */
};

void stats_record_w(struct record_ctx *rc, struct jw *w,
		    const struct stats_view *v, __u64 ktime);
/* {"lost": {reason, count, total}} */
void lost_record_w(struct record_ctx *rc, struct jw *w, const char *reason,
		   unsigned long long count, unsigned long long total,
		   __u64 ktime);

#endif
