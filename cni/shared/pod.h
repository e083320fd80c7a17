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
 * back) and store its index and name in st. st->ips becomes the
 * addresses on st->ifname inside the netns: the pod's own, whatever a
 * caller says they are. -ENODEV/-ENOENT when it does not exist; the
 * errors of pod_netns_open when st->netns is no pod's netns. */
int pod_host_link(struct pod_state *st, char *err);
/* The same in the netns of netns_fd (from pod_netns_open). */
int pod_host_link_fd(struct pod_state *st, int netns_fd, char *err);
/* The inode of the netns at path (0 with err set on failure). */
__u32 pod_netns_ino(const char *path, char *err);
/* Open the netns at path for a pod: it must be an nsfs file of a network
 * namespace, and not the host's (the plugin's own or init's). Returns
 * the open fd with its inode in *ino, or a negative errno with err
 * naming path and what it is instead. */
int pod_netns_open(const char *path, __u32 *ino, char *err);

/* pods[netns] = {slot, flags}, pod_ifindex[host veth] = {slot, netns},
 * pod_ip[ip] = slot. An address whose pod_ip entry is another live pod's
 * (its slot is in pods) is never overwritten: it moves from st->ips to
 * st->ips_held. */
int pod_register(const struct pins *p, struct pod_state *st, char *err);
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
