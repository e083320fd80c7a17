/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-pod logs: DIR/<namespace>/<pod>.log holds the JSON records of one
 * pod (its processes, flows and alerts). Names are any bytes (CNI_ARGS):
 * each is made a safe file name that reads back to it, with control
 * characters, bytes that are not UTF-8, '/', '%', '~', space and a
 * leading '.' or '_' written %XX (so no name is ".", ".." or hidden);
 * "_" is an empty name and "_unnamed/netns-N.log" a pod that no state
 * file names yet; a name whose escaped form passes 200 bytes is cut and
 * ends with '~' and 16 hex digits of a hash of the whole name.
 * Lines are written whole (lines.h); when writing fails they are dropped
 * and counted, one stderr line tells when that starts and one when it
 * ends, and each pod's log gets a "lost" record (reason podlog_write)
 * with what it lost when writing works again.
 */
#ifndef PS_NODE_PODLOG_H
#define PS_NODE_PODLOG_H

#include <json-c/json.h>
#include <linux/types.h>

#include "node/records/records.h"
#include "node/sinks/lines.h"

struct podlog;

/* NULL with *err set when DIR cannot be created (mode 0750). */
struct podlog *podlog_new(const char *dir, int *err);
/* One serialised record (no newline) to the log of the pod of netns. */
void podlog_write_line(struct podlog *pl, const struct record_ctx *rc,
		       __u32 netns, const char *line, size_t len);
void podlog_flush(struct podlog *pl);
/* Close every file; they reopen on the next record (log rotation). */
void podlog_reopen(struct podlog *pl);
void podlog_free(struct podlog *pl);
/* Lines written and dropped over all pods, episodes of failing writes. */
struct sink_counters podlog_counters(const struct podlog *pl);

#endif
