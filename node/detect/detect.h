/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The detection engine: fed every record the daemon writes, it keeps each
 * pod's process trees (exec id -> parent, binary, args; the container's
 * first process) and the connections of each tree, runs the rules
 * (node/rules.c) and writes "alert" records with their evidence. The
 * learned east-west baseline and the open alerts persist in a state file.
 */
#ifndef PS_NODE_DETECT_H
#define PS_NODE_DETECT_H

#include <json-c/json.h>
#include <linux/types.h>

#include "node/detect/config.h"
#include "node/records/flow.h"
#include "node/records/records.h"

#define DETECT_STATE_DEFAULT "/var/lib/podsentry/detect-state.json"

struct detect;

/* emit(arg, record, netns of the pod): the daemon's writer (node export
 * and pod log); it takes the engine's reference on the record. */
typedef void (*detect_emit_fn)(void *arg, struct json_object *rec, __u32 netns);

struct detect_opts {
	const struct det_config *cfg;
	struct record_ctx *rc;
	const char *alerts_path; /* NULL: no separate alerts stream */
	const char *state_file;	 /* NULL: nothing persists */
	const char *bpffs;	 /* pinned maps (the deny map); NULL: none */
	detect_emit_fn emit;
	void *arg;
};

/* NULL with *err (negative errno) and a message on stderr. */
struct detect *detect_new(const struct detect_opts *o, int *err);
/* A new exec (the process cache's entry). */
void detect_exec(struct detect *d, struct proc *p);
/* An exec ended (its process exited). */
void detect_exit(struct detect *d, const struct ps_exec_id *id, __u32 netns);
/* A connection notice of the socket programs. */
void detect_conn(struct detect *d, const struct conn_rec *c);
/* A flow record: what notices could not show (see detect.c). */
void detect_flow(struct detect *d, const struct flow_view *v);
/* Once a second: close idle alerts, forget old state, save the state
 * file when it changed. */
void detect_tick(struct detect *d);
/* Reopen the alerts file (SIGHUP). */
void detect_reopen(struct detect *d);
/* Saves the state file and frees everything. */
void detect_free(struct detect *d);
unsigned long long detect_alerts(const struct detect *d);

#endif
