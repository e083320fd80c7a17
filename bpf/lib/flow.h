/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table: one entry per connection on the node, under a key
 * made from the packet alone (side 0 is the end with the lower address
 * and port), so that both directions, and both pods' veths, update the
 * same entry. A flow is sent to user space once, when a TCP flow ends
 * (RST, or the ACK of the last FIN), and every flow_update_ns of a long
 * flow; never per packet, never at its start. With aggregation on, a
 * short TCP connection is folded into flow_agg instead. UDP and other
 * flows end by the daemon's idle sweep of the table.
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
 * The address of this CPU's element counter of hash map `map` (kernel
 * 6.6+), 0 where it cannot be found. The kernel counts an insert, and
 * what the insert makes the LRU evict, on the CPU that inserts, in the
 * same call: this CPU's counter moves between two reads in one program
 * only by what the program did, whatever the other CPUs insert and
 * delete meanwhile; the sum of all CPUs' moves with theirs too. The
 * counter is a per-CPU variable: on this CPU it lies at its per-CPU
 * address plus this CPU's offset, and that offset is where this CPU's
 * value of the per-CPU array `drops` lies minus the value's per-CPU
 * address (kallsyms here has no per-CPU symbols to ask), found once per
 * CPU and kept in `cpu_offset` (two probe reads less a new flow).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cpu_offset SEC(".maps"); /* this CPU's offset, once found; 0: not yet */

static __always_inline unsigned long map_counter_this_cpu(void *map)
{
	const struct bpf_map *m = map;
	const struct bpf_array *d;
	unsigned long a[2];
	__u32 key = 0;
	unsigned long cnt;
	__u64 *off;
	void *p[2];

	/* read once: the verifier refuses an address computed from the
	 * map's for a second read */
	cnt = (unsigned long)m->elem_count;
	asm volatile("" : "+r"(cnt));
	off = bpf_map_lookup_elem(&cpu_offset, &key);
	if (!off || !cnt)
		return 0;
	if (*off)
		return cnt + *off;
	/* the addresses of drops and of its value here as numbers: copied
	 * from the stack, as no pointer arithmetic the verifier allows
	 * could give them */
	p[0] = &drops;
	p[1] = bpf_map_lookup_elem(&drops, &key);
	if (!p[1] || bpf_probe_read_kernel(a, sizeof(a), p))
		return 0;
	d = (const void *)a[0];
	if (bpf_probe_read_kernel(&a[0], sizeof(a[0]), &d->pptrs[0]))
		return 0;
	*off = a[1] - a[0];
	return cnt + *off;
}

/* The element count of `map`: this CPU's counter at `counter`
 * (map_counter_this_cpu), else the sum of all CPUs'. */
static __always_inline __s64 map_count(void *map, unsigned long counter)
{
	__s64 n;

	if (counter && !bpf_probe_read_kernel(&n, sizeof(n), (void *)counter))
		return n;
	return bpf_map_sum_elem_count(map);
}

/*
 * Flow times are boot-clock ns at tick resolution: jiffies (a load the
 * verifier inlines for bpf_jiffies64) times the tick length, plus the
 * offset to the boot clock, which moves only on suspend and is read again
 * by a new flow when it is older than PS_FLOW_CLOCK_SYNC_NS. Reading the
 * precise clock costs ~40 ns on these VMs, as much as a hash lookup, the
 * coarse one a helper call; a flow's start and end are precise. Without
 * CONFIG_HZ (no kernel config to read) the coarse clock serves.
 */
#ifndef PS_FLOW_CLOCK_SYNC_NS
#define PS_FLOW_CLOCK_SYNC_NS 1000000000ULL
#endif

extern unsigned int CONFIG_HZ __kconfig __weak;

static __u64 flow_boot_off;  /* boot clock - tick clock */
static __u64 flow_tick_ns;   /* 0: the coarse clock */
static __u64 flow_synced_at; /* boot clock of the last sync */
static bool flow_boot_off_set;

static __always_inline __u64 flow_ticks(void)
{
	return flow_tick_ns ? bpf_jiffies64() * flow_tick_ns
			    : bpf_ktime_get_coarse_ns();
}

static __always_inline void flow_clock_sync(void)
{
	__u64 boot;

	flow_tick_ns = CONFIG_HZ ? 1000000000ULL / CONFIG_HZ : 0;
	boot = bpf_ktime_get_boot_ns();
	flow_boot_off = boot - flow_ticks();
	flow_synced_at = boot;
	flow_boot_off_set = true;
}

/* On the new-flow path: resynchronize now and then. */
static __always_inline void flow_clock_check(__u64 now)
{
	if ((__s64)(now - flow_synced_at) >= (__s64)PS_FLOW_CLOCK_SYNC_NS)
		flow_clock_sync();
}

static __always_inline __u64 flow_now(void)
{
	if (!flow_boot_off_set)
		flow_clock_sync();
	return flow_ticks() + flow_boot_off;
}

/* What one packet adds to its flow, and where it was seen. */
struct ps_flow_pkt {
	__u64 bytes;  /* IP length, GSO segments' headers included */
	__u32 segs;   /* 1, or the GSO segment count */
	__u32 netns;  /* the veth's pod's netns inode: UDP owner lookups,
		       * 0 = none */
	__u16 slot;   /* the veth's pod */
	bool from_pod; /* sent by the veth's pod (else sent to it) */
	bool payload; /* carries data beyond its headers */
	__u8 verdict; /* enum ps_flow_verdict: what happened to the packet */
};

/* Configuration set before load (flow.bpf.c rodata). */
struct ps_flow_cfg {
	__u64 update_ns; /* FLOW_UPDATE interval of a long flow, 0: none */
	__u64 agg_since; /* boot ns: the daemon's last read of flow_agg */
	bool aggregate;	 /* fold short TCP connections into flow_agg */
};

/* A flow key as words (see map_key_word). */
union ps_flow_key_words {
	struct ps_flow_key k;
	__u32 w[sizeof(struct ps_flow_key) / 4];
};

union ps_flow_key4_words {
	struct ps_flow_key4 k;
	__u32 w[sizeof(struct ps_flow_key4) / 4];
};

_Static_assert(__builtin_offsetof(struct ps_flow_key, port) == 32 &&
		       __builtin_offsetof(struct ps_flow_key, family) == 36,
	       "flow_key_of writes ps_flow_key as words");
_Static_assert(__builtin_offsetof(struct ps_flow_key4, port) == 8 &&
		       __builtin_offsetof(struct ps_flow_key4, family) == 12,
	       "flow_key4_of writes ps_flow_key4 as words");

/* The flows4 key of the IPv4 packet `p`; returns the side that sent it. */
static __always_inline int flow_key4_of(union ps_flow_key4_words *kw,
					const struct ps_pkt *p)
{
	__u32 s = p->saddr.w[0], d = p->daddr.w[0];
	int lower = s < d || (s == d && p->sport < p->dport);

	kw->w[0] = lower ? s : d;
	kw->w[1] = lower ? d : s;
	kw->w[2] = lower ? map_key_word(p->sport, p->dport)
			 : map_key_word(p->dport, p->sport);
	kw->w[3] = map_key_word(map_key_half(p->family, p->proto), 0);
	return !lower;
}

/* The key of any packet `p` as struct ps_flow_key; returns the side that
 * sent it. */
static __always_inline int flow_key_of(union ps_flow_key_words *kw,
				       const struct ps_pkt *p)
{
	const union ps_addr *lo, *hi;
	int lower = ps_flow_side_lower(p->saddr.w, p->sport, p->daddr.w,
				       p->dport, p->family == PS_AF_INET ? 1 : 4);
	int i;

	lo = lower ? &p->saddr : &p->daddr;
	hi = lower ? &p->daddr : &p->saddr;
#pragma unroll
	for (i = 0; i < 4; i++) {
		kw->w[i] = lo->w[i];
		kw->w[4 + i] = hi->w[i];
	}
	kw->w[8] = lower ? map_key_word(p->sport, p->dport)
			 : map_key_word(p->dport, p->sport);
	kw->w[9] = map_key_word(map_key_half(p->family, p->proto), 0);
	return !lower;
}

/* The event key of a flows4 key. */
static __always_inline void flow_key_from4(struct ps_flow_key *k,
					   const struct ps_flow_key4 *k4)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->addr[0].w[0] = k4->addr[0];
	k->addr[1].w[0] = k4->addr[1];
	k->port[0] = k4->port[0];
	k->port[1] = k4->port[1];
	k->family = k4->family;
	k->proto = k4->proto;
}

/* One event; false when the ring buffer is full (counted). `ktime` is
 * the precise boot-clock time of the event. */
static __always_inline bool flow_emit(const struct ps_flow_key *k,
				      const struct ps_flow *f, __u32 type,
				      __u32 reason, __u64 ktime,
				      enum ps_drop_reason lost)
{
	struct ps_flow_event *e;

	e = events_reserve(sizeof(*e), type, ktime, lost);
	if (!e)
		return false;
	e->key = *k;
	e->reason = reason;
	e->pad = 0;
	e->flow = *f;
	events_submit(e, sizeof(*e));
	return true;
}

/* The acknowledgement number that acks the FIN of TCP packet `p`: its
 * sequence number plus its payload (GSO segments' included) and the
 * FIN's own. */
static __always_inline __u32 flow_fin_ack(const struct ps_pkt *p,
					  const struct ps_flow_pkt *fp)
{
	__u64 hdrs = (__u64)fp->segs * p->hdr_len;
	__u32 payload = fp->bytes > hdrs ? fp->bytes - hdrs : 0;

	return bpf_ntohl(p->tcp_seq) + payload + 1;
}

/* fin_acked's place in the word meta */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PS_FIN_ACKED_SHIFT                                                     \
	((offsetof(struct ps_flow, fin_acked) -                                \
	  offsetof(struct ps_flow, meta)) * 8)
#else
#define PS_FIN_ACKED_SHIFT                                                     \
	((7 - (offsetof(struct ps_flow, fin_acked) -                           \
	       offsetof(struct ps_flow, meta))) * 8)
#endif

/* Mark the FIN of side `side` acknowledged; true when that made both
 * sides' acknowledged, which one packet sees. The other bytes of meta
 * are stored plainly by other CPUs: the compare-and-swap tries again
 * when one of them changed. */
static __always_inline bool flow_fin_acked(struct ps_flow *f, int side)
{
	const __u64 both = (__u64)3 << PS_FIN_ACKED_SHIFT;
	__u64 bit = (__u64)(1U << (side & 1)) << PS_FIN_ACKED_SHIFT;
	__u64 old = *(volatile __u64 *)&f->meta, was;
	int i;

	for (i = 0; i < 8; i++) {
		if (old & bit)
			return false; /* an earlier packet acknowledged it */
		was = __sync_val_compare_and_swap(&f->meta, old, old | bit);
		if (was == old)
			return ((old | bit) & both) == both;
		old = was;
	}
	return false;
}

/* Step the open flow `f` from state `st` to `to`. The steps before
 * CLOSED only go forward and name what was seen; one that finds another
 * CPU's step done first leaves it. */
static __always_inline void flow_state_step(struct ps_flow *f, __u64 st,
					    __u64 to)
{
	if (st != to)
		__sync_val_compare_and_swap(&f->state, st, to);
}

/* Close `f`, which was in state `st`, from whatever open state another
 * CPU has stepped it to since; false when it was closed already (the
 * packet that did it ends it). */
static __always_inline bool flow_close(struct ps_flow *f, __u64 st)
{
	__u64 was;
	int i;

	for (i = 0; i < 4; i++) {
		if (st == PS_FLOW_CLOSED)
			return false;
		was = __sync_val_compare_and_swap(&f->state, st,
						  PS_FLOW_CLOSED);
		if (was == st)
			return true;
		st = was;
	}
	return false;
}

/*
 * Update end `sender`'s TCP flags with packet `p` and return the end
 * reason when the flow closes with it, or -1. A flow closes at RST, or
 * once each end's FIN is acknowledged by the other: by sequence numbers,
 * so that when both ends close at once the ACK of each FIN is counted,
 * whichever comes last. Both ends' packets may update one entry from two
 * CPUs at once: each writes its own FIN's number before its FIN flag
 * (the other reads the flag, then the number), the acknowledged marks
 * are set together by compare-and-swap, so one packet sees both, and
 * the step to CLOSED is a compare-and-swap, so that packet ends it.
 * Out of line, for the stack: flow_packet takes the packets of an
 * established flow without a FIN or RST, most of them, past it.
 */
static __noinline int flow_tcp_state(struct ps_flow *f,
				   const struct ps_pkt *p,
				   const struct ps_flow_pkt *fp,
				   int sender)
{
	struct ps_flow_end *me = &f->end[sender & 1],
			   *peer = &f->end[!sender];
	__u8 flags = p->tcp_flags;
	__u64 st;

	if (flags & PS_TCP_FIN)
		f->fin_ack[sender & 1] = flow_fin_ack(p, fp);
	asm volatile("" ::: "memory"); /* the number, then the flag */
	if ((me->tcp_flags | flags) != me->tcp_flags)
		me->tcp_flags |= flags;
	st = f->state;
	if (st == PS_FLOW_CLOSED)
		return -1;
	if (flags & PS_TCP_RST)
		return flow_close(f, st) ? PS_FLOW_R_RST : -1;
	if ((flags & PS_TCP_ACK) && (peer->tcp_flags & PS_TCP_FIN)) {
		asm volatile("" ::: "memory"); /* the flag, then the number */
		if ((__s32)(bpf_ntohl(p->tcp_ack) - f->fin_ack[!sender]) >= 0 &&
		    flow_fin_acked(f, !sender))
			return flow_close(f, st) ? PS_FLOW_R_FIN : -1;
	}
	if (me->tcp_flags & peer->tcp_flags & PS_TCP_FIN)
		flow_state_step(f, st, PS_FLOW_FIN_BOTH);
	else if (flags & PS_TCP_FIN)
		flow_state_step(f, st, PS_FLOW_CLOSING);
	else if (st == PS_FLOW_NEW &&
		 (f->end[0].tcp_flags & f->end[1].tcp_flags & PS_TCP_SYN))
		flow_state_step(f, st, PS_FLOW_ESTABLISHED);
	return -1;
}

/* A fresh entry for the first packet of a flow (or of a new connection
 * on the tuple of a closed one). It starts at the precise time `boot`,
 * which also tells connections on one tuple apart; last_seen moves on
 * with the coarse clock (`now`). */
static __always_inline void flow_init(struct ps_flow *f, const struct ps_pkt *p,
				      const struct ps_flow_pkt *fp, int sender,
				      __u64 boot, __u64 now)
{
	int local = fp->from_pod ? sender : !sender;
	struct ps_flow_end *se = sender ? &f->end[1] : &f->end[0];

	__builtin_memset(f, 0, sizeof(*f));
	f->first_seen = boot;
	f->last_seen = boot;
	f->last_report = now;
	se->packets = fp->segs;
	se->bytes = fp->bytes;
	if (local)
		f->end[1].slot = fp->slot;
	else
		f->end[0].slot = fp->slot;
	f->state = PS_FLOW_NEW;
	f->verdict = fp->verdict;
	if (p->proto == PS_IPPROTO_ICMP || p->proto == PS_IPPROTO_ICMPV6) {
		/* an echo reply opens nothing: its request was first; an
		 * error or a neighbour, router or group message is the
		 * kernel's, no one's connection */
		f->opener = p->icmp_echo ? 1 + (p->icmp_echo == 2 ? !sender : sender) : 0;
		return;
	}
	if (p->proto != PS_IPPROTO_TCP) {
		f->opener = 1 + sender;
		return;
	}
	se->tcp_flags = p->tcp_flags;
	if (p->tcp_flags & PS_TCP_SYN) {
		f->opener = 1 + (p->tcp_flags & PS_TCP_ACK ? !sender : sender);
	} else {
		/* picked up midway: the connection exists already */
		f->opener = 0;
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

static const struct ps_agg agg_zero;

/*
 * Fold the short TCP connection `f` into flow_agg (this CPU's value),
 * seen from its pod: the end that opened it when that is a pod of this
 * node, else the end it was opened to. False when it must be sent alone:
 * no pod end with a known process, a connect that was refused (the
 * socket program's notice names it), or a full table (counted).
 */
static __always_inline bool flow_fold(const struct ps_flow_key *k,
				      const struct ps_flow *f, int reason,
				      bool refused, __u64 since)
{
	struct ps_agg_key ak;
	struct ps_agg *a;
	int pod, peer;

	if (refused || !f->opener)
		return false;
	pod = (f->opener - 1) & 1;
	if (!f->end[pod].slot)
		pod = !pod;
	peer = !pod;
	if (!f->end[pod].slot || !f->end[pod].exec.pid)
		return false;
	ak.exec = f->end[pod].exec;
	ak.peer = peer ? k->addr[1] : k->addr[0]; /* k: on the stack */
	ak.slot = f->end[pod].slot;
	ak.port = f->opener == 1 ? k->port[1] : k->port[0];
	ak.family = k->family;
	ak.proto = k->proto;
	ak.dir = pod == f->opener - 1 ? PS_AGG_EGRESS : PS_AGG_INGRESS;
	ak.pad = 0;
	a = bpf_map_lookup_elem(&flow_agg, &ak);
	if (!a) {
		bpf_map_update_elem(&flow_agg, &ak, &agg_zero, BPF_NOEXIST);
		a = bpf_map_lookup_elem(&flow_agg, &ak);
		if (!a) {
			drop_count(PS_DROP_AGG_FULL);
			return false;
		}
	}
	/* this CPU's copy: nothing else writes it while this runs */
	a->connections++;
	if (f->first_seen >= since)
		a->started++;
	if (reason == PS_FLOW_R_FIN)
		a->completed++;
	else
		a->reset++;
	a->packets[0] += f->end[pod].packets;
	a->packets[1] += f->end[peer].packets;
	a->bytes[0] += f->end[pod].bytes;
	a->bytes[1] += f->end[peer].bytes;
	if (!a->first || f->first_seen < a->first)
		a->first = f->first_seen;
	if (f->last_seen > a->last)
		a->last = f->last_seen;
	a->tcp_flags[0] |= f->end[pod].tcp_flags;
	a->tcp_flags[1] |= f->end[peer].tcp_flags;
	a->tgid = f->end[pod].tgid;
	if (f->end[peer].exec.pid) {
		a->peer_exec = f->end[peer].exec;
		a->peer_tgid = f->end[peer].tgid;
	}
	if (f->end[peer].slot)
		a->peer_slot = f->end[peer].slot;
	return true;
}

/* A TCP flow ended with this packet: fold it, or send it, and forget
 * the entry. An end that does not fit the ring buffer stays in the table
 * with PS_FLOWF_END_LOST for the daemon's sweep to report. */
static __always_inline void flow_end(void *map, const void *mk,
				     const struct ps_flow_key *k,
				     struct ps_flow *f, int reason,
				     bool refused, __u64 boot,
				     const struct ps_flow_cfg *cfg)
{
	if (boot > f->last_seen)
		f->last_seen = boot;
	if (cfg->aggregate && !(f->flags & PS_FLOWF_UPDATED) &&
	    flow_fold(k, f, reason, refused, cfg->agg_since)) {
		bpf_map_delete_elem(map, mk);
		return;
	}
	if (flow_emit(k, f, PS_EV_FLOW_END, reason, boot, PS_DROP_RB_FLOW))
		bpf_map_delete_elem(map, mk);
	else
		f->flags |= PS_FLOWF_END_LOST;
}

/* A UDP flow's end `local` (the veth's pod) without a process yet: the
 * socket that sent to the peer, or the one that bound the port. */
static __always_inline void flow_udp_owner(struct ps_flow *f, int local,
					   const struct ps_pkt *p,
					   const struct ps_flow_pkt *fp)
{
	struct ps_flow_end *e = local ? &f->end[1] : &f->end[0];

	if (fp->from_pod)
		sock_udp_owner(p->sport, &p->daddr, p->dport, p->family,
			       fp->netns, &e->exec, &e->tgid);
	else
		sock_udp_owner(p->dport, &p->saddr, p->sport, p->family,
			       fp->netns, &e->exec, &e->tgid);
}

#define PS_EEXIST 17

/* Whether this packet may start a flow. A TCP packet without SYN and
 * without data (an ACK, FIN or RST) after a flow's end is a straggler of
 * the connection just reported: it starts nothing. A data packet without
 * SYN is a connection picked up midway (the daemon restarted). What XDP
 * drops is always a flow: the verdict is the news. */
static __always_inline bool flow_starts(const struct ps_pkt *p,
					const struct ps_flow_pkt *fp)
{
	return p->proto != PS_IPPROTO_TCP || (p->tcp_flags & PS_TCP_SYN) ||
	       fp->payload || fp->verdict != PS_VERDICT_PASS;
}

/* The entry flow_start fills before it inserts it: one per CPU, off the
 * programs' stack, which the verifier bounds at 512 B. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ps_flow);
} flow_new SEC(".maps");

/* Start a flow at `mk` with this packet: a new entry (BPF_NOEXIST:
 * -EEXIST when another CPU was first) or a new connection on the tuple
 * of a closed one (BPF_ANY, replacing it). What the element count of the
 * table did not grow by on this CPU is what the insert made the LRU evict
 * (map_counter_this_cpu). */
static __always_inline int flow_start(void *map, const void *mk,
				      const struct ps_flow_key *k,
				      const struct ps_pkt *p,
				      const struct ps_flow_pkt *fp, int sender,
				      __u64 how, __u64 now,
				      const struct ps_flow_cfg *cfg)
{
	__s64 grow = how == BPF_NOEXIST ? 1 : 0;
	int local = fp->from_pod ? sender : !sender;
	unsigned long counter;
	__s64 before, after;
	struct ps_flow *f;
	__u32 zero = 0;
	__u64 boot;
	int err;

	f = bpf_map_lookup_elem(&flow_new, &zero);
	if (!f)
		return -1;
	boot = bpf_ktime_get_boot_ns();
	flow_init(f, p, fp, sender, boot, now);
	if (p->proto == PS_IPPROTO_UDP && fp->netns)
		flow_udp_owner(f, local, p, fp);
	else if (p->proto == PS_IPPROTO_TCP && (p->tcp_flags & PS_TCP_FIN)) {
		f->state = PS_FLOW_CLOSING; /* picked up at its first FIN */
		f->fin_ack[sender & 1] = flow_fin_ack(p, fp);
	}
	counter = map_counter_this_cpu(map);
	before = map_count(map, counter);
	err = bpf_map_update_elem(map, mk, f, how);
	if (err) {
		if (err != -PS_EEXIST)
			drop_count(PS_DROP_FLOWS_FULL);
		return err;
	}
	after = map_count(map, counter);
	flow_evictions_count(before + grow - after);
	flow_clock_check(now);
	return 0;
}

/*
 * Account one packet to its flow, the entry at key `mk` of `map`
 * (flows4 or flows6), starting the flow if needed; `sender` is the side
 * of the key that sent it. The event key (struct ps_flow_key) is made
 * only on the paths that need it, by `mkkey`.
 */
static __always_inline void flow_packet(void *map, const void *mk,
					struct ps_flow_key *k, bool k_made,
					const struct ps_pkt *p,
					const struct ps_flow_pkt *fp, int sender,
					const struct ps_flow_cfg *cfg)
{
	struct ps_flow *f = bpf_map_lookup_elem(map, mk);
	int local = fp->from_pod ? sender : !sender, end = -1;
	__u8 flags = p->tcp_flags;
	__u64 how = BPF_NOEXIST;
	struct ps_flow_end *se;
	/* read after the lookup: fewer values live across the call */
	__u64 now = flow_now();
	bool refused;

	sender &= 1;
	local &= 1;
	/* a SYN on the tuple of a closed connection opens a new one */
	if (f && p->proto == PS_IPPROTO_TCP && f->state == PS_FLOW_CLOSED &&
	    (flags & (PS_TCP_SYN | PS_TCP_ACK)) == PS_TCP_SYN) {
		/* the closed one's end, kept for the daemon's sweep as it
		 * did not fit the ring buffer: sent now if it fits (the
		 * daemon counts it recovered), else lost, as counted when
		 * it did not fit */
		if (f->flags & PS_FLOWF_END_LOST) {
			if (!k_made)
				flow_key_of((union ps_flow_key_words *)k, p);
			k_made = true;
			flow_emit(k, f, PS_EV_FLOW_END,
				  (f->end[0].tcp_flags | f->end[1].tcp_flags) &
					  PS_TCP_RST ? PS_FLOW_R_RST : PS_FLOW_R_FIN,
				  f->last_seen, PS_DROP_MAX);
		}
		f = NULL;
		how = BPF_ANY;
	}
	if (!f) {
		if (!flow_starts(p, fp))
			return;
		if (flow_start(map, mk, k, p, fp, sender, how, now, cfg) !=
		    -PS_EEXIST)
			return;
		/* another CPU started it first: count the packet there */
		f = bpf_map_lookup_elem(map, mk);
		if (!f)
			return;
	}
	se = &f->end[sender];
	refused = false;
	if (p->proto == PS_IPPROTO_TCP) {
		__u64 st = f->state;

		refused = st == PS_FLOW_NEW;
		/* most packets: no state to step, no FIN to acknowledge */
		if (st == PS_FLOW_ESTABLISHED &&
		    !(flags & (PS_TCP_FIN | PS_TCP_RST)) &&
		    !((f->end[0].tcp_flags | f->end[1].tcp_flags) &
		      PS_TCP_FIN)) {
			if ((se->tcp_flags | flags) != se->tcp_flags)
				se->tcp_flags |= flags;
		} else {
			end = flow_tcp_state(f, p, fp, sender);
		}
	} else if (p->proto == PS_IPPROTO_UDP && fp->netns &&
		   !f->end[local].exec.pid &&
		   f->end[0].packets + f->end[1].packets < PS_OWNER_RETRY_PKTS) {
		/* its socket may have been entered after its first packet */
		flow_udp_owner(f, local, p, fp);
	}
	__sync_fetch_and_add(&se->packets, fp->segs);
	__sync_fetch_and_add(&se->bytes, fp->bytes);
	if (now > f->last_seen)
		f->last_seen = now;
	if (f->verdict != fp->verdict)
		f->verdict = fp->verdict;
	if (f->end[local].slot != fp->slot)
		f->end[local].slot = fp->slot;
	if (end >= 0) {
		/* the end, like the start, at the precise time: the coarse
		 * clock would give a flow shorter than a tick no duration */
		if (!k_made)
			flow_key_of((union ps_flow_key_words *)k, p);
		flow_end(map, mk, k, f, end, refused && end == PS_FLOW_R_RST,
			 bpf_ktime_get_boot_ns(), cfg);
		return;
	}
	if (f->state == PS_FLOW_NEW && p->proto != PS_IPPROTO_TCP &&
	    f->end[0].packets && f->end[1].packets)
		f->state = PS_FLOW_ESTABLISHED;
	if (cfg->update_ns && f->state != PS_FLOW_CLOSED &&
	    (__s64)(now - f->last_report) >= (__s64)cfg->update_ns) {
		__u64 last = f->last_report;

		/* one CPU reports it */
		if (__sync_val_compare_and_swap(&f->last_report, last, now) !=
		    last)
			return;
		f->flags |= PS_FLOWF_UPDATED;
		if (!k_made)
			flow_key_of((union ps_flow_key_words *)k, p);
		flow_emit(k, f, PS_EV_FLOW_UPDATE, PS_FLOW_R_PERIODIC,
			  bpf_ktime_get_boot_ns(), PS_DROP_RB_FLOW);
	}
}

#endif
