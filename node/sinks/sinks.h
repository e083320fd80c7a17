/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where finished record lines go: the node export, once, and the log of
 * every pod the record is about (a flow between two pods of the node is
 * in both pods' logs), and past the metrics, which count them, and the
 * local API, which serves them to its clients.
 */
#ifndef PS_NODE_SINKS_H
#define PS_NODE_SINKS_H

#include <stddef.h>
#include <linux/types.h>

#include "node/records/records.h"
#include "node/sinks/api.h"
#include "node/sinks/export.h"
#include "node/sinks/metrics.h"
#include "node/sinks/podlog.h"

struct sinks {
	struct exporter out;
	struct podlog *podlog; /* NULL: no per-pod logs */
	struct record_ctx *rc;
	struct metrics *metrics; /* NULL: no --metrics */
	struct api *api;	 /* NULL: no local API */
};

/* One record line (no newline): to the export, and to the logs of the
 * pods of netns a and b (0: none; b == a counts once). */
void sinks_write(struct sinks *s, const char *line, size_t len, __u32 netns_a,
		 __u32 netns_b);
void sinks_flush(struct sinks *s);
/* SIGHUP: reopen the export and the pod logs. */
void sinks_reopen(struct sinks *s);

#endif
