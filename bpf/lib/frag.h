/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IP fragments: only the first fragment carries the transport header.
 * Its ports are remembered per (addresses, protocol, identification) so
 * that the later fragments of the same datagram land in the same flow.
 * The table is private to the flow programs and ages out by LRU.
 */
#ifndef PS_BPF_FRAG_H
#define PS_BPF_FRAG_H

#include "lib/pkt.h"

#ifndef PS_MAX_FRAGS
#define PS_MAX_FRAGS 8192
#endif

struct ps_frag_key {
	__u32 id;
	__u8 family;
	__u8 proto;
	__u16 pad;
	union ps_addr saddr;
	union ps_addr daddr;
};

struct ps_frag_ports {
	__be16 sport;
	__be16 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_FRAGS);
	__type(key, struct ps_frag_key);
	__type(value, struct ps_frag_ports);
} frags SEC(".maps");

static __always_inline void frag_key_of(struct ps_frag_key *k,
					const struct ps_pkt *p)
{
	k->id = p->frag_id;
	k->family = p->family;
	k->proto = p->proto;
	k->pad = 0;
	k->saddr = p->saddr;
	k->daddr = p->daddr;
}

/* First fragment: remember its ports. Later fragment: take them, or
 * return PS_PERR_FRAG_ORPHAN when the first one was not seen. */
static __always_inline int frag_ports(struct ps_pkt *p)
{
	struct ps_frag_ports *fp, v;
	struct ps_frag_key k;

	if (p->frag == PS_FRAG_NONE)
		return PS_PERR_NONE;
	frag_key_of(&k, p);
	if (p->frag == PS_FRAG_FIRST) {
		v.sport = p->sport;
		v.dport = p->dport;
		bpf_map_update_elem(&frags, &k, &v, BPF_ANY);
		return PS_PERR_NONE;
	}
	fp = bpf_map_lookup_elem(&frags, &k);
	if (!fp)
		return PS_PERR_FRAG_ORPHAN;
	p->sport = fp->sport;
	p->dport = fp->dport;
	return PS_PERR_NONE;
}

#endif
