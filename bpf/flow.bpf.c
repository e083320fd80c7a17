// SPDX-License-Identifier: GPL-2.0-only
/*
 * Programs on each pod's host-side veth, attached by podsentry-cni.
 * TC ingress on the host veth sees what the pod sends, TC egress what it
 * receives. Both count the pod's packets; each packet is parsed down to
 * its ports and accounted to its flow once on the node: at the ingress
 * of the pod that sent it, or at the egress to the pod it goes to when no
 * pod of the node sent it. A packet they cannot parse is counted by
 * reason and passed. Both return TC_ACT_UNSPEC so that other filters
 * still run. XDP on the host veth drops what the deny map forbids and
 * accounts the dropped packets to their flow, with verdict DROP.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "podsentry.h"
#include "lib/maps.h"
#include "lib/pkt.h"
#include "lib/eth.h"
#include "lib/ipv4.h"
#include "lib/ipv6.h"
#include "lib/l4.h"
#include "lib/frag.h"
#include "lib/flow.h"
#include "lib/deny.h"

char LICENSE[] SEC("license") = "GPL";

#define TC_ACT_UNSPEC (-1)

/* Headers that the skb's linear part does not hold are pulled in, up to
 * this many bytes of the packet. */
#ifndef PS_PULL_LEN
#define PS_PULL_LEN 128
#endif

/* Interval of FLOW_UPDATE events of a long flow (0 for none), and
 * whether short TCP connections are folded into flow_agg; set before
 * load. */
const volatile __u64 flow_update_ns = PS_FLOW_UPDATE_NS_DEFAULT;
const volatile bool flow_aggregate;
/* Boot ns of the daemon's last read of flow_agg: a folded connection
 * that started since counts as started in the interval. */
__u64 agg_since;

/* The per-CPU counters of pod `slot`; NULL (and counted) when the slot
 * is beyond the array. */
static __always_inline struct ps_pod_stats *pod_stats_of(__u32 slot)
{
	struct ps_pod_stats *st = bpf_map_lookup_elem(&pod_stats, &slot);

	if (!st)
		drop_count(PS_DROP_POD_STATS_FULL);
	return st;
}

/*
 * The common case in one pass: Ethernet without VLAN tag, IPv4 without
 * options that is not a fragment, then TCP or UDP, all in the linear
 * part. It fills p exactly as the parsers below would and returns true;
 * for anything else, malformed headers included, it returns false and
 * leaves p alone, and the parsers below decide (and count errors). Their
 * branches and the variable header lengths cost ~5 ns a packet.
 */
static __always_inline bool pkt_parse_ipv4_plain(struct ps_cursor *c,
						 struct ps_pkt *p)
{
	struct ethhdr *eth = c->pos;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1); /* UDP: ports alike */
	__u32 tot;
	__u8 doff;

	if ((void *)(th + 1) > c->end ||
	    eth->h_proto != bpf_htons(PS_ETH_P_IP) ||
	    *(__u8 *)ip != 0x45 /* version 4, IHL 5 */ ||
	    (ip->frag_off & bpf_htons(PS_IP_MF | PS_IP_OFFMASK)))
		return false;
	tot = bpf_ntohs(ip->tot_len);
	if (tot && tot < sizeof(*ip))
		return false;
	if (ip->protocol == PS_IPPROTO_TCP) {
		doff = ((__u8 *)th)[12] >> 4;
		if (doff < 5)
			return false;
		p->tcp_flags = ((__u8 *)th)[13];
		p->tcp_seq = th->seq;
		p->tcp_ack = th->ack_seq;
		p->hdr_len = sizeof(*ip) + doff * 4;
	} else if (ip->protocol == PS_IPPROTO_UDP) {
		p->hdr_len = sizeof(*ip) + sizeof(struct udphdr);
	} else {
		return false;
	}
	p->l3_off = sizeof(*eth);
	p->family = PS_AF_INET;
	p->proto = ip->protocol;
	p->saddr.w[0] = ip->saddr;
	p->daddr.w[0] = ip->daddr;
	p->ip_len = tot;
	p->frag_id = bpf_ntohs(ip->id);
	p->sport = th->source;
	p->dport = th->dest;
	return true;
}

/* The pod behind host veth `ifindex`, NULL when it is none. */
static __always_inline const struct ps_pod_iface *pod_iface_of(__u32 ifindex)
{
	const struct ps_pod_iface *pi;

	if (ifindex < PS_IFINDEX_LOW) {
		pi = bpf_map_lookup_elem(&pod_ifindex_low, &ifindex);
		return pi && pi->netns_ino ? pi : NULL;
	}
	return bpf_map_lookup_elem(&pod_ifindex, &ifindex);
}

/* Parse Ethernet to the transport header. p->family stays 0 for what is
 * not IP (ARP, LLDP...): not an error, not a flow. */
static __always_inline int pkt_parse(struct ps_cursor *c, struct ps_pkt *p)
{
	void *start = c->pos;
	__be16 proto;
	int err;

	if (pkt_parse_ipv4_plain(c, p))
		return PS_PERR_NONE;
	err = eth_parse(c, &proto);
	if (err)
		return err;
	p->l3_off = c->pos - start;
	if (proto == bpf_htons(PS_ETH_P_IP))
		err = ipv4_parse(c, p);
	else if (proto == bpf_htons(PS_ETH_P_IPV6))
		err = ipv6_parse(c, p);
	else
		return PS_PERR_NONE;
	if (err)
		return err;
	err = l4_parse(c, p);
	if (err)
		return err;
	return frag_ports(p);
}

/* Parse what the skb's linear part holds into p, zeroed first. */
static __always_inline int skb_parse_inline(struct __sk_buff *skb,
					    struct ps_pkt *p)
{
	struct ps_cursor c;

	__builtin_memset(p, 0, sizeof(*p));
	/* keep clang from reaching data/data_end through a computed
	 * context pointer, which the verifier refuses */
	asm volatile("" : "+r"(skb));
	c.pos = (void *)(long)skb->data;
	c.end = (void *)(long)skb->data_end;
	return pkt_parse(&c, p);
}

/* The same, for the second parse after a pull: a global function, so
 * that the verifier checks the parsers once more, not once for every way
 * through the first parse. */
__noinline int skb_parse(struct __sk_buff *skb, struct ps_pkt *p)
{
	return p ? skb_parse_inline(skb, p) : PS_PERR_NONE;
}

/*
 * Account the parsed packet `p` to its flow. Inline: as a global
 * function (checked by the verifier once, not once for every way through
 * the parsers) it cost ~20 ns a packet more in flow_pkt_cost, for the
 * call and the packet read back through pointers; since the common case
 * is parsed in one pass (pkt_parse_ipv4_plain) and the second parse is
 * out of line (skb_parse), inline it costs the verifier ~236k
 * instructions for tc_ingress instead of ~140k.
 */
static __always_inline int flow_account(const struct ps_pkt *p,
					const struct ps_flow_pkt *fp)
{
	const struct ps_flow_cfg cfg = {
		.update_ns = flow_update_ns,
		.aggregate = flow_aggregate,
		.agg_since = agg_since,
	};
	union ps_flow_key_words k;
	union ps_flow_key4_words k4;
	int sender;

	if (p->family == PS_AF_INET) {
		sender = flow_key4_of(&k4, p);
		flow_packet(&flows4, &k4.k, &k.k, false, p, fp, sender, &cfg);
	} else {
		sender = flow_key_of(&k, p);
		flow_packet(&flows6, &k.k, &k.k, true, p, fp, sender, &cfg);
	}
	return 0;
}

static __always_inline int tc_flow(struct __sk_buff *skb, bool from_pod)
{
	const struct ps_pod_iface *pi;
	struct ps_pod_stats *st;
	struct ps_flow_pkt fp;
	struct ps_pkt p;
	__u32 slot, avail, linear, len = skb->len, ifindex = skb->ifindex;
	int err;

	pi = pod_iface_of(ifindex);
	if (!pi)
		return TC_ACT_UNSPEC;
	slot = pi->slot;
	st = pod_stats_of(slot);
	if (st) {
		if (from_pod) {
			st->packets_out++;
			st->bytes_out += len;
		} else {
			st->packets_in++;
			st->bytes_in += len;
		}
	}
	/* sent by a pod of this node: its flow counted it at that pod's
	 * veth (the bridge or the routing kept its ingress device) */
	if (!from_pod && skb->ingress_ifindex &&
	    pod_iface_of(skb->ingress_ifindex))
		return TC_ACT_UNSPEC;

	/* The sending stack keeps its headers in the linear part; payload
	 * often is not (page frags). Pulling it in unasked would copy it on
	 * every such packet, so only headers found cut short are pulled in,
	 * and the packet parsed again. */
	linear = skb->data_end - skb->data;
	err = skb_parse_inline(skb, &p);
	if (err && len > linear) {
		bpf_skb_pull_data(skb, len < PS_PULL_LEN ? len : PS_PULL_LEN);
		err = skb_parse(skb, &p);
	}
	if (err) {
		parse_error_count(err);
		return TC_ACT_UNSPEC;
	}
	if (!p.family)
		return TC_ACT_UNSPEC;

	/* IP length as the header says, unless it is 0 (TSO, jumbo) or
	 * claims more than the packet holds; a GSO packet stands for
	 * gso_segs packets, each with its own headers. gso_segs lives in
	 * another cache line (~5 ns): packets without payload (ACKs) are
	 * never GSO and skip it. */
	avail = len - p.l3_off;
	fp.bytes = p.ip_len && p.ip_len <= avail ? p.ip_len : avail;
	fp.segs = 1;
	if (avail > p.hdr_len && skb->gso_segs > 1) {
		fp.segs = skb->gso_segs;
		fp.bytes += (__u64)(fp.segs - 1) * p.hdr_len;
	}
	/* Ethernet padding is not payload: the IP length says */
	fp.payload = (p.ip_len ? p.ip_len : avail) > p.hdr_len;
	fp.from_pod = from_pod;
	fp.verdict = PS_VERDICT_PASS;
	fp.netns = pi->netns_ino;
	fp.slot = slot;
	/* A group address is no pod's: what the host or the outside sends
	 * to one (MLD and IGMP reports, router solicitations...) is flooded
	 * to every pod of the bridge, one flow of no pod end, counted at
	 * each veth it leaves by (the pods' own counters above still count
	 * it as theirs). */
	if (!from_pod && pkt_to_group(&p)) {
		fp.netns = 0;
		fp.slot = 0;
	}
	flow_account(&p, &fp);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	return tc_flow(skb, true);
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	return tc_flow(skb, false);
}

SEC("xdp")
int xdp_pod(struct xdp_md *ctx)
{
	const struct ps_pod_iface *pi;
	struct ps_pod_stats *st;
	struct ps_flow_pkt fp;
	struct ps_cursor c;
	struct ps_pkt p = {};
	__u32 slot, len, ifindex = ctx->ingress_ifindex;

	pi = pod_iface_of(ifindex);
	if (!pi)
		return XDP_PASS;
	slot = pi->slot;
	st = pod_stats_of(slot);
	if (st)
		st->xdp_packets++;
	if (deny_empty())
		return XDP_PASS;
	c.pos = (void *)(long)ctx->data;
	c.end = (void *)(long)ctx->data_end;
	/* parse errors are counted once, by TC ingress, which sees the
	 * packet next */
	if (pkt_parse(&c, &p) || !p.family)
		return XDP_PASS;
	if (!deny_match(slot, &p))
		return XDP_PASS;
	if (st)
		st->xdp_dropped++;
	/* account it here, to a flow whose verdict says so: TC never sees
	 * it (XDP sees single packets, no GSO) */
	len = ctx->data_end - ctx->data - p.l3_off;
	fp.bytes = p.ip_len && p.ip_len <= len ? p.ip_len : len;
	fp.segs = 1;
	fp.payload = (p.ip_len ? p.ip_len : len) > p.hdr_len;
	fp.from_pod = true;
	fp.verdict = PS_VERDICT_DROP;
	fp.netns = 0; /* a dropped packet's socket: not looked up */
	fp.slot = slot;
	flow_account(&p, &fp);
	return XDP_DROP;
}
