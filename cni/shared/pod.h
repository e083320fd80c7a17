/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One pod attachment in the kernel: its entries in the pinned maps and
 * podsentry's programs on its host veth. Used by podsentry-cni (ADD, DEL,
 * CHECK, GC) and by podsentryd's reconciliation at start.
 */
#ifndef PS_CNI_POD_H
#define PS_CNI_POD_H

#include <stdbool.h>

#include "cni/shared/attach.h"
#include "cni/shared/state.h"

#define POD_ERR_LEN 256

/* Find the host veth of st->ifname in st->netns (IFLA_LINK inside the
 * netns, then the link of that index here, whose own IFLA_LINK must point
 * back) and store its index and name in st. Also fills the pod IPs from
 * the link when st has none. -ENODEV/-ENOENT when it does not exist. */
int pod_host_link(struct pod_state *st, char *err);
/* The inode of the netns at path (0 with err set on failure). */
__u32 pod_netns_ino(const char *path, char *err);

/* pods[netns] = {slot, flags}, pod_ifindex[host veth] = {slot, netns},
 * pod_ip[ip] = slot, and fresh counters for the slot. */
int pod_register(const struct pins *p, const struct pod_state *st, char *err);
/* Remove st's entries that still point at st's slot; keep_netns and
 * keep_slot keep the entries another attachment of the same netns or
 * slot still needs. */
int pod_unregister(const struct pins *p, const struct pod_state *st,
		   bool keep_netns, bool keep_slot, char *err);
/* Zero the pod_stats counters of slot on every CPU (an array element
 * cannot be deleted); 0 also when fd < 0 or when the map holds nothing
 * for the slot. */
int pod_stats_zero(int fd, __u32 slot);
/* Attach the TC programs (and XDP when st->xdp) on st's host veth and
 * record them in st->attached. */
int pod_attach(const struct pins *p, struct pod_state *st, char *err);
/* Remove podsentry's programs from st's host veth when that veth still
 * exists under the recorded name; 0 when it is gone. */
int pod_detach(struct pod_state *st, char *err);
/* CHECK: the netns, the host veth, the map entries and the filters are
 * as st says; err names the first thing that is not. */
int pod_verify(const struct pins *p, const struct pod_state *st, char *err);

#endif
