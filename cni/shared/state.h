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
#include <stddef.h>
#include <net/if.h>
#include <linux/types.h>

#include "netlink/link.h"

#define STATE_IPS_MAX 8
/* The longest container id whose state file name ("<id>:<ifname>.json")
 * fits NAME_MAX with any interface name. */
#define STATE_CID_MAX (NAME_MAX - 1 - (IFNAMSIZ - 1) - 5)
#define STATE_ERR_LEN 256

enum state_attached {
	ATTACHED_TC_INGRESS = 1U << 0,
	ATTACHED_TC_EGRESS = 1U << 1,
	ATTACHED_XDP = 1U << 2,
};

/*
 * The state file, one JSON object:
 *   version (1), network, containerId, ifname,
 *   pod {namespace, name, uid, infraContainerId},
 *   netns, netnsIno, hostIfindex, hostIfname, ips ["10.1.2.3/24", ...],
 *   ipsHeld [...], slot, flags, xdp, attached {tcIngress, tcEgress, xdp},
 *   pending, pendingReason, bpffs, created.
 * ipsHeld: addresses on the pod's interface that pod_ip already maps to
 * another live pod's slot; they are not this pod's entries (the other
 * pod's are never overwritten), so DEL leaves them alone.
 *
 * Strings are bytes from outside (CNI_ARGS, the environment, the
 * config) and the file must stay valid UTF-8 JSON, so every string KEY
 * whose bytes are not text (cni/shared/text.h: invalid UTF-8 or control
 * characters) is written three times:
 *   KEY          the display form: valid UTF-8, each bad byte and each
 *                control character replaced by U+FFFD
 *   KEYRaw       the exact bytes, percent-encoded (every byte outside
 *                '!'..'~', and '%', as %XX): plain ASCII
 *   KEYNotText   true
 * e.g. "pod": {"name": "web\ufffdx", "nameRaw": "web%0Ax", "nameNotText": true}.
 * A reader takes KEYRaw when it is there and KEY otherwise (files of
 * earlier versions have KEY only, with the bytes as they came).
 */

/* The display form of a string of n - 1 bytes fits STATE_TEXT_SIZE(n). */
#define STATE_TEXT_SIZE(n) (3 * ((n) - 1) + 1)

/* A name as CNI_ARGS gave it (no NUL: it came through the environment). */
struct state_raw {
	char bytes[256]; /* NUL-terminated as well */
	__u16 len;
	bool not_text; /* bytes is not text: the display form differs */
};

struct pod_state {
	char network[256];	/* CNI network name */
	char container_id[256];
	char ifname[IFNAMSIZ];	/* CNI_IFNAME, inside the pod */
	/* K8S_POD_* of CNI_ARGS: display forms (valid UTF-8 text, what
	 * records and file names may use) ... */
	char pod_namespace[STATE_TEXT_SIZE(64)];
	char pod_name[STATE_TEXT_SIZE(254)];
	char pod_uid[STATE_TEXT_SIZE(64)];
	char infra_id[STATE_TEXT_SIZE(256)];
	/* ... and the bytes as given */
	struct state_raw pod_namespace_raw;
	struct state_raw pod_name_raw;
	struct state_raw pod_uid_raw;
	struct state_raw infra_id_raw;
	char netns[PATH_MAX];	/* CNI_NETNS */
	__u32 netns_ino;
	int host_ifindex;	/* 0 when not (yet) known */
	char host_ifname[IFNAMSIZ];
	struct link_addr ips[STATE_IPS_MAX]; /* registered in pod_ip */
	int nips;
	struct link_addr ips_held[STATE_IPS_MAX]; /* another pod's (above) */
	int nips_held;
	__u32 slot;
	__u32 flags;		/* enum ps_pod_flags */
	__u32 attached;		/* enum state_attached */
	bool xdp;		/* the network asks for XDP */
	bool pending;		/* not attached/registered yet */
	char pending_reason[256];
	char bpffs[PATH_MAX];
	long long created;	/* unix time, s */
};

/* Set a name of st (text: one of the display fields, raw: its bytes)
 * from the bytes given. */
void state_name_set(char *text, size_t text_len, struct state_raw *raw,
		    const char *bytes);
#define STATE_NAME_SET(st, field, bytes) \
	state_name_set((st)->field, sizeof((st)->field), &(st)->field##_raw, \
		       bytes)

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
/* A state file's text (len bytes, name for messages): 0, or -EBADMSG
 * with err naming name and the cause. */
int state_parse(const char *buf, size_t len, const char *name,
		struct pod_state *st, char *err);
/* The text of st's state file (malloc'd, no newline), NULL without
 * memory. */
char *state_format(const struct pod_state *st);
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
