/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Detection: fed the daemon's decoded events (execs with the kernel's
 * facts about their stdio, exits, the socket programs' connection
 * notices, flow views), it keeps each pod's process trees and learned
 * peers, runs the rules (behaviours over those facts, README.md) and
 * writes "alert" records with their evidence. What it learns goes back
 * into the kernel: the pods' known peers (peers map: no notice for them)
 * and the trees of footholds (marks map: every connection a notice). The
 * baselines and the open alerts persist in a state file.
 */
#ifndef PS_NODE_DETECT_H
#define PS_NODE_DETECT_H

#include <stddef.h>
#include <linux/types.h>

#include "node/detect/config.h"
#include "node/records/flow.h"
#include "node/records/records.h"

#define DETECT_STATE_DEFAULT "/var/lib/podsentry/detect-state.json"

struct detect;

/* An alert record line (no newline) for the daemon's sinks; netns is its
 * pod's. */
typedef void (*detect_emit_fn)(void *arg, const char *line, size_t len,
			       __u32 netns);

struct detect_opts {
	const struct det_config *cfg;
	struct record_ctx *rc;
	const char *alerts_path; /* NULL: no separate alerts stream */
	const char *state_file;	 /* NULL: nothing persists */
	const char *bpffs;	 /* pinned maps; NULL: none (tests) */
	detect_emit_fn emit;
	void *arg;
};

struct detect_counters {
	unsigned long long alerts;	/* alert records written */
	unsigned long long repeats;	/* occurrences counted on open ones */
	unsigned long long footholds;
	unsigned long long marks;	/* processes marked in the kernel */
	unsigned long long peers;	/* peers entries written */
	unsigned long long map_errors;	/* kernel map updates that failed */
	unsigned long long procs, pods;	/* tracked now */
	unsigned long long state_errors; /* state file loads/saves failed */
};

/* NULL with *err (negative errno) and a message on stderr. */
struct detect *detect_new(const struct detect_opts *o, int *err);
/* A new exec (the process cache's entry, with the kernel's facts). */
void detect_exec(struct detect *d, struct proc *p);
/* An exec ended (its process exited). */
void detect_exit(struct detect *d, const struct ps_exec_id *id, __u32 netns);
/* A connection notice of the socket programs. */
void detect_conn(struct detect *d, const struct conn_rec *c);
/* A flow record: what notices could not show (see engine.c). */
void detect_flow(struct detect *d, const struct flow_view *v);
/* Once a second: close idle alerts, expire denies, forget what is old,
 * save the state file when it changed. */
void detect_tick(struct detect *d);
/* Reopen the alerts file (SIGHUP). */
void detect_reopen(struct detect *d);
const struct detect_counters *detect_counters(struct detect *d);

/* An open alert, as detection keeps it (its record has the rest). */
struct detect_alert_view {
	const char *id, *rule, *severity, *pod, *target; /* pod: "ns/name" */
	unsigned int count;
	__u64 first_ns, last_ns; /* boot clock */
	__u32 netns;
	/* the alert's opening record (process, chain, evidence), or NULL */
	const char *record;
	size_t record_len;
};
/* Every open alert. */
void detect_alerts_each(struct detect *d,
			void (*fn)(void *arg, const struct detect_alert_view *a),
			void *arg);
/* Saves the state file and frees everything. */
void detect_free(struct detect *d);

#endif
