/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 header and its extension header chain: hop-by-hop, routing,
 * fragment, destination options and AH are walked, at most PS_MAX_IPV6_EXT
 * of them; the chain ends at the first other next-header value (transport,
 * ESP, no-next-header).
 */
#ifndef PS_BPF_IPV6_H
#define PS_BPF_IPV6_H

#include <bpf/bpf_endian.h>

#include "lib/pkt.h"

#ifndef PS_MAX_IPV6_EXT
#define PS_MAX_IPV6_EXT 8
#endif

/* Bytes of IPv6 header and extension headers handled: a power of two.
 * Longer chains count as PS_PERR_IPV6_EXT_DEPTH. */
#define PS_IPV6_HDRS_MAX 2048

#define PS_NEXTHDR_HOP 0
#define PS_NEXTHDR_ROUTING 43
#define PS_NEXTHDR_FRAGMENT 44
#define PS_NEXTHDR_AUTH 51
#define PS_NEXTHDR_DEST 60

struct ps_ipv6_opt_hdr {
	__u8 nexthdr;
	__u8 hdrlen; /* 8-byte units beyond the first 8 (AH: 4-byte, -2) */
};

struct ps_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | M */
	__be32 identification;
};

static __always_inline bool ipv6_is_ext(__u8 nh)
{
	return nh == PS_NEXTHDR_HOP || nh == PS_NEXTHDR_ROUTING ||
	       nh == PS_NEXTHDR_FRAGMENT || nh == PS_NEXTHDR_AUTH ||
	       nh == PS_NEXTHDR_DEST;
}

/* One extension header at the cursor: set *nh to the header after it.
 * A later fragment ends the chain: its payload has no transport header. */
static __always_inline int ipv6_ext_skip(struct ps_cursor *c, struct ps_pkt *p,
					 __u8 *nh)
{
	struct ps_ipv6_opt_hdr *h = c->pos;
	__u32 len;

	if (*nh == PS_NEXTHDR_FRAGMENT) {
		struct ps_ipv6_frag_hdr *f = c->pos;
		__u16 off;

		if ((void *)(f + 1) > c->end)
			return PS_PERR_IPV6_EXT_TRUNC;
		off = bpf_ntohs(f->frag_off);
		p->frag_id = bpf_ntohl(f->identification);
		if (off & 0xfff8)
			p->frag = PS_FRAG_LATER;
		else if (off & 1)
			p->frag = PS_FRAG_FIRST;
		*nh = f->nexthdr;
		c->pos = f + 1;
		return PS_PERR_NONE;
	}
	if ((void *)(h + 1) > c->end)
		return PS_PERR_IPV6_EXT_TRUNC;
	if (*nh == PS_NEXTHDR_AUTH)
		len = ((__u32)h->hdrlen + 2) * 4;
	else
		len = ((__u32)h->hdrlen + 1) * 8;
	if (c->pos + len > c->end)
		return PS_PERR_IPV6_EXT_TRUNC;
	*nh = h->nexthdr;
	c->pos += len;
	return PS_PERR_NONE;
}

static __always_inline int ipv6_parse(struct ps_cursor *c, struct ps_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;
	void *l3 = c->pos;
	__u32 plen;
	__u8 nh;
	int i, err;

	if ((void *)(ip6 + 1) > c->end)
		return PS_PERR_IPV6_TRUNC;
	if (*(__u8 *)ip6 >> 4 != 6)
		return PS_PERR_IPV6_VERSION;
	p->family = PS_AF_INET6;
	__builtin_memcpy(&p->saddr, &ip6->saddr, sizeof(p->saddr));
	__builtin_memcpy(&p->daddr, &ip6->daddr, sizeof(p->daddr));
	plen = bpf_ntohs(ip6->payload_len);
	/* 0 is a jumbogram or a TSO packet: the skb knows the length */
	p->ip_len = plen ? plen + sizeof(*ip6) : 0;
	nh = ip6->nexthdr;
	c->pos = ip6 + 1;
#pragma unroll
	for (i = 0; i < PS_MAX_IPV6_EXT; i++) {
		if (!ipv6_is_ext(nh) || p->frag == PS_FRAG_LATER)
			break;
		err = ipv6_ext_skip(c, p, &nh);
		if (err)
			return err;
	}
	if (ipv6_is_ext(nh) && p->frag != PS_FRAG_LATER)
		return PS_PERR_IPV6_EXT_DEPTH;
	p->proto = nh;
	p->hdr_len = c->pos - l3;
	if (p->hdr_len >= PS_IPV6_HDRS_MAX)
		return PS_PERR_IPV6_EXT_DEPTH;
	/* Every path through the chain ends at its own cursor range, and the
	 * verifier would check all that follows once per path. Masking the
	 * (already bounded) length gives them one range, so those states
	 * prune: ~3x fewer instructions verified. */
	c->pos = l3 + (p->hdr_len & (PS_IPV6_HDRS_MAX - 1));
	return PS_PERR_NONE;
}

#endif
