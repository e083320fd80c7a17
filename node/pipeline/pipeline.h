/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's stages joined: each decoded ring-buffer record goes
 * through the state tables (processes, flows, sockets), its record
 * writer, the sinks and detection, in that order. node/main.c builds the
 * stages and hands them to this; the event fuzz target runs the same
 * path without the BPF programs.
 */
#ifndef PS_NODE_PIPELINE_H
#define PS_NODE_PIPELINE_H

#include <linux/types.h>

#include "node/detect/detect.h"
#include "node/kern/events.h"
#include "node/records/records.h"
#include "node/sinks/sinks.h"
#include "node/state/flows.h"
#include "node/state/proc_cache.h"
#include "node/state/sockets.h"

struct pipeline {
	struct record_ctx *rc;
	struct sinks *sinks;
	struct proc_cache *procs;
	struct flow_table *flows;
	struct sockets *sockets;
	struct detect *detect; /* NULL: no detection */
	struct jw w;	       /* process, flow, stats and lost records */
	unsigned long long unwritten; /* records lost to memory */
	/* tell the kernel when flow_agg was read (NULL: no programs) */
	void (*agg_since)(void *arg, __u64 ns);
	void *agg_arg;
};

/* The ring buffer's handlers (struct events.h) for pl. */
struct event_handlers pipeline_handlers(struct pipeline *pl);
/* The callbacks of the flow table and of the sockets, and detection's
 * alert output, into pl (the other members of the options stay). */
void pipeline_flows_opts(struct pipeline *pl, struct flows_opts *o);
void pipeline_sockets_opts(struct pipeline *pl, struct sockets_opts *o);
void pipeline_detect_opts(struct pipeline *pl, struct detect_opts *o);
/* A finished record line in w to the sinks (netns a, b: the pods it is
 * about, 0 none); counted as unwritten when w ran out of memory. */
void pipeline_line(struct pipeline *pl, struct jw *w, __u32 netns_a,
		   __u32 netns_b);

#endif
