/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * JSON-lines outputs: the node-wide export and the alerts stream. A path
 * of "-" is stdout. Lines reach the file whole or not at all (lines.h):
 * when writing fails, lines are dropped and counted, one stderr line
 * tells when that starts and one when it ends, and when writing works
 * again a "lost" record (reason export_write) says how many were lost.
 */
#ifndef PS_NODE_EXPORT_H
#define PS_NODE_EXPORT_H

#include "node/records/jw.h"
#include "node/sinks/lines.h"

struct record_ctx;

struct exporter {
	char *path;
	struct lines out;
	unsigned long long records;	 /* lines written */
	unsigned long long write_errors; /* records not written */
	const struct record_ctx *rc;	 /* for lost records; NULL: none */
	struct lines_episode ep;
};

/* Open (append) the output, a new file with mode 0640; returns 0 or
 * negative errno. */
int exporter_open(struct exporter *e, const char *path);
/* Reopen the same path (log rotation on SIGHUP); on failure the old
 * file is kept and a negative errno returned. */
int exporter_reopen(struct exporter *e);
/* Lines dropped by a failing write are told by a lost record, written
 * into this output first when writing works again. */
void exporter_report_lost(struct exporter *e, const struct record_ctx *rc);
/* Write one serialised record (len bytes, no newline) as a line. */
void exporter_write_line(struct exporter *e, const char *line, size_t len);
void exporter_flush(struct exporter *e);
void exporter_close(struct exporter *e);
/* Lines written and dropped, episodes of failing writes. */
struct sink_counters exporter_counters(const struct exporter *e);


#endif
