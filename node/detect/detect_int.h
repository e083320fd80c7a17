/* SPDX-License-Identifier: GPL-2.0-only */
/* The detection engine's state, shared by node/detect.c (trees, pods,
 * alerts, persistence) and node/rules.c (the rules). */
#ifndef PS_NODE_DETECT_INT_H
#define PS_NODE_DETECT_INT_H

#include <stdbool.h>
#include <json-c/json.h>
#include <linux/types.h>

#include "node/detect/seen.h"
#include "node/detect/config.h"
#include "node/detect/detect.h"
#include "node/records/flow.h"
#include "node/sinks/export.h"

#define DET_ID 96
#define DET_KEY 336
#define DET_HASH 4096
#define DET_CONNS 256	/* recent connections kept per pod */
#define DET_FOOTHOLDS 8 /* recent footholds kept per pod */
#define DET_EVIDENCE 8	/* connections kept as evidence per foothold */

struct dproc {
	char id[DET_ID], parent[DET_ID];
	char binary[256];
	char tool[64]; /* basename, or the busybox applet */
	char args[512]; /* space-joined */
	struct json_object *brief; /* {exec_id, pid, binary, args} */
	__u64 ktime;		   /* exec time, boot clock */
	__u32 pid, netns;
	bool exec_into;	/* entered from outside the pod (kubectl exec) */
	bool first;	/* the container's first process */
	bool exited;
	bool persisted;	/* restored from the state file */
	int foothold;	/* enum det_rule that made it a foothold, or -1 */
	__u64 foothold_ns;
	char c2[80];	/* "ip:port" its arguments connect to, if any */
	struct json_object *c2_conns; /* connections to c2 (evidence) */
	__u64 gone_ns;
	struct dproc *next;
};

/* A connection, normalised from a connect or a flow record. */
struct dconn {
	const char *proto, *dst_ip, *src_ip;
	int dst_port, src_port;
	bool internal;	/* to a pod of this node or a private address */
	bool pod_peer;	/* to a known pod */
	bool refused;	/* answered by RST (final flow record) */
	const char *peer_pod; /* "namespace/name" of the peer pod */
	struct dproc *proc;   /* the process, when the record names it */
	const struct conn_rec *rec; /* the record */
	struct dpod *pod;	    /* its pod */
	/* {source, time, protocol, src, dst}: det_conn_evidence() */
	struct json_object *evidence;
};

struct dconn_seen {
	__u64 ns;
	char tree[DET_ID];
	char peer[96];
	bool refused;
};

struct dpod {
	__u32 netns;
	char key[DET_KEY]; /* "namespace/name", or "netns:INO" */
	char ns[64], name[256];
	struct json_object *pod; /* the last "pod" object seen */
	__u64 first_ns;		 /* boot clock: learning starts */
	__u64 last_ns;		 /* boot clock: last record */
	char **peers;		 /* learned baseline "peer:port/proto" */
	int npeers, cap;
	int live;		 /* live processes seen */
	char first_exec[DET_ID];
	char foothold[DET_FOOTHOLDS][DET_ID]; /* most recent first */
	struct dconn_seen seen[DET_CONNS];
	int nseen;
	/* learned destinations as addresses: exceptions of a quarantine */
	struct { char ip[64]; int port; __u8 proto; } learned[64];
	int nlearned;
	__u64 quarantined_ns; /* boot clock; 0: not quarantined */
	struct dpod *next;
};

struct dalert {
	char id[64];
	int rule;
	char pod[DET_KEY];
	char tree[DET_ID];
	__u64 first_ns, last_ns; /* boot clock */
	__u32 count;
	__u32 netns;
	struct dalert *next;
};

struct deny_entry {
	__u8 key[24]; /* struct ps_deny_key */
	__u64 expire_ns;
	struct deny_entry *next;
};

struct detect {
	struct detect_opts o;
	int deny_fd; /* the kernel's deny map, -1 when not available */
	struct deny_entry *denies;
	const struct det_config *cfg;
	struct exporter alerts;
	bool alerts_open;
	struct dproc *procs[DET_HASH];
	struct dpod *pods;
	struct dalert *alerts_list;
	struct seen_set flows_seen; /* flow key -> boot ns */
	bool dirty;
	__u64 last_save_ns;
	unsigned long long n_alerts, seq;
	int n_persisted; /* processes restored from the state file */
	/* the kernel's detection maps (-1: not open) */
	int peers_fd, marks_fd, procs_fd;
	unsigned long long peers_errors, marks_errors;
	__u64 last_foothold_ns; /* 0: none yet */
};

/* snprintf that may cut (names and summaries are cut, never overrun). */
void det_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* detect.c: trees and pods */
/* The evidence object of a connection, built on first use. */
struct json_object *det_conn_evidence(struct detect *d, struct dconn *c);
struct dproc *det_proc(struct detect *d, const char *id);
/* The parent in the same pod, or NULL. */
struct dproc *det_parent(struct detect *d, const struct dproc *p);
/* The root of p's process tree: the child of the container's first
 * process (or the first process itself, or an exec-into root). */
struct dproc *det_tree_root(struct detect *d, struct dproc *p);
/* The nearest ancestor-or-self foothold within the chain window. */
struct dproc *det_foothold_of(struct detect *d, struct dproc *p, __u64 now);
/* The pod's most recent foothold within the chain window. */
struct dproc *det_pod_foothold(struct detect *d, struct dpod *pod, __u64 now);
void det_pod_add_foothold(struct dpod *pod, const struct dproc *p);
bool det_pod_learning(const struct detect *d, const struct dpod *pod, __u64 now);
bool det_baseline_has(const struct dpod *pod, const char *peer);
void det_baseline_add(struct detect *d, struct dpod *pod, const char *peer);
bool det_allowed(const struct detect *d, int rule, const struct dpod *pod,
		 const struct dproc *p);

/* detect.c: alerts. Opens (or counts a repeat of) `rule` on the tree of
 * p in pod; takes ownership of evidence. Returns true when a new alert
 * record was written. */
bool det_alert(struct detect *d, int rule, struct dpod *pod, struct dproc *p,
	       struct dproc *tree, const char *summary,
	       struct json_object *evidence, __u64 now);

/* enforce.c: opt-in enforcement through the XDP deny map, for pods whose
 * CNI config has enforce (PS_POD_ENFORCE). */
void enforce_open(struct detect *d, const char *bpffs);
/* Quarantine the pod: its packets to other pods of this node are dropped,
 * except to the destinations it learned. Returns true when enforced. */
bool enforce_quarantine(struct detect *d, struct dpod *pod, __u64 now);
/* Drop what the pod sends to this destination. */
bool enforce_deny_conn(struct detect *d, struct dpod *pod,
		       const struct dconn *c, __u64 now);
void enforce_expire(struct detect *d, __u64 now, bool all);

/* detect.c: mark p's tree in the kernel (marks map): p and its live
 * descendants; their children inherit the mark at fork. */
void det_mark_tree(struct detect *d, struct dproc *p);

/* rules.c */
/* The baseline's name of a connection's peer: "pod NS/NAME:PORT/PROTO"
 * for a pod of the node, else "IP:PORT/PROTO". */
void rules_peer_fmt(const struct dconn *c, char *out, size_t len);
/* The network tool / applet name of an exec (basename, busybox applet). */
void rules_tool_name(const char *binary, const char *argv0, const char *argv1,
		     char *out, size_t len);
/* A new process in a pod (p is in the table, its tree linked). */
void rules_exec(struct detect *d, struct dpod *pod, struct dproc *p, __u64 now);
/* A new connection of a pod. */
void rules_connection(struct detect *d, struct dpod *pod, struct dconn *c,
		      __u64 now);

#endif
