/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The deny map: what a pod may not send (destination address and port). */
#ifndef PS_BPF_DENY_H
#define PS_BPF_DENY_H

#include "podsentry.h"
#include "lib/maps.h"
#include "lib/pkt.h"

extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

/* An empty map (the usual case) denies nothing: an element count tells,
 * instead of parsing the packet and looking it up twice. */
static __always_inline bool deny_empty(void)
{
	return bpf_map_sum_elem_count((struct bpf_map *)&deny) <= 0;
}

/* A deny key as words (see map_key_word). */
union ps_deny_key_words {
	struct ps_deny_key k;
	__u32 w[sizeof(struct ps_deny_key) / 4];
};

_Static_assert(__builtin_offsetof(struct ps_deny_key, addr) == 8,
	       "deny_match writes ps_deny_key as words");

/* True when the pod `slot` may not send the packet `p`: an entry for its
 * destination address, protocol and port, or for the address and
 * protocol with port 0, says drop. */
static __always_inline bool deny_match(__u32 slot, const struct ps_pkt *p)
{
	union ps_deny_key_words k;
	struct ps_deny *d;
	__u16 fam_proto = map_key_half(p->family, p->proto);
	int i;

	k.w[0] = slot;
	k.w[1] = map_key_word(fam_proto, p->dport);
#pragma unroll
	for (i = 0; i < 4; i++)
		k.w[2 + i] = p->daddr.w[i];
	d = bpf_map_lookup_elem(&deny, &k.k);
	if (!d && p->dport) {
		k.w[1] = map_key_word(fam_proto, 0);
		d = bpf_map_lookup_elem(&deny, &k.k);
	}
	return d && d->action == PS_DENY_DROP;
}

#endif
