/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Ethernet with up to PS_MAX_VLAN 802.1Q / 802.1ad (QinQ) tags. */
#ifndef PS_BPF_ETH_H
#define PS_BPF_ETH_H

#include <bpf/bpf_endian.h>

#include "lib/pkt.h"

#ifndef PS_MAX_VLAN
#define PS_MAX_VLAN 2
#endif

#define PS_ETH_P_IP 0x0800
#define PS_ETH_P_IPV6 0x86DD
#define PS_ETH_P_8021Q 0x8100
#define PS_ETH_P_8021AD 0x88A8

struct ps_vlan_tag {
	__be16 tci;
	__be16 proto; /* what follows the tag */
};

static __always_inline bool eth_is_vlan(__be16 proto)
{
	return proto == bpf_htons(PS_ETH_P_8021Q) ||
	       proto == bpf_htons(PS_ETH_P_8021AD);
}

/* Skip the Ethernet header and its VLAN tags; *proto is the ethertype
 * of what follows (network byte order). */
static __always_inline int eth_parse(struct ps_cursor *c, __be16 *proto)
{
	struct ethhdr *eth = c->pos;
	__be16 p;
	int i;

	if ((void *)(eth + 1) > c->end)
		return PS_PERR_ETH_TRUNC;
	p = eth->h_proto;
	c->pos = eth + 1;
#pragma unroll
	for (i = 0; i < PS_MAX_VLAN; i++) {
		struct ps_vlan_tag *tag = c->pos;

		if (!eth_is_vlan(p))
			break;
		if ((void *)(tag + 1) > c->end)
			return PS_PERR_VLAN_TRUNC;
		p = tag->proto;
		c->pos = tag + 1;
	}
	if (eth_is_vlan(p))
		return PS_PERR_VLAN_DEPTH;
	*proto = p;
	return PS_PERR_NONE;
}

#endif
