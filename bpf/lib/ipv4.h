/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* IPv4 header with options; fragments (only the first one has ports). */
#ifndef PS_BPF_IPV4_H
#define PS_BPF_IPV4_H

#include <bpf/bpf_endian.h>

#include "lib/pkt.h"

#define PS_IP_MF 0x2000
#define PS_IP_OFFMASK 0x1fff

/* Fill family, addresses, protocol, length and fragment state, and move
 * the cursor past the options. */
static __always_inline int ipv4_parse(struct ps_cursor *c, struct ps_pkt *p)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot;
	__u16 frag;
	__u8 vihl;

	if ((void *)(ip + 1) > c->end)
		return PS_PERR_IPV4_TRUNC;
	vihl = *(__u8 *)ip;
	if (vihl >> 4 != 4)
		return PS_PERR_IPV4_VERSION;
	hlen = (vihl & 0xf) * 4;
	if (hlen < sizeof(*ip))
		return PS_PERR_IPV4_IHL;
	if (c->pos + hlen > c->end)
		return PS_PERR_IPV4_OPT_TRUNC;
	tot = bpf_ntohs(ip->tot_len);
	/* 0 is what TSO (and BIG TCP) may leave: the skb knows the length */
	if (tot && tot < hlen)
		return PS_PERR_IPV4_LEN;

	p->family = PS_AF_INET;
	p->proto = ip->protocol;
	p->saddr.w[0] = ip->saddr;
	p->daddr.w[0] = ip->daddr;
	p->ip_len = tot;
	p->hdr_len = hlen;
	p->frag_id = bpf_ntohs(ip->id);
	frag = bpf_ntohs(ip->frag_off);
	if (frag & PS_IP_OFFMASK)
		p->frag = PS_FRAG_LATER;
	else if (frag & PS_IP_MF)
		p->frag = PS_FRAG_FIRST;
	c->pos += hlen;
	return PS_PERR_NONE;
}

#endif
