// SPDX-License-Identifier: GPL-2.0-only
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "podsentry.h"
#include "lib/maps.h"
char LICENSE[] SEC("license") = "GPL";
static __always_inline struct ps_pod_stats *pod_stats_of(__u32 ifindex)
{
	struct ps_pod_iface *pi = bpf_map_lookup_elem(&pod_ifindex, &ifindex);
	if (!pi)
		return NULL;
	return bpf_map_lookup_elem(&pod_stats, &pi->slot);
}
SEC("tc") int tc_ingress(struct __sk_buff *skb) { __u32 i = skb->ifindex; struct ps_pod_stats *st = pod_stats_of(i); if (st) st->packets_out++; return -1; }
SEC("tc") int tc_egress(struct __sk_buff *skb) { __u32 i = skb->ifindex; struct ps_pod_stats *st = pod_stats_of(i); if (st) st->packets_in++; return -1; }
SEC("xdp") int xdp_pod(struct xdp_md *ctx) { return XDP_PASS; }
