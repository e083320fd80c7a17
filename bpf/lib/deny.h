/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The deny map: what a pod may not send (destination address and port). */
#ifndef PS_BPF_DENY_H
#define PS_BPF_DENY_H

#include "podsentry.h"
#include "lib/maps.h"
#include "lib/pkt.h"

extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

/* True when the pod `slot` may not send the packet `p`: an entry for its
 * destination address, protocol and port, or for the address and
 * protocol with port 0, says drop. An empty map (the usual case) costs
 * an element count instead of two lookups. */
static __always_inline bool deny_match(__u32 slot, const struct ps_pkt *p)
{
	struct ps_deny_key k;
	struct ps_deny *d;

	if (bpf_map_sum_elem_count((struct bpf_map *)&deny) <= 0)
		return false;

	k.slot = slot;
	k.family = p->family;
	k.proto = p->proto;
	k.port = p->dport;
	k.addr = p->daddr;
	d = bpf_map_lookup_elem(&deny, &k);
	if (!d && k.port) {
		k.port = 0;
		d = bpf_map_lookup_elem(&deny, &k);
	}
	return d && d->action == PS_DENY_DROP;
}

#endif
