/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's view of the pods on this node: names from podsentry-cni's
 * state files, keyed by netns inode, and reconciliation of those files
 * with the kernel at start (attach, register, remove stale state).
 */
#ifndef PS_NODE_PODS_H
#define PS_NODE_PODS_H

#include <stdbool.h>
#include <linux/types.h>

/* Names as the runtime gave them (any bytes but NUL: the records escape
 * what is not text). */
struct pod_info {
	char namespace[256];
	char name[256];
	char uid[256];
	char container_id[256];
	char host_ifname[16]; /* the pod's host-side veth */
	__u32 netns_ino;
	__u32 slot;
	bool pending; /* podsentry-cni could not attach it (yet) */
};

struct pods;

/* Open the pod table over state_dir; bpffs holds the pinned maps and
 * programs. Returns NULL and sets *err (negative errno) on failure. */
struct pods *pods_open(const char *state_dir, const char *bpffs, int *err);
/* Bring kernel state in line with every state file: attach the TC/XDP
 * programs to host veths that exist, register the pods in the maps,
 * remove state whose netns is gone. Returns the number of pods live. */
int pods_reconcile(struct pods *p);
/* The pod whose netns inode this is (or was, for two minutes after its
 * state file went: CNI DEL), or NULL. Re-reads the state folder when the
 * inode is unknown (rate-limited). */
const struct pod_info *pods_by_netns(struct pods *p, __u32 netns_ino);
/* Every pod of the table now (the state folder re-read first when it
 * changed), in netns order. */
void pods_each(struct pods *p, void (*fn)(void *arg, const struct pod_info *pi),
	       void *arg);
void pods_close(struct pods *p);

#endif
