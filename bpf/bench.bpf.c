// SPDX-License-Identifier: GPL-2.0-only
/*
 * Baselines for the per-packet benchmarks (tests/bench/): programs of the
 * same types as those in flow.bpf.c that do nothing, so that a benchmark
 * can report the cost of podsentry's programs as a ratio to the cost of
 * running any program at all, measured in the same run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

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
