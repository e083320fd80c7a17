// SPDX-License-Identifier: GPL-2.0-only
/*
 * Baselines for the per-packet benchmarks (tests/bench/): programs of the
 * same types as those in flow.bpf.c that do nothing, so that a benchmark
 * can report the cost of podsentry's programs as a ratio to the cost of
 * running any program at all, measured in the same run; and tc_lookup,
 * the floor of any per-flow accounting: the packet's IPv4 addresses,
 * ports and protocol looked up in an LRU hash of flows as large as
 * flows4, whose entry's two counters are added to.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "podsentry.h"

char LICENSE[] SEC("license") = "GPL";

#define TC_ACT_UNSPEC (-1)

SEC("tc")
int tc_nop(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

SEC("xdp")
int xdp_nop(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* flows4's key and value (struct ps_flow_key4, ps_flow) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* flows4's size, set by the bench */
	__type(key, struct ps_flow_key4);
	__type(value, struct ps_flow);
} lookup_flows SEC(".maps");

SEC("tc")
int tc_lookup(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ps_flow_key4 k = {.family = 2};
	struct ps_flow *f;

	/* Ethernet, IPv4 without options, ports; sender first */
	if (data + 14 + 20 + 4 > end)
		return TC_ACT_UNSPEC;
	k.addr[0] = *(__u32 *)(data + 26);
	k.addr[1] = *(__u32 *)(data + 30);
	k.port[0] = *(__u16 *)(data + 34);
	k.port[1] = *(__u16 *)(data + 36);
	k.proto = *(__u8 *)(data + 23);
	f = bpf_map_lookup_elem(&lookup_flows, &k);
	if (f) {
		__sync_fetch_and_add(&f->end[0].packets, 1);
		__sync_fetch_and_add(&f->end[0].bytes, skb->len);
	}
	return TC_ACT_UNSPEC;
}
