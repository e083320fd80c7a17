/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table: a parsed packet becomes a key seen from its pod (pod
 * side, peer side), so that both directions of a connection update one
 * entry. Events go to user space when a flow starts, when a TCP flow
 * ends (FIN both ways, RST) and every flow_update_ns of a long flow:
 * never one per packet.
 */
#ifndef PS_BPF_FLOW_H
#define PS_BPF_FLOW_H

#include "podsentry.h"
#include "lib/maps.h"
#include "lib/pkt.h"
#include "lib/l4.h"
#include "lib/sock.h"

/* Sums the per-CPU element counters of a hash map (kernel 6.6+). */
extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

/*
 * Flow times are boot-clock ns at tick resolution: the coarse monotonic
 * clock (a memory read) plus the boot-monotonic offset, which moves only
 * on suspend and is read again by a new flow when it is older than
 * PS_FLOW_CLOCK_SYNC_NS. Reading the precise clock costs ~40 ns on these
 * VMs, as much as a hash lookup; events still carry the precise boot time
 * in their header.
 */
#ifndef PS_FLOW_CLOCK_SYNC_NS
#define PS_FLOW_CLOCK_SYNC_NS 1000000000ULL
#endif

static __u64 flow_boot_off;  /* CLOCK_BOOTTIME - CLOCK_MONOTONIC */
static __u64 flow_synced_at; /* CLOCK_MONOTONIC of the last sync */
static bool flow_boot_off_set;

static __always_inline void flow_clock_sync(void)
{
	__u64 mono = bpf_ktime_get_ns();

	flow_boot_off = bpf_ktime_get_boot_ns() - mono;
	flow_synced_at = mono;
	flow_boot_off_set = true;
}

/* On the new-flow path: resynchronize now and then (the coarse clock
 * lags the precise one by up to a tick, hence the signed difference). */
static __always_inline void flow_clock_check(__u64 now)
{
	__s64 since = now - flow_boot_off - flow_synced_at;

	if (since >= (__s64)PS_FLOW_CLOCK_SYNC_NS)
		flow_clock_sync();
}

static __always_inline __u64 flow_now(void)
{
	if (!flow_boot_off_set)
		flow_clock_sync();
	return bpf_ktime_get_coarse_ns() + flow_boot_off;
}

/* What one packet adds to its flow. */
struct ps_flow_pkt {
	__u64 bytes; /* IP length, GSO segments' headers included */
	__u32 segs;  /* 1, or the GSO segment count */
	bool from_pod;
	__u8 verdict; /* enum ps_flow_verdict: what happened to the packet */
	__u32 netns;  /* the pod's netns inode: socks lookups, 0 = none */
};

/* A flow key as words, written by flow_key_of (see map_key_word). */
union ps_flow_key_words {
	struct ps_flow_key k;
	__u32 w[sizeof(struct ps_flow_key) / 4];
};

_Static_assert(__builtin_offsetof(struct ps_flow_key, pod_addr) == 12 &&
		   __builtin_offsetof(struct ps_flow_key, peer_addr) == 28,
	       "flow_key_of writes ps_flow_key as words");

/* The key of `p` seen from its pod: slot, family, protocol, then the
 * pod's port, the peer's port, the pod's and the peer's address. */
static __always_inline void flow_key_of(union ps_flow_key_words *kw,
					const struct ps_pkt *p, __u32 slot,
					bool from_pod)
{
	const union ps_addr *pod = from_pod ? &p->saddr : &p->daddr;
	const union ps_addr *peer = from_pod ? &p->daddr : &p->saddr;
	__be16 pod_port = from_pod ? p->sport : p->dport;
	__be16 peer_port = from_pod ? p->dport : p->sport;
	int i;

	kw->w[0] = slot;
	kw->w[1] = map_key_word(map_key_half(p->family, p->proto), pod_port);
	kw->w[2] = map_key_word(peer_port, 0); /* and pad */
#pragma unroll
	for (i = 0; i < 4; i++) {
		kw->w[3 + i] = pod->w[i];
		kw->w[7 + i] = peer->w[i];
	}
}

/* A flows4 key as words. */
union ps_flow_key4_words {
	struct ps_flow_key4 k;
	__u32 w[sizeof(struct ps_flow_key4) / 4];
};

_Static_assert(__builtin_offsetof(struct ps_flow_key4, pod_addr) == 12 &&
		   __builtin_offsetof(struct ps_flow_key4, peer_addr) == 16,
	       "flow_key4_of writes ps_flow_key4 as words");

/* The flows4 key of the IPv4 packet `p` seen from its pod. */
static __always_inline void flow_key4_of(union ps_flow_key4_words *kw,
					 const struct ps_pkt *p, __u32 slot,
					 bool from_pod)
{
	__be16 pod_port = from_pod ? p->sport : p->dport;
	__be16 peer_port = from_pod ? p->dport : p->sport;

	kw->w[0] = slot;
	kw->w[1] = map_key_word(map_key_half(p->family, p->proto), pod_port);
	kw->w[2] = map_key_word(peer_port, 0); /* and pad */
	kw->w[3] = from_pod ? p->saddr.w[0] : p->daddr.w[0];
	kw->w[4] = from_pod ? p->daddr.w[0] : p->saddr.w[0];
}

/* One event: `ktime` is the precise boot-clock time of the event. */
static __always_inline void flow_emit(const struct ps_flow_key *k,
				      const struct ps_flow *f, __u32 type,
				      __u32 reason, __u64 ktime)
{
	struct ps_flow_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		drop_count(PS_DROP_RB_FLOW);
		return;
	}
	e->hdr.type = type;
	e->hdr.cpu = bpf_get_smp_processor_id();
	e->hdr.ktime = ktime;
	e->key = *k;
	e->reason = reason;
	e->flow = *f;
	events_submit(e, sizeof(*e));
}

/* TCP state after a packet with these flags; returns the end reason when
 * the flow closes with it, or -1. The per-direction flags are already
 * updated. */
static __always_inline int flow_tcp_state(struct ps_flow *f, __u8 flags)
{
	if (f->state == PS_FLOW_CLOSED)
		return -1;
	if (flags & PS_TCP_RST) {
		f->state = PS_FLOW_CLOSED;
		return PS_FLOW_R_RST;
	}
	if (f->tcp_flags_out & f->tcp_flags_in & PS_TCP_FIN) {
		f->state = PS_FLOW_CLOSED;
		return PS_FLOW_R_FIN;
	}
	if (flags & PS_TCP_FIN) {
		if (f->state != PS_FLOW_CLOSING)
			f->state = PS_FLOW_CLOSING;
	} else if (f->state == PS_FLOW_NEW &&
		   (f->tcp_flags_out & f->tcp_flags_in & PS_TCP_SYN)) {
		f->state = PS_FLOW_ESTABLISHED;
	}
	return -1;
}

/* A fresh entry for the first packet of a flow (or of a new connection
 * on the tuple of a closed one). It starts at the precise time `boot`,
 * which also tells connections on one tuple apart; last_seen moves on
 * with the coarse clock (`now`) and never goes below it. */
static __always_inline void flow_init(struct ps_flow *f, const struct ps_pkt *p,
				      const struct ps_flow_pkt *fp, __u64 boot,
				      __u64 now)
{
	__u8 sender = fp->from_pod ? PS_SIDE_POD : PS_SIDE_PEER;
	__u8 receiver = fp->from_pod ? PS_SIDE_PEER : PS_SIDE_POD;

	__builtin_memset(f, 0, sizeof(*f));
	f->first_seen = boot;
	f->last_seen = boot;
	f->last_report = now;
	if (fp->from_pod) {
		f->packets_out = fp->segs;
		f->bytes_out = fp->bytes;
	} else {
		f->packets_in = fp->segs;
		f->bytes_in = fp->bytes;
	}
	f->state = PS_FLOW_NEW;
	f->verdict = fp->verdict;
	if (p->proto != PS_IPPROTO_TCP) {
		f->opener = p->icmp_echo == 2 ? receiver : sender;
		return;
	}
	if (fp->from_pod)
		f->tcp_flags_out = p->tcp_flags;
	else
		f->tcp_flags_in = p->tcp_flags;
	if (p->tcp_flags & PS_TCP_SYN) {
		f->opener = p->tcp_flags & PS_TCP_ACK ? receiver : sender;
	} else {
		/* picked up midway: the connection exists already */
		f->opener = PS_SIDE_UNKNOWN;
		f->state = PS_FLOW_ESTABLISHED;
	}
}

/* The LRU evicts in batches when its free lists run dry: one insert may
 * remove many flows, so count them all (drops holds counters, not flags). */
static __always_inline void flow_evictions_count(__s64 n)
{
	__u32 key = PS_DROP_FLOW_EVICTED;
	__u64 *c;

	if (n <= 0)
		return;
	c = bpf_map_lookup_elem(&drops, &key);
	if (c)
		*c += n;
}

/* Start a flow at `k` with this packet and report it: a new entry
 * (BPF_NOEXIST: -EEXIST when another CPU was first) or a new connection
 * on the tuple of a closed one (BPF_ANY, replacing it). What the element count
 * of the table did not grow by is what the insert made the LRU evict (exact
 * unless another CPU inserts or deletes at the same time). */
#define PS_EEXIST 17

/* Whether the socks map can know this packet's socket yet: a TCP socket
 * is entered once it is established, so a handshake packet (SYN set)
 * is never found there and is not looked up (~5 lookups less per
 * connection). */
static __always_inline bool flow_owner_findable(const struct ps_pkt *p)
{
	return p->proto != PS_IPPROTO_TCP || !(p->tcp_flags & PS_TCP_SYN);
}

static __always_inline int flow_start(void *map, const void *mk,
				      const struct ps_flow_key *k,
				      const struct ps_pkt *p,
				      const struct ps_flow_pkt *fp, __u64 how,
				      __u64 now)
{
	__s64 grow = how == BPF_NOEXIST ? 1 : 0;
	struct ps_flow f;
	__s64 before, after;
	__u64 boot;
	int end, err;

	boot = bpf_ktime_get_boot_ns();
	flow_init(&f, p, fp, boot, now);
	if (fp->netns && flow_owner_findable(p))
		sock_owner_of(k, fp->netns, f.first_seen, &f.owner);
	end =
	    p->proto == PS_IPPROTO_TCP ? flow_tcp_state(&f, p->tcp_flags) : -1;
	before = bpf_map_sum_elem_count(map);
	err = bpf_map_update_elem(map, mk, &f, how);
	if (err) {
		if (err != -PS_EEXIST)
			drop_count(PS_DROP_FLOWS_FULL);
		return err;
	}
	after = bpf_map_sum_elem_count(map);
	flow_evictions_count(before + grow - after);
	flow_emit(k, &f, PS_EV_FLOW_START, PS_FLOW_R_NEW, boot);
	if (end >= 0)
		flow_emit(k, &f, PS_EV_FLOW_END, end, boot);
	flow_clock_check(now);
	return 0;
}

/* Account one packet of pod `slot` to its flow, the entry at key `mk` of
 * `map` (flows4 or flows6), starting the flow if needed. The event key
 * (struct ps_flow_key) is made only on the paths that need it. */
static __always_inline void flow_packet(void *map, const void *mk,
					const struct ps_pkt *p,
					const struct ps_flow_pkt *fp,
					__u32 slot, __u64 update_ns)
{
	struct ps_flow *f = bpf_map_lookup_elem(map, mk);
	union ps_flow_key_words k;
	__u8 flags = p->tcp_flags;
	__u64 how = BPF_NOEXIST;
	/* read after the lookup: fewer values live across the call */
	__u64 now = flow_now();
	int end = -1;

	/* a SYN on the tuple of a closed connection opens a new one */
	if (f && p->proto == PS_IPPROTO_TCP && f->state == PS_FLOW_CLOSED &&
	    (flags & (PS_TCP_SYN | PS_TCP_ACK)) == PS_TCP_SYN) {
		f = NULL;
		how = BPF_ANY;
	}
	if (!f) {
		flow_key_of(&k, p, slot, fp->from_pod);
		if (flow_start(map, mk, &k.k, p, fp, how, now) != -PS_EEXIST)
			return;
		/* another CPU started it first: count the packet there */
		f = bpf_map_lookup_elem(map, mk);
		if (!f)
			return;
	}
	/* its socket may have been established after its first packet */
	if (!f->owner.pid && fp->netns && flow_owner_findable(p) &&
	    f->packets_out + f->packets_in < PS_OWNER_RETRY_PKTS) {
		flow_key_of(&k, p, slot, fp->from_pod);
		sock_owner_of(&k.k, fp->netns, f->first_seen, &f->owner);
	}
	if (p->proto == PS_IPPROTO_TCP) {
		__u8 *seen =
		    fp->from_pod ? &f->tcp_flags_out : &f->tcp_flags_in;

		if ((*seen | flags) != *seen)
			*seen |= flags;
		end = flow_tcp_state(f, flags);
	}
	if (fp->from_pod) {
		__sync_fetch_and_add(&f->packets_out, fp->segs);
		__sync_fetch_and_add(&f->bytes_out, fp->bytes);
	} else {
		__sync_fetch_and_add(&f->packets_in, fp->segs);
		__sync_fetch_and_add(&f->bytes_in, fp->bytes);
	}
	if (now > f->last_seen)
		f->last_seen = now;
	if (f->verdict != fp->verdict)
		f->verdict = fp->verdict;
	if (end >= 0) {
		/* the end, like the start, at the precise time: the coarse
		 * clock would give a flow shorter than a tick no duration */
		__u64 boot = bpf_ktime_get_boot_ns();

		if (boot > f->last_seen)
			f->last_seen = boot;
		flow_key_of(&k, p, slot, fp->from_pod);
		flow_emit(&k.k, f, PS_EV_FLOW_END, end, boot);
		return;
	}
	if (f->state == PS_FLOW_NEW && p->proto != PS_IPPROTO_TCP &&
	    f->packets_out && f->packets_in)
		f->state = PS_FLOW_ESTABLISHED;
	if (update_ns && f->state != PS_FLOW_CLOSED &&
	    (__s64)(now - f->last_report) >= (__s64)update_ns) {
		f->last_report = now;
		flow_key_of(&k, p, slot, fp->from_pod);
		flow_emit(&k.k, f, PS_EV_FLOW_UPDATE, PS_FLOW_R_PERIODIC,
			  bpf_ktime_get_boot_ns());
	}
}

#endif
