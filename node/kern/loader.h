/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loading podsentry's BPF objects: one bpffs folder per daemon (locked),
 * maps pinned by name in it and shared by all objects, the TC/XDP
 * programs pinned for podsentry-cni, tracing programs attached.
 */
#ifndef PS_NODE_LOADER_H
#define PS_NODE_LOADER_H

#include <stdbool.h>

#include "podsentry.h"

struct process_bpf;
struct flow_bpf;
struct sock_bpf;
struct bpf_link;

#define LOADER_SOCK_LINKS 5 /* cgroup sendmsg4/6, post_bind4/6, sock_release */

struct loader {
	char *dir;
	int dir_fd; /* holds the flock */
	struct process_bpf *proc;
	struct flow_bpf *flow;
	struct sock_bpf *sock;
	struct bpf_link *sock_links[LOADER_SOCK_LINKS];
	int cgroup_fd; /* cgroup v2 root the sock programs are attached to */
	bool keep_pins;
};

/* What the programs are told before they load. */
struct loader_opts {
	enum ps_scope scope;
	__u64 flow_update_ns;	       /* 0: no FLOW_UPDATE */
	__u32 max_flows4, max_flows6;  /* sizes of flows4 and flows6 */
	bool aggregate;		       /* fold short TCP connections */
	__u32 sock_records;	       /* enum ps_sock_records */
};

/* Create the bpffs folder (mounting bpffs when missing) and lock it.
 * -EBUSY when another daemon holds it. */
int loader_lock(struct loader *l, const char *dir);
/* Open, configure, load (pinning maps), pin programs, attach. */
int loader_start(struct loader *l, const struct loader_opts *o);
int loader_map_fd(struct loader *l, const char *name);
/* The socket programs' counters (sock_counts), not pinned. */
int loader_sock_counts_fd(struct loader *l);
/* Tell the flow programs when flow_agg was last read (boot ns). */
void loader_agg_since(struct loader *l, __u64 ns);
/* Detach, unpin unless keep_pins, unlock. */
void loader_stop(struct loader *l);

#endif
