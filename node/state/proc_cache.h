/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's process cache: every exec it knows, by exec id and by pid,
 * with its parent link. Seeded from /proc at start so processes older
 * than the daemon have exec ids and parents. Exited (or replaced by a
 * later exec on the same pid) processes stay for a grace period so late
 * records can still name them.
 */
#ifndef PS_NODE_PROC_CACHE_H
#define PS_NODE_PROC_CACHE_H

#include <stdbool.h>
#include <linux/types.h>

#include "podsentry.h"

struct proc {
	struct ps_exec_id id;
	struct ps_exec_id parent;
	__u32 pid, ppid, uid, gid, netns_ino;
	__u32 parent_netns; /* set when the parent ran in another netns */
	__u64 cgroup_id;
	__u32 exec_flags; /* enum ps_exec_flags */
	/* the kernel's facts at exec: fds 0-2, the parent's network socket
	 * (exec_flags & PS_EXEC_PARENT_NET); zero for processes read from
	 * /proc */
	struct ps_fd_fact stdio[3], parent_sock;
	char *binary;
	char *exe; /* the file it runs when that is not binary (a script's
		    * interpreter, /proc/self/exe, a relative name), or NULL */
	char *cwd;
	char *args; /* NUL-separated */
	__u32 args_len;
	bool procfs;  /* learned from /proc, not from an exec event */
	bool exited;
	bool net; /* its flows may name it when it is gone: it or a fork
		   * of it used a socket (the kernel's word), it holds one
		   * or came from /proc */
	__u64 gone_ktime; /* exit or replacement time */
	__u64 hold_until; /* kept at least until then (owns open sockets) */
	char *json;	  /* its process object as text, once written; freed
			   * when it is gone (written again if needed) */
	__u32 json_len, brief_len, short_len;
	struct proc *id_next, *pid_next, *gone_next;
};

struct proc_cache;

/* Gone processes stay grace_ns, at most max_gone of those whose flows
 * may name them and max_gone_plain of the others (which go first). */
struct proc_cache *proc_cache_new(__u64 grace_ns, __u32 max_gone,
				  __u32 max_gone_plain);
void proc_cache_free(struct proc_cache *c);
/* Insert a process (the cache takes ownership); an older live exec on the
 * same pid becomes "gone" at p's start. */
void proc_cache_add(struct proc_cache *c, struct proc *p);
struct proc *proc_cache_get(struct proc_cache *c, const struct ps_exec_id *id);
/* The current exec of a pid, or NULL. */
struct proc *proc_cache_by_pid(struct proc_cache *c, __u32 pid);
/* Mark exited; it is freed after the grace period. net: the kernel saw
 * it use a socket (PS_EXIT_NET). */
void proc_cache_exit(struct proc_cache *c, struct proc *p, __u64 ktime, bool net);
/* Keep an exited process at least until `until` (boot ns), beyond the
 * grace period: it owns sockets whose flows will still name it. */
void proc_cache_hold(struct proc_cache *c, const struct ps_exec_id *id,
		     __u64 until);
/* A fork of the image used a socket (PS_EV_NET_USE): when it is gone,
 * it is kept as long as those whose flows may name it. */
void proc_cache_net_use(struct proc_cache *c, const struct ps_exec_id *id);
/* Free what has been gone longer than the grace period, or over its
 * bound, oldest first (held ones go back to the end of the queue, unless
 * the bound is exceeded). */
void proc_cache_reap(struct proc_cache *c, __u64 now_ktime);
__u32 proc_cache_count(const struct proc_cache *c);

/* A new process from an exec event (not yet in the cache), NULL when
 * out of memory. */
struct proc *proc_from_exec(const struct ps_exec_event *e);

/* Read every /proc/<pid> into the cache; seed_fd >= 0 is the procs map,
 * filled with BPF_NOEXIST so entries the kernel already made win.
 * Returns the number of processes read. */
int proc_cache_seed(struct proc_cache *c, int procs_map_fd);

/* Boot-clock ns of a /proc start time in clock ticks. */
__u64 proc_ticks_to_ns(unsigned long long ticks);

#endif
