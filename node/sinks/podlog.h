/* SPDX-License-Identifier: GPL-2.0-only */
/* Per-pod logs: DIR/<namespace>/<pod>.log holds the JSON records of one
 * pod (its processes, flows and alerts). */
#ifndef PS_NODE_PODLOG_H
#define PS_NODE_PODLOG_H

#include <json-c/json.h>
#include <linux/types.h>

#include "node/records/records.h"

struct podlog;

/* NULL with *err set when DIR cannot be created. */
struct podlog *podlog_new(const char *dir, int *err);
/* One serialised record (no newline) to the log of the pod of netns. */
void podlog_write_line(struct podlog *pl, const struct record_ctx *rc,
		       __u32 netns, const char *line, size_t len);
void podlog_flush(struct podlog *pl);
/* Close every file; they reopen on the next record (log rotation). */
void podlog_reopen(struct podlog *pl);
void podlog_free(struct podlog *pl);
unsigned long long podlog_errors(const struct podlog *pl);

#endif
