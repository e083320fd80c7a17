/* SPDX-License-Identifier: GPL-2.0-only */
/* JSON-lines outputs: the node-wide export and, later, per-pod logs and
 * the alerts stream. A path of "-" is stdout. */
#ifndef PS_NODE_EXPORT_H
#define PS_NODE_EXPORT_H

#include <stdio.h>
#include <json-c/json.h>

struct exporter {
	char *path;
	FILE *f;
	unsigned long long records;
	unsigned long long write_errors;
};

/* Open (append) the output; returns 0 or negative errno. */
int exporter_open(struct exporter *e, const char *path);
/* Reopen the same path (log rotation on SIGHUP). */
int exporter_reopen(struct exporter *e);
/* Write one record as a line. */
void exporter_write(struct exporter *e, struct json_object *rec);
/* Write one serialised record (len bytes, no newline) as a line. */
void exporter_write_line(struct exporter *e, const char *line, size_t len);
void exporter_flush(struct exporter *e);
void exporter_close(struct exporter *e);

#endif
