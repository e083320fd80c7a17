/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * podsentry's programs on a host veth: TC clsact ingress/egress filters
 * with podsentry's own handle and priority (so attaching replaces and
 * detaching removes exactly ours), and XDP. Programs and maps come from
 * the daemon's pins in the bpffs folder.
 */
#ifndef PS_CNI_ATTACH_H
#define PS_CNI_ATTACH_H

#include <stdbool.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#define ATTACH_ERR_LEN 256

struct pins {
	int tc_ingress, tc_egress, xdp; /* program fds, -1 when not open */
	int pods, pod_ifindex, pod_ifindex_low, pod_ip, pod_stats; /* maps */
};

/* Open the pinned maps and programs (XDP only when xdp is set). -ENOENT
 * names the first missing pin in err. */
int pins_open(const char *bpffs, bool xdp, struct pins *p, char *err);
void pins_close(struct pins *p);
/* 0 when every pin ADD needs exists; else -ENOENT naming the first
 * missing one in err. */
int pins_check(const char *bpffs, bool xdp, char *err);

/* "ingress"/"egress" as tc(8) says it. */
const char *tc_point_name(enum bpf_tc_attach_point point);
/* Create clsact if needed and attach prog_fd, replacing our filter. */
int tc_attach(int ifindex, const char *ifname, enum bpf_tc_attach_point point,
	      int prog_fd, char *err);
/* Remove our filter; 0 when it is not there. */
int tc_detach(int ifindex, const char *ifname, enum bpf_tc_attach_point point,
	      char *err);
/* The program id of our filter: 0 and *prog_id = 0 when it is absent. */
int tc_query(int ifindex, const char *ifname, enum bpf_tc_attach_point point,
	     __u32 *prog_id, char *err);

int xdp_attach(int ifindex, const char *ifname, int prog_fd, char *err);
/* Detach the XDP program only when it is prog_id (0: when it is
 * podsentry's, by its program name) and still attached. */
int xdp_detach(int ifindex, const char *ifname, __u32 prog_id, char *err);
int xdp_query(int ifindex, const char *ifname, __u32 *prog_id, char *err);

/* The id of the program behind fd, 0 on failure. */
__u32 prog_id_of(int fd);

#endif
