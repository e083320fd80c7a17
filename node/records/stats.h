/* SPDX-License-Identifier: GPL-2.0-only */
/* The stats record (see README.md, Records). */
#ifndef PS_NODE_RECORDS_STATS_H
#define PS_NODE_RECORDS_STATS_H

#include "node/records/records.h"
#include "node/sinks/lines.h"
#include "node/state/flows.h"
#include "node/state/sockets.h"

struct stats_view {
	const struct flow_stats *flows;
	const struct socket_stats *sockets;
	unsigned long long unwritten; /* records not built: out of memory */
	struct sink_counters export, podlogs; /* written, dropped, episodes */
	/* what the daemon's tables hold now: the process cache, and
	 * detection's processes and pods */
	unsigned long long processes, detect_processes, detect_pods;
};

void stats_record_w(struct record_ctx *rc, struct jw *w,
		    const struct stats_view *v, __u64 ktime);

#endif
