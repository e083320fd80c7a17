/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The detection engine's state, shared by its parts and by nothing else:
 *   engine.c   the inputs (decoded execs, exits, connection notices, flow
 *              views), the process trees and the pods, the kernel's
 *              detection maps (peers, marks); it asks the rules and hands
 *              their verdicts on;
 *   rules.c    the rules: behaviours stated over the kernel's facts, each
 *              returning verdicts with their evidence;
 *   alerts.c   verdicts into alert records (deduplicated, repeats counted,
 *              closed), written with jw;
 *   persist.c  the state file: baselines, open alerts and their trees;
 *   enforce.c  what a verdict with action deny does (the XDP deny map).
 * Calls go engine -> rules, engine -> alerts, alerts -> enforce, and
 * engine/alerts -> persist; never back.
 */
#ifndef PS_NODE_DETECT_ENGINE_H
#define PS_NODE_DETECT_ENGINE_H

#include <stdbool.h>
#include <linux/types.h>

#include "podsentry.h"
#include "node/detect/config.h"
#include "node/detect/detect.h"
#include "node/detect/seen.h"
#include "node/records/jw.h"
#include "node/sinks/export.h"

#define NS_PER_S 1000000000ULL
#define DET_KEY 560	   /* "namespace/name" (each up to 255 bytes) */
#define DET_PROC_HASH 8192 /* buckets of the process table */
#define DET_PROCS_MAX 65536 /* processes kept (live ones always) */
#define DET_PODS_MAX 1024   /* pods kept past a DEL for their baseline
			     * (registered ones always) */
#define DET_FOOTHOLDS 8	   /* recent footholds kept per pod */
#define DET_SCAN 256	   /* recent (tree, peer) pairs per pod, for scans */
#define DET_LEARNED 64	   /* learned destinations kept per pod (enforcement) */
#define DET_WHY 160	   /* bytes of a foothold's why */
#define DET_EVIDENCE 8	   /* connections kept as evidence per foothold */

/* A connection as the rules see it: from a notice of the socket programs
 * or a flow record. Strings are valid during the call only. */
struct dconn {
	const struct conn_rec *rec;
	const char *proto;
	const char *src_ip, *dst_ip; /* src_ip NULL: unknown (UDP source) */
	int src_port, dst_port;	     /* 0: none */
	__u8 family, proto_num;
	union ps_addr dst_addr;
	bool internal;	    /* to a pod of this node or a private address */
	bool refused;	    /* answered by RST */
	__u32 dst_netns;    /* the peer's pod, 0: none */
	const char *peer_pod; /* "namespace/name" of the peer's pod, or NULL */
	char peer[DET_KEY + 32]; /* the baseline's name of the peer */
	struct dproc *proc;	 /* the process that opened it, when known */
	struct dpod *pod;	 /* the pod that opened it */
	bool from_flow;		 /* a flow record, not a notice */
};

/* The socket a foothold talks to the outside through: its peer. */
struct dchannel {
	bool known;
	__u8 family, proto; /* AF_*, IPPROTO_* */
	union ps_addr addr;
	__u16 port;	    /* host order */
	__u16 lport;	    /* the pod's end */
	union ps_addr laddr;
	__u64 ktime;	    /* when it was seen */
};

struct dproc {
	struct ps_exec_id id, parent;
	__u64 ktime; /* exec time, boot clock */
	__u32 pid, netns;
	char *binary;	   /* exact bytes (jw escapes what is not text) */
	char *args;	   /* NUL-separated */
	__u32 args_len;
	char tool[64];	   /* basename, or the busybox applet */
	char *brief;	   /* {exec_id, pid, binary, args} as JSON text */
	size_t brief_len;
	__u32 exec_flags;  /* enum ps_exec_flags */
	struct ps_fd_fact stdio[3], parent_sock;
	bool procfs;	   /* known from /proc, not seen at its exec */
	bool first;	   /* the container's first process */
	bool exec_into;	   /* entered the pod from outside (kubectl exec) */
	bool exited, persisted;
	bool holds_live;   /* reaping: the ancestor of a live process */
	/* a foothold: the rule that found it and what it talks through */
	int foothold;	   /* enum det_rule, or -1 */
	__u64 foothold_ns;
	struct dchannel channel;
	char *why;	   /* the facts that made it one (DET_WHY bytes, made
			    * for footholds only: dproc_why) */
	__u64 gone_ns;
	struct dproc *next;
};

struct dscan {
	__u64 ns;
	struct ps_exec_id tree;
	__u64 peer_hash;
	bool refused;
};

struct dpod {
	__u32 netns;
	char key[DET_KEY]; /* "namespace/name", or "netns:INO" */
	char ns[256], name[256];
	__u64 first_ns;	   /* boot clock: learning starts */
	__u64 last_ns;	   /* boot clock: last seen */
	/* the baseline: peers (and binary@peer for sensitive services) */
	char **peers;
	int npeers, cap;
	struct seen_set peer_set; /* hashes of peers, for the lookups */
	int live;		  /* live processes seen */
	struct ps_exec_id first_exec;
	struct ps_exec_id footholds[DET_FOOTHOLDS]; /* most recent first */
	struct dscan *scan;	  /* DET_SCAN entries, made on first use */
	int nscan;
	struct { union ps_addr addr; __u8 family, proto; __u16 port; } learned[DET_LEARNED];
	int nlearned;
	__u64 quarantined_ns;	  /* 0: not quarantined */
	struct dpod *next;
};

/* What a rule concluded: the rule, the process and tree it is about, the
 * alert's summary and evidence (JSON text of the evidence object's
 * members, without braces), and for lateral movement the target. */
struct verdict {
	int rule;
	struct dpod *pod;
	struct dproc *proc, *tree;
	char summary[1024];
	struct jw evidence;	/* members of "evidence", built by the rule */
	char target[DET_KEY + 32]; /* dedup key beside the tree ("" none) */
	bool pod_wide;		/* deduplicated per pod and target, not tree */
	const struct dconn *conn;  /* the connection, for a deny */
};

struct dalert {
	char id[64];
	int rule;
	char pod[DET_KEY];
	struct ps_exec_id tree;
	char target[DET_KEY + 32];
	__u64 first_ns, last_ns; /* boot clock */
	__u32 count;
	__u32 netns;
	/* the opening record, with the chain: what "alerts" shows, kept
	 * over a restart in the state file */
	char *record;
	size_t record_len;
	struct dalert *next;
};

struct deny_entry {
	__u8 key[24]; /* struct ps_deny_key */
	__u64 expire_ns;
	struct deny_entry *next;
};

struct detect {
	struct detect_opts o;
	const struct det_config *cfg;
	struct exporter alerts_out;
	bool alerts_open;
	struct jw w; /* alert records */
	struct dproc *procs[DET_PROC_HASH];
	unsigned int n_procs;
	struct dpod *pods;
	unsigned int n_pods;
	struct dalert *alerts;
	struct seen_set conns_seen; /* notices, so their flows do not count twice */
	int peers_fd, marks_fd, procs_fd, deny_fd; /* the kernel's maps, -1 */
	struct deny_entry *denies;
	__u64 last_foothold_ns;
	__u64 last_reap_ns, last_save_ns;
	bool dirty;
	int n_persisted;
	unsigned long long n_alerts, seq;
	struct detect_counters c;
};

/* engine.c */
struct dproc *det_proc(struct detect *d, const struct ps_exec_id *id);
struct dproc *det_parent(struct detect *d, const struct dproc *p);
/* The root of p's tree: the child of the container's first process (or
 * the first process itself, or the process that entered the pod). */
struct dproc *det_tree_root(struct detect *d, struct dproc *p);
/* The nearest ancestor-or-self foothold of p within the chain window. */
struct dproc *det_foothold_of(struct detect *d, struct dproc *p, __u64 now);
/* The pod's most recent foothold within the chain window. */
struct dproc *det_pod_foothold(struct detect *d, struct dpod *pod, __u64 now);
bool det_pod_learning(const struct detect *d, const struct dpod *pod, __u64 now);
bool det_baseline_has(const struct dpod *pod, const char *peer);
void det_baseline_add(struct detect *d, struct dpod *pod, const char *peer);
/* A new foothold: its tree marked in the kernel, the pod told. */
void det_foothold(struct detect *d, struct dpod *pod, struct dproc *p,
		  int rule, __u64 now);
/* A foothold read from the state file (found at `at`). */
void det_foothold_restore(struct detect *d, struct dpod *pod, struct dproc *p,
			  int rule, __u64 at);
/* Every process and pod forgotten (a state file that failed part-way). */
void det_forget_all(struct detect *d);
struct dpod *det_pod_by_key(struct detect *d, const char *key);
struct dproc *det_proc_restore(struct detect *d, const struct ps_exec_id *id,
			       const struct ps_exec_id *parent, __u32 netns,
			       const char *binary, const char *args,
			       __u32 args_len);
struct dpod *det_pod_restore(struct detect *d, const char *key);
/* "node:ktime:pid" */
void det_exec_id_fmt(const struct detect *d, const struct ps_exec_id *id,
		     char *buf, size_t len);
bool det_exec_id_parse(const char *s, struct ps_exec_id *id);
/* snprintf that may cut (names and summaries are cut, never overrun). */
void det_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* rules.c: each appends its verdicts through emit (alerts.c). */
typedef void (*verdict_fn)(struct detect *d, struct verdict *v, __u64 now);
/* The tool name of an exec: basename, or the busybox applet. */
void rules_tool_name(const char *binary, const char *args, __u32 args_len,
		     char *out, size_t len);
void rules_exec(struct detect *d, struct dpod *pod, struct dproc *p,
		__u64 now, verdict_fn emit);
void rules_connection(struct detect *d, struct dpod *pod, struct dconn *c,
		      __u64 now, verdict_fn emit);
/* The baseline's name of a connection's peer. */
void rules_peer_fmt(const struct dconn *c, char *out, size_t len);
bool rules_sensitive(const struct det_config *cfg, const struct dconn *c);
/* JSON helpers the rules and the alerts share */
void ev_conn_w(struct detect *d, struct jw *w, const char *key,
	       const struct dconn *c, __u64 ktime);
void ev_channel_w(struct detect *d, struct jw *w, const char *key,
		  const struct dproc *fh);
void ev_brief_w(struct jw *w, const char *key, const struct dproc *p);

/* alerts.c */
void alerts_verdict(struct detect *d, struct verdict *v, __u64 now);
void alerts_expire(struct detect *d, __u64 now);
void alerts_free(struct detect *d);

/* persist.c */
int persist_load(struct detect *d);
int persist_save(struct detect *d);

/* enforce.c */
void enforce_open(struct detect *d, const char *bpffs);
bool enforce_quarantine(struct detect *d, struct dpod *pod, __u64 now);
bool enforce_deny_conn(struct detect *d, struct dpod *pod,
		       const struct dconn *c, __u64 now);
void enforce_expire(struct detect *d, __u64 now, bool all);

/* p's why, made on first use (a static buffer when out of memory) */
char *dproc_why(struct dproc *p);
/* p's why to read: "" when it has none */
static inline const char *dproc_why_text(const struct dproc *p)
{
	return p->why ? p->why : "";
}

#endif
