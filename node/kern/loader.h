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
	void *rb_pos[2]; /* the ring buffer's consumer and producer pages */
	bool keep_pins;
};

/* What the programs are told before they load. */
struct loader_opts {
	enum ps_scope scope;
	__u64 flow_update_ns;	       /* 0: no FLOW_UPDATE */
	__u32 max_flows4, max_flows6;  /* sizes of flows4 and flows6 */
	__u32 max_connects;	       /* size of connecting */
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
/* The hash maps whose fill the metrics and `podsentry status` show. */
#define LOADER_FILL_MAPS                                                     \
	{ PS_PIN_FLOWS4, PS_PIN_FLOWS6, PS_PIN_SOCKS, PS_PIN_LISTENERS,      \
	  PS_PIN_PROCS,	 PS_PIN_PEERS,	PS_PIN_MARKS, PS_PIN_FLOW_AGG,	     \
	  PS_PIN_PODS }
#define LOADER_NFILL 9
/* Entries of the map (batch reads, few system calls; key by key where
 * the kernel has no batch for it) and its max_entries; -1 when it
 * cannot be counted. */
long long loader_map_entries(int fd, __u32 *max_entries);
/* The events ring buffer: bytes not read yet and its size; -errno. */
int loader_ringbuf_use(struct loader *l, unsigned long *used, __u32 *size);

/* A program the daemon loaded, and whether it is where it works: the
 * tracing and cgroup programs attached by the daemon (their link alive),
 * the TC/XDP programs pinned for podsentry-cni. */
struct loader_prog {
	const char *name;
	const char *kind; /* "tracepoint", "cgroup", "tc", "xdp" */
	bool ok;	  /* attached, or pinned for the TC/XDP ones */
};
#define LOADER_MAX_PROGS 32
/* Fills out[max]; returns how many. */
int loader_programs(struct loader *l, struct loader_prog *out, int max);

/* Detach, unpin unless keep_pins, unlock. */
void loader_stop(struct loader *l);

#endif
