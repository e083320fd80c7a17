// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>

#include "node/records/stats.h"

/* A share as JSON: 1, or 0.xxxx */
static void share_w(struct jw *w, const char *key, unsigned long long part,
		    unsigned long long total)
{
	char buf[32];
	int n;

	if (!total || part >= total) {
		jw_int(w, key, 1);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%.6g", (double)part / total);
	jw_raw(w, key, buf, n);
}

void stats_record_w(struct record_ctx *rc, struct jw *w,
		    const struct stats_view *v, __u64 ktime)
{
	const struct flow_stats *f = v->flows;
	const struct socket_stats *s = v->sockets;
	unsigned long long total = f->with_process + f->without_process;

	record_head_w(rc, w, "stats", ktime);
	jw_obj(w, "stats");
	jw_obj(w, "flows");
	jw_uint(w, "ended", total);
	jw_uint(w, "with_process", f->with_process);
	jw_uint(w, "without_process", f->without_process);
	jw_uint(w, "named_by_daemon", f->named_by_daemon);
	share_w(w, "attribution", f->with_process, total);
	jw_uint(w, "updates", f->updates);
	jw_uint(w, "idle", f->idle);
	jw_uint(w, "evicted", f->evicted);
	jw_uint(w, "recovered", f->recovered);
	jw_uint(w, "aggregated", f->aggregated);
	jw_uint(w, "aggregate_records", f->agg_records);
	jw_obj_end(w);
	jw_obj(w, "sockets");
	jw_uint(w, "connect", s->connects);
	jw_uint(w, "connect_failed", s->connects_failed);
	jw_uint(w, "accept", s->accepts);
	jw_uint(w, "udp", s->udp);
	jw_uint(w, "listen", s->listens);
	jw_uint(w, "inherit", s->inherits);
	jw_uint(w, "notices", s->notices);
	jw_uint(w, "quiet", s->quiet);
	jw_uint(w, "open", s->open);
	jw_obj_end(w);
	jw_obj(w, "export");
	jw_uint(w, "records", v->export.lines);
	jw_uint(w, "bytes", v->export.bytes);
	jw_uint(w, "dropped", v->export.dropped);
	jw_uint(w, "dropped_bytes", v->export.dropped_bytes);
	jw_uint(w, "write_failures", v->export.episodes);
	jw_uint(w, "unwritten", v->unwritten);
	jw_obj_end(w);
	jw_obj(w, "pod_logs");
	jw_uint(w, "records", v->podlogs.lines);
	jw_uint(w, "dropped", v->podlogs.dropped);
	jw_uint(w, "write_failures", v->podlogs.episodes);
	jw_obj_end(w);
	jw_obj(w, "tables");
	jw_uint(w, "processes", v->processes);
	jw_uint(w, "detect_processes", v->detect_processes);
	jw_uint(w, "detect_pods", v->detect_pods);
	jw_obj_end(w);
	jw_obj_end(w);
	jw_obj_end(w);
}
