/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Transport headers: ports of TCP, UDP (and UDP-Lite), SCTP; TCP flags;
 * the ICMP and ICMPv6 echo identifier or type and code. Other protocols
 * have no ports and are not an error.
 */
#ifndef PS_BPF_L4_H
#define PS_BPF_L4_H

#include "lib/pkt.h"

#define PS_IPPROTO_ICMP 1
#define PS_IPPROTO_TCP 6
#define PS_IPPROTO_UDP 17
#define PS_IPPROTO_ICMPV6 58
#define PS_IPPROTO_SCTP 132
#define PS_IPPROTO_UDPLITE 136

#define PS_ICMP_ECHOREPLY 0
#define PS_ICMP_ECHO 8
#define PS_ICMPV6_ECHO_REQUEST 128
#define PS_ICMPV6_ECHO_REPLY 129

/* Source and destination port lead TCP, UDP and SCTP alike. */
struct ps_ports {
	__be16 sport;
	__be16 dport;
};

struct ps_icmp_hdr {
	__u8 type;
	__u8 code;
	__be16 csum;
	__be16 id; /* echo */
	__be16 seq;
};

static __always_inline int l4_tcp(struct ps_cursor *c, struct ps_pkt *p)
{
	struct tcphdr *th = c->pos;
	__u8 doff;

	if ((void *)(th + 1) > c->end)
		return PS_PERR_TCP_TRUNC;
	doff = ((__u8 *)th)[12] >> 4;
	if (doff < 5)
		return PS_PERR_TCP_DOFF;
	p->sport = th->source;
	p->dport = th->dest;
	p->tcp_flags = ((__u8 *)th)[13];
	p->tcp_seq = th->seq;
	p->tcp_ack = th->ack_seq;
	p->hdr_len += doff * 4;
	return PS_PERR_NONE;
}

static __always_inline int l4_ports(struct ps_cursor *c, struct ps_pkt *p,
				    __u32 len, int trunc)
{
	struct ps_ports *pp = c->pos;

	if (c->pos + len > c->end)
		return trunc;
	p->sport = pp->sport;
	p->dport = pp->dport;
	p->hdr_len += len;
	return PS_PERR_NONE;
}

/* ICMP echo: the identifier is the "port" of both ends; anything else
 * (errors, router messages) is keyed by type and code. */
static __always_inline int l4_icmp(struct ps_cursor *c, struct ps_pkt *p,
				   __u8 echo_req, __u8 echo_rep, int trunc)
{
	struct ps_icmp_hdr *ih = c->pos;

	if ((void *)(ih + 1) > c->end)
		return trunc;
	p->hdr_len += sizeof(*ih);
	if (ih->type == echo_req || ih->type == echo_rep) {
		p->icmp_echo = ih->type == echo_req ? 1 : 2;
		p->sport = ih->id;
		p->dport = ih->id;
		return PS_PERR_NONE;
	}
	/* type and code as one big-endian 16-bit value */
	p->sport = *(__be16 *)ih;
	p->dport = p->sport;
	return PS_PERR_NONE;
}

/* Parse the transport header at the cursor (a later fragment has none). */
static __always_inline int l4_parse(struct ps_cursor *c, struct ps_pkt *p)
{
	if (p->frag == PS_FRAG_LATER)
		return PS_PERR_NONE;
	switch (p->proto) {
	case PS_IPPROTO_TCP:
		return l4_tcp(c, p);
	case PS_IPPROTO_UDP:
	case PS_IPPROTO_UDPLITE:
		return l4_ports(c, p, 8, PS_PERR_UDP_TRUNC);
	case PS_IPPROTO_SCTP:
		return l4_ports(c, p, 12, PS_PERR_SCTP_TRUNC);
	case PS_IPPROTO_ICMP:
		if (p->family != PS_AF_INET)
			return PS_PERR_NONE;
		return l4_icmp(c, p, PS_ICMP_ECHO, PS_ICMP_ECHOREPLY,
			       PS_PERR_ICMP_TRUNC);
	case PS_IPPROTO_ICMPV6:
		if (p->family != PS_AF_INET6)
			return PS_PERR_NONE;
		return l4_icmp(c, p, PS_ICMPV6_ECHO_REQUEST,
			       PS_ICMPV6_ECHO_REPLY, PS_PERR_ICMPV6_TRUNC);
	}
	return PS_PERR_NONE;
}

#endif
