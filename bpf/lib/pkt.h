/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the parsers in eth.h, ipv4.h, ipv6.h and l4.h fill in: a cursor
 * over the packet and the summary of one packet that flow.h turns into a
 * flow key. Every parser checks data_end before it reads a header and
 * returns PS_PERR_NONE or the reason it stopped (enum ps_parse_error).
 */
#ifndef PS_BPF_PKT_H
#define PS_BPF_PKT_H

#include "podsentry.h"

struct ps_cursor {
	void *pos;
	void *end;
};

enum ps_frag {
	PS_FRAG_NONE = 0,  /* not a fragment */
	PS_FRAG_FIRST = 1, /* offset 0, more to come: carries the ports */
	PS_FRAG_LATER = 2, /* offset > 0: no transport header */
};

struct ps_pkt {
	union ps_addr saddr;
	union ps_addr daddr;
	__u32 ip_len;  /* IP packet length, 0 = not given (jumbo) */
	__u32 hdr_len; /* IP + transport header bytes (for GSO) */
	__u32 frag_id; /* IPv4 id or IPv6 fragment identification */
	__be16 sport;
	__be16 dport;
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 proto;  /* last header of the IP chain */
	__u8 frag;   /* enum ps_frag */
	__u8 tcp_flags;
	__u8 icmp_echo; /* ICMP echo: 1 request, 2 reply; 0 other */
	__u8 pad;
	__u16 l3_off; /* offset of the IP header from the frame start */
	__be32 tcp_seq; /* TCP sequence and acknowledgement numbers */
	__be32 tcp_ack;
};

#define PS_AF_INET 2
#define PS_AF_INET6 10

/* Whether the packet goes to a group address: IPv4 multicast
 * (224.0.0.0/4) or limited broadcast, IPv6 multicast (ff00::/8). */
static __always_inline bool pkt_to_group(const struct ps_pkt *p)
{
	if (p->family == PS_AF_INET)
		return (p->daddr.b[0] & 0xf0) == 0xe0 ||
		       p->daddr.w[0] == 0xffffffff;
	return p->daddr.b[0] == 0xff;
}

#endif
