/* SPDX-License-Identifier: GPL-2.0-only */
/* Building the JSON records of the data model (v2, see README.md). */
#ifndef PS_NODE_RECORDS_H
#define PS_NODE_RECORDS_H

#include <linux/types.h>

#include "node/records/jw.h"
#include "node/state/pods.h"
#include "node/state/proc_cache.h"

#define RECORD_POD_TEXTS 64

/* A pod object's text, trusted for RECORD_CACHE_NS (see records.c). */
struct record_pod_text {
	__u32 netns; /* 0: empty */
	__u32 len;
	__u64 checked;
	char text[768];
};

struct record_ctx {
	const char *node;
	__s64 boot_to_real_ns; /* realtime = boot-clock ns + this */
	struct pods *pods;
	struct proc_cache *procs;
	int pods_map_fd; /* the kernel's pods map: registered netns */
	int pod_ip_fd;	 /* the kernel's pod_ip map: address -> slot */
	__u32 slot_netns[PS_MAX_PODS]; /* slot -> netns, from pods map */
	__u64 slot_checked[PS_MAX_PODS]; /* when that was last confirmed */
	__u64 slot_scan_ns;	       /* last full scan of the pods map */
	/* the pod a slot had when last seen, for RECORD_GRACE_NS after it
	 * left (records of its last flows still name it) */
	__u32 slot_gone[PS_MAX_PODS];
	__u64 slot_gone_ns[PS_MAX_PODS];
	/* address -> netns of local pods, confirmed within RECORD_CACHE_NS;
	 * found is when the kernel last had it (the grace after a DEL) */
	struct {
		__u32 family, netns;
		__u8 addr[16];
		__u64 checked, found;
	} ip_cache[1024];
	struct record_pod_text pod_text[RECORD_POD_TEXTS];
};

/* How long a pod that left (CNI DEL) is still named in records: the
 * last packets, idle ends and sweeps of its flows come after its DEL. */
#define RECORD_GRACE_NS (120ULL * 1000000000ULL)

/* Recompute the boot-clock to wall-clock offset. */
void record_clock_sync(struct record_ctx *ctx);
/* Boot-clock ns now. */
__u64 clock_boot_ns(void);
/* The same at tick resolution, without reading the clock source: for the
 * ages of caches, compared only with times from this function. */
__u64 clock_boot_coarse_ns(void);
/* RFC 3339 UTC with nanoseconds of a boot-clock time. */
void record_time_fmt(const struct record_ctx *ctx, __u64 ktime, char *buf,
		     size_t len);
/* "node:ktime:pid" */
void exec_id_fmt(const struct record_ctx *ctx, const struct ps_exec_id *id,
		 char *buf, size_t len);

/* netns inode of a pod slot (0 when unknown). */
__u32 record_slot_netns(struct record_ctx *ctx, __u32 slot);
/* netns inode of the local pod with this address (0 when none). */
__u32 record_ip_netns(struct record_ctx *ctx, __u32 family, const __u8 *addr);

/* The text of an address (family 2: IPv4, else IPv6) into buf of at
 * least INET6_ADDRSTRLEN bytes. */
void record_ip_fmt(__u8 family, const __u8 *a, char *buf);

/* The records' objects, written straight to text (node/records/jw.h).
 * record_head_w starts a record: w is reset and the top-level object is
 * left open. */
void record_head_w(const struct record_ctx *ctx, struct jw *w,
		   const char *type, __u64 ktime);
/* The pod object under key; false (nothing written) when the netns is
 * not a registered pod. The text of a pod is kept for RECORD_CACHE_NS. */
bool record_pod_w(struct record_ctx *ctx, struct jw *w, const char *key,
		  __u32 netns_ino);
/* Whether the netns is a registered pod (a record about it has "pod"). */
bool record_pod_known(struct record_ctx *ctx, __u32 netns_ino);
/* The pod's {namespace, name} (or {netns, slot} while no state file
 * names it) under key; false when the netns is not a registered pod. */
bool record_pod_brief_w(struct record_ctx *ctx, struct jw *w, const char *key,
			__u32 netns_ino);

/* A lost record: {"lost": {reason, count, total}}, what could not be
 * recorded (the kernel's drop counters, outputs that failed to write). */
void lost_record_w(const struct record_ctx *ctx, struct jw *w,
		   const char *reason, unsigned long long count,
		   unsigned long long total, __u64 ktime);

enum proc_form {
	PROC_FULL,  /* every field */
	PROC_EXEC,  /* every field and the kernel's facts at exec (stdio) */
	PROC_BRIEF, /* exec_id, pid, binary, args: a parent, an ancestor */
	PROC_SHORT, /* exec_id, pid, binary: the ends of a flow */
};

/* One descriptor as the kernel saw it at exec: {type, family, protocol,
 * state, local, remote} (the process object's "stdio" members). */
void record_fd_fact_w(struct jw *w, const char *key, const struct ps_fd_fact *x);
/* The process object under key; its text is kept in p for next time. */
void record_process_w(const struct record_ctx *ctx, struct jw *w,
		      const char *key, struct proc *p, enum proc_form form);

/* A connection as detection reads it: from a socket notice (the
 * kernel sent it because it failed, its tree is marked, or its peer is
 * new for the pod) or from a flow record. Strings and the process are
 * valid during the call only. */
struct conn_rec {
	bool flow;		/* from a flow record; else a notice */
	__u64 ktime;		/* boot clock */
	const char *proto;	/* "tcp", "udp", ... */
	const char *src_ip;	/* NULL when unknown (a UDP source) */
	const char *dst_ip;
	int src_port, dst_port;	/* -1 for no port (ICMP) */
	__u32 netns;		/* the pod that opened it */
	__u32 src_netns, dst_netns; /* local pods at either end, or 0 */
	struct proc *proc;	/* the process that opened it, or NULL */
	__u32 notice;		/* notices: enum ps_sock_flags */
	__u64 exe;		/* notices: the caller's executable */
	bool refused;		/* answered by RST, or failed */
	/* flow records */
	const char *state, *verdict;
	__u64 start;
};

#endif
