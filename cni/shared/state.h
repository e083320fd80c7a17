/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * State files: one JSON file per attachment (container id, ifname) in the
 * state folder, written atomically (tmp + rename). They hold everything
 * DEL, CHECK, GC and podsentryd need. A lock file in the same folder
 * serializes every command of every plugin process and the daemon's
 * reconciliation.
 */
#ifndef PS_CNI_STATE_H
#define PS_CNI_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <net/if.h>
#include <linux/types.h>

#include "netlink/link.h"

#define STATE_IPS_MAX 8
#define STATE_ERR_LEN 256

enum state_attached {
	ATTACHED_TC_INGRESS = 1U << 0,
	ATTACHED_TC_EGRESS = 1U << 1,
	ATTACHED_XDP = 1U << 2,
};

struct pod_state {
	char network[256];	/* CNI network name */
	char container_id[256];
	char ifname[IFNAMSIZ];	/* CNI_IFNAME, inside the pod */
	char pod_namespace[64];
	char pod_name[254];
	char pod_uid[64];
	char infra_id[256];
	char netns[PATH_MAX];	/* CNI_NETNS */
	__u32 netns_ino;
	int host_ifindex;	/* 0 when not (yet) known */
	char host_ifname[IFNAMSIZ];
	struct link_addr ips[STATE_IPS_MAX];
	int nips;
	__u32 slot;
	__u32 flags;		/* enum ps_pod_flags */
	__u32 attached;		/* enum state_attached */
	bool xdp;		/* the network asks for XDP */
	bool pending;		/* not attached/registered yet */
	char pending_reason[256];
	char bpffs[PATH_MAX];
	long long created;	/* unix time, s */
};

/* Take the folder's lock (creating the folder); returns the fd to pass
 * to state_unlock, or a negative errno with err set. */
int state_lock(const char *dir, char *err);
void state_unlock(int fd);

/* dir/<container id>:<ifname>.json (':' is in neither). */
int state_path(const char *dir, const char *cid, const char *ifname,
	       char *buf, size_t len);
/* -ENOENT when there is no state for the attachment. */
int state_read(const char *dir, const char *cid, const char *ifname,
	       struct pod_state *st, char *err);
int state_load(const char *path, struct pod_state *st, char *err);
int state_write(const char *dir, const struct pod_state *st, char *err);
/* 0 also when the file was already gone. */
int state_remove(const char *dir, const char *cid, const char *ifname,
		 char *err);
/* Every state file in dir (unreadable ones are reported on stderr and
 * skipped). *out is malloc'd; returns the count or a negative errno. */
int state_list(const char *dir, struct pod_state **out, char *err);
/* The smallest slot (from 1) no other attachment uses; an attachment in
 * the same netns shares its slot. */
__u32 state_slot_alloc(const struct pod_state *all, int n, __u32 netns_ino,
		       const char *cid, const char *ifname);

#endif
