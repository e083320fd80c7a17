// SPDX-License-Identifier: GPL-2.0-only
/*
 * Packet tests of bpf/flow.bpf.c through BPF_PROG_TEST_RUN. Each case is
 * a short sequence of packets described by struct pkt_spec (built by
 * pkt_build), run through TC ingress (from the pod), TC egress (to the
 * pod) or XDP, and the expected verdict, flow entry (or, for a flow that
 * ended, the flow its END event carries), parse-error counter and
 * ring-buffer events. Every case loads its own unpinned copy of the
 * object, so no state leaks from one case to the next. The pod's address
 * sorts before the peer's, so the pod is side 0 of every flow key and
 * the opener is 1 + the side: PS_SIDE_POD 1, PS_SIDE_PEER 2.
 *
 * BPF_PROG_TEST_RUN without an ifindex runs TC programs on the loopback
 * device of the current netns (skb->ifindex 1) and XDP on its first rx
 * queue (ingress_ifindex 1): the test pod is registered as ifindex 1.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "podsentry.h"
#include "flow.skel.h"
#include "bench.skel.h"
#include "tests/harness.h"

#define TC_ACT_UNSPEC (-1)
#define XDP_DROP 1
#define XDP_PASS 2

#define SLOT 7
#define NETNS_INO 4026532000u
#define LO_IFINDEX 1
#define MAX_PKTS 8
#define PKT_MAX 4096

static const __u8 pod4[4] = {10, 88, 0, 2};
static const __u8 peer4[4] = {10, 88, 0, 3};
static const __u8 pod6[16] = {0xfd, 0x00, 0x88, [15] = 2};
static const __u8 peer6[16] = {0xfd, 0x00, 0x88, [15] = 3};

enum hook { NONE = 0, TC_OUT, TC_IN, XDP };

/* ps_flow.opener as the cases say it */
enum { PS_SIDE_UNKNOWN = 0, PS_SIDE_POD = 1, PS_SIDE_PEER = 2 };

/* One packet. Ports are named by side, the builder puts them in place
 * for the direction: TC_OUT and XDP are sent by the pod, TC_IN by the
 * peer. */
struct pkt_spec {
	enum hook hook;
	__u8 ipv;	/* 4, 6; 0: an ARP frame */
	__u8 vlans;	/* tags: 1 802.1Q, 2 802.1ad + 802.1Q, 3 one too many */
	__u8 proto;	/* IPPROTO_* */
	__u8 flags;	/* TCP flags */
	__u32 seq, ack; /* TCP sequence and acknowledgement numbers */
	__u8 doff;	/* TCP data offset written, 0: 5 */
	__u8 icmp_type; /* ICMP/ICMPv6 type (echo id = pod_port) */
	__u8 ihl;	/* IPv4 IHL written, 0: from opts */
	__u8 opts;	/* IPv4 option bytes, multiple of 4 */
	__u8 version;	/* IP version written, 0: ipv */
	const char *ext; /* IPv6 extension headers: H hop, R routing,
			  * F fragment, D destination, A AH */
	__u16 frag;	 /* fragment offset, 8-byte units */
	bool mf;	 /* more fragments */
	bool no_l4;	 /* no transport header (later fragment) */
	__u16 id;	 /* IPv4 id / IPv6 fragment identification */
	__u16 pod_port, peer_port;
	__u16 payload; /* payload bytes after the transport header */
	int tot_len;   /* IPv4 total length written, 0: computed */
	int trunc;     /* keep only this many bytes, 0: all */
	int gso_segs;  /* __sk_buff.gso_segs, 0: none */
};

struct pkt_want {
	int run_err; /* errno of the test run itself, 0: it runs */
	int perr;    /* parse error counted (enum ps_parse_error) */
	int flows;   /* entries in the flows map at the end */
	__u64 pkts_out, pkts_in, bytes_out, bytes_in;
	__u8 flags_out, flags_in, state, opener;
	__u16 key_pod_port, key_peer_port; /* when not those of packet 0 */
	bool key_ports;
	int ends, updates;
	int end_reason;
	__u64 xdp_dropped; /* 0: every XDP packet passes, else all drop */
	__u8 verdict;	   /* enum ps_flow_verdict of the entry */
};

struct deny_spec {
	__u8 ipv, proto;
	__u16 port;
	__u32 action;
};

struct pkt_case {
	const char *name;
	struct pkt_spec pkt[MAX_PKTS];
	struct pkt_want want;
	bool no_pod; /* ifindex 1 is not a registered pod */
	struct deny_spec deny[2];
};

/* ---- packet builder ---- */

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static size_t eth_put(__u8 *b, const struct pkt_spec *s)
{
	static const __u8 mac_a[6] = {2, 0, 0, 0, 0, 0xa};
	static const __u8 mac_b[6] = {2, 0, 0, 0, 0, 0xb};
	__u16 type = s->ipv == 4 ? 0x0800 : s->ipv == 6 ? 0x86dd : 0x0806;
	size_t off = 12;
	int i;

	memcpy(b, mac_a, 6);
	memcpy(b + 6, mac_b, 6);
	for (i = 0; i < s->vlans; i++) {
		put16(b + off, i == 0 && s->vlans > 1 ? 0x88a8 : 0x8100);
		put16(b + off + 2, 100 + i);
		off += 4;
	}
	put16(b + off, type);
	return off + 2;
}

static void addrs_of(const struct pkt_spec *s, const __u8 **src,
		     const __u8 **dst)
{
	bool from_pod = s->hook != TC_IN;

	if (s->ipv == 4) {
		*src = from_pod ? pod4 : peer4;
		*dst = from_pod ? peer4 : pod4;
	} else {
		*src = from_pod ? pod6 : peer6;
		*dst = from_pod ? peer6 : pod6;
	}
}

static size_t ipv4_put(__u8 *b, const struct pkt_spec *s)
{
	const __u8 *src, *dst;
	size_t hlen = 20 + s->opts;
	__u16 frag = s->frag | (s->mf ? 0x2000 : 0);

	addrs_of(s, &src, &dst);
	b[0] =
	    (s->version ? s->version : 4) << 4 | (s->ihl ? s->ihl : hlen / 4);
	put16(b + 4, s->id);
	put16(b + 6, frag);
	b[8] = 64;
	b[9] = s->proto;
	memcpy(b + 12, src, 4);
	memcpy(b + 16, dst, 4);
	if (s->opts) {
		memset(b + 20, 1, s->opts); /* NOPs */
		b[20 + s->opts - 1] = 0;    /* end of options */
	}
	return hlen;
}

static __u8 ext_code(char c)
{
	switch (c) {
	case 'H':
		return 0;
	case 'R':
		return 43;
	case 'F':
		return 44;
	case 'A':
		return 51;
	default:
		return 60; /* 'D' */
	}
}

static size_t ipv6_put(__u8 *b, const struct pkt_spec *s)
{
	const __u8 *src, *dst;
	const char *e = s->ext ? s->ext : "";
	size_t off = 40;
	__u8 *nh = b + 6;

	addrs_of(s, &src, &dst);
	b[0] = (s->version ? s->version : 6) << 4;
	b[7] = 64;
	memcpy(b + 8, src, 16);
	memcpy(b + 24, dst, 16);
	for (; *e; e++) {
		*nh = ext_code(*e);
		nh = b + off;
		switch (*e) {
		case 'F':
			put16(b + off + 2, s->frag << 3 | (s->mf ? 1 : 0));
			put16(b + off + 6, s->id);
			off += 8;
			break;
		case 'A':
			b[off + 1] = 2; /* (2 + 2) * 4 = 16 bytes */
			off += 16;
			break;
		case 'R':
			b[off + 1] = 2; /* (2 + 1) * 8 = 24 bytes */
			off += 24;
			break;
		default:
			b[off + 1] = 0; /* 8 bytes: PadN */
			b[off + 2] = 1;
			b[off + 3] = 4;
			off += 8;
			break;
		}
	}
	*nh = s->proto;
	return off;
}

static size_t l4_put(__u8 *b, const struct pkt_spec *s)
{
	bool from_pod = s->hook != TC_IN;
	__u16 sport = from_pod ? s->pod_port : s->peer_port;
	__u16 dport = from_pod ? s->peer_port : s->pod_port;

	if (s->no_l4)
		return 0;
	switch (s->proto) {
	case IPPROTO_TCP:
		put16(b, sport);
		put16(b + 2, dport);
		put16(b + 4, s->seq >> 16);
		put16(b + 6, s->seq & 0xffff);
		put16(b + 8, s->ack >> 16);
		put16(b + 10, s->ack & 0xffff);
		b[12] = (s->doff ? s->doff : 5) << 4;
		b[13] = s->flags;
		put16(b + 14, 65535);
		return 20;
	case IPPROTO_UDP:
	case 136: /* UDP-Lite */
		put16(b, sport);
		put16(b + 2, dport);
		return 8;
	case IPPROTO_SCTP:
		put16(b, sport);
		put16(b + 2, dport);
		return 12;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		b[0] = s->icmp_type;
		put16(b + 4, s->pod_port); /* echo identifier */
		put16(b + 6, 1);
		return 8;
	}
	return 0;
}

/* Build the frame; returns its length (after truncation). */
static size_t pkt_build(const struct pkt_spec *s, __u8 *b)
{
	size_t l3, off, l4;

	memset(b, 0, PKT_MAX);
	off = l3 = eth_put(b, s);
	if (s->ipv == 4)
		off += ipv4_put(b + off, s);
	else if (s->ipv == 6)
		off += ipv6_put(b + off, s);
	else
		off += 28; /* ARP body, zeros */
	l4 = s->ipv ? l4_put(b + off, s) : 0;
	off += l4;
	memset(b + off, 0x5a, s->payload);
	off += s->payload;
	if (s->ipv == 4)
		put16(b + l3 + 2, s->tot_len ? (size_t)s->tot_len : off - l3);
	else if (s->ipv == 6)
		put16(b + l3 + 4, off - l3 - 40);
	if (s->trunc)
		off = s->trunc < 0 ? 0 : (size_t)s->trunc;
	return off;
}

/* ---- running ---- */

struct events {
	int ends, updates, others;
	int end_reason;
	struct ps_flow_event last_end;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct events *ev = ctx;
	const struct ps_flow_event *e = data;

	if (size < sizeof(*e))
		return 0;
	switch (e->hdr.type) {
	case PS_EV_FLOW_END:
		ev->ends++;
		ev->end_reason = e->reason;
		ev->last_end = *e;
		break;
	case PS_EV_FLOW_UPDATE:
		ev->updates++;
		break;
	default:
		ev->others++;
	}
	return 0;
}

struct fixture {
	struct flow_bpf *skel;
	struct ring_buffer *rb;
	struct events ev;
};

static void fixture_close(struct fixture *fx)
{
	ring_buffer__free(fx->rb);
	flow_bpf__destroy(fx->skel);
	memset(fx, 0, sizeof(*fx));
}

/* Register the pod behind `ifindex` as podsentry-cni does: in
 * pod_ifindex, and in pod_ifindex_low for a low ifindex. */
static int pod_iface_set(struct fixture *fx, __u32 ifindex,
			 const struct ps_pod_iface *pi)
{
	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.pod_ifindex),
				&ifindex, pi, BPF_ANY))
		return -errno;
	if (ifindex < PS_IFINDEX_LOW &&
	    bpf_map_update_elem(bpf_map__fd(fx->skel->maps.pod_ifindex_low),
				&ifindex, pi, BPF_ANY))
		return -errno;
	return 0;
}

/* Load an unpinned copy of flow.bpf.o; max_flows/rb_bytes 0: default. */
static bool fixture_open(struct fixture *fx, __u64 update_ns, bool pod,
			 __u32 max_flows, __u32 rb_bytes)
{
	struct ps_pod_iface pi = {.slot = SLOT, .netns_ino = NETNS_INO};
	__u32 ifindex = LO_IFINDEX;
	struct bpf_map *m;
	int err;

	memset(fx, 0, sizeof(*fx));
	fx->skel = flow_bpf__open();
	if (!ASSERT_TRUE(fx->skel != NULL, "flow_bpf__open"))
		return false;
	bpf_object__for_each_map(m, fx->skel->obj)
	    bpf_map__set_pin_path(m, NULL);
	fx->skel->rodata->flow_update_ns = update_ns;
	if (max_flows)
	{
		bpf_map__set_max_entries(fx->skel->maps.flows4, max_flows);
		bpf_map__set_max_entries(fx->skel->maps.flows6, max_flows);
	}
	if (rb_bytes)
		bpf_map__set_max_entries(fx->skel->maps.events, rb_bytes);
	err = flow_bpf__load(fx->skel);
	if (!ASSERT_OK(err, "flow_bpf__load"))
		goto fail;
	if (pod) {
		err = pod_iface_set(fx, ifindex, &pi);
		if (!ASSERT_OK(err, "pod_ifindex insert"))
			goto fail;
	}
	fx->rb = ring_buffer__new(bpf_map__fd(fx->skel->maps.events), on_event,
				  &fx->ev, NULL);
	if (!ASSERT_TRUE(fx->rb != NULL, "ring_buffer__new"))
		goto fail;
	return true;
fail:
	fixture_close(fx);
	return false;
}

/* Run one packet; *ret is the program's return value. */
/* Run one packet; *ret is the program's return value. The packet is
 * built for s->hook; `prog`, when given, runs it instead of that hook's
 * program (one pod's packet arriving at another pod). */
static int pkt_run_on(struct fixture *fx, const struct pkt_spec *s,
		      struct bpf_program *prog, int *ret)
{
	struct __sk_buff skb = {.gso_segs = s->gso_segs};
	__u8 buf[PKT_MAX];
	size_t len = pkt_build(s, buf);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf,
		    .data_size_in = len, .repeat = 1);
	int err;

	if (!prog && s->hook == XDP)
		prog = fx->skel->progs.xdp_pod;
	else if (!prog)
		prog = s->hook == TC_OUT ? fx->skel->progs.tc_ingress
					 : fx->skel->progs.tc_egress;
	if (s->hook != XDP && s->gso_segs) {
		skb.gso_size = s->payload / s->gso_segs;
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	*ret = opts.retval;
	return err ? -errno : 0;
}

static int pkt_run(struct fixture *fx, const struct pkt_spec *s, int *ret)
{
	return pkt_run_on(fx, s, NULL, ret);
}

static __u64 percpu_sum(int fd, __u32 key)
{
	int n = libbpf_num_possible_cpus();
	__u64 vals[n], sum = 0;
	int i;

	if (bpf_map_lookup_elem(fd, &key, vals))
		return 0;
	for (i = 0; i < n; i++)
		sum += vals[i];
	return sum;
}

static bool pod_stats_get(struct fixture *fx, struct ps_pod_stats *out)
{
	int n = libbpf_num_possible_cpus();
	struct ps_pod_stats vals[n];
	__u32 slot = SLOT;
	int i;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.pod_stats), &slot,
				vals))
		return false;
	for (i = 0; i < n; i++) {
		out->packets_out += vals[i].packets_out;
		out->bytes_out += vals[i].bytes_out;
		out->packets_in += vals[i].packets_in;
		out->bytes_in += vals[i].bytes_in;
		out->xdp_packets += vals[i].xdp_packets;
		out->xdp_dropped += vals[i].xdp_dropped;
	}
	return true;
}

static bool pod_stats_is_zero(const struct ps_pod_stats *st)
{
	return !st->packets_out && !st->bytes_out && !st->packets_in &&
	       !st->bytes_in && !st->xdp_packets && !st->xdp_dropped;
}

static int map_count(int fd, size_t key_size)
{
	__u8 key[64], next[64];
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

/* Entries of both flow tables. */
static int flows_count(struct fixture *fx)
{
	return map_count(bpf_map__fd(fx->skel->maps.flows4),
			 sizeof(struct ps_flow_key4)) +
	       map_count(bpf_map__fd(fx->skel->maps.flows6),
			 sizeof(struct ps_flow_key));
}

/* The entry of flow k: flows4 for IPv4, flows6 for the rest; -errno. */
static int flow_get(struct fixture *fx, const struct ps_flow_key *k,
		    struct ps_flow *f)
{
	struct ps_flow_key4 k4;
	int err;

	if (ps_flow_key4_of(k, &k4))
		err = bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.flows4),
					  &k4, f);
	else
		err = bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.flows6),
					  k, f);
	return err ? -errno : 0;
}

/* The flow key the first packet of a case should land in: the pod is
 * side 0. */
static void key_of(const struct pkt_case *c, struct ps_flow_key *k)
{
	const struct pkt_spec *s = &c->pkt[0];
	bool icmp = s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6;

	memset(k, 0, sizeof(*k));
	k->family = s->ipv == 4 ? AF_INET : AF_INET6;
	k->proto = s->proto;
	if (c->want.key_ports) {
		k->port[0] = htons(c->want.key_pod_port);
		k->port[1] = htons(c->want.key_peer_port);
	} else if (icmp) {
		k->port[0] = k->port[1] = htons(s->pod_port);
	} else {
		k->port[0] = htons(s->pod_port);
		k->port[1] = htons(s->peer_port);
	}
	memcpy(k->addr[0].b, s->ipv == 4 ? pod4 : pod6, s->ipv == 4 ? 4 : 16);
	memcpy(k->addr[1].b, s->ipv == 4 ? peer4 : peer6, s->ipv == 4 ? 4 : 16);
}

static bool deny_insert(struct fixture *fx, const struct deny_spec *d)
{
	struct ps_deny_key k = {.slot = SLOT};
	struct ps_deny v = {.action = d->action};

	k.family = d->ipv == 4 ? AF_INET : AF_INET6;
	k.proto = d->proto;
	k.port = htons(d->port);
	memcpy(k.addr.b, d->ipv == 4 ? peer4 : peer6, d->ipv == 4 ? 4 : 16);
	return ASSERT_OK(bpf_map_update_elem(bpf_map__fd(fx->skel->maps.deny),
					     &k, &v, BPF_ANY),
			 "deny insert");
}

static void case_run(const struct pkt_case *c)
{
	const struct pkt_want *w = &c->want;
	__u64 perr[PS_PERR_MAX];
	struct ps_pod_stats st;
	struct ps_flow_key k;
	struct ps_flow f;
	struct fixture fx;
	int i, ret, err, n_out = 0, n_in = 0, n_xdp = 0;
	int fd_perr;

	fprintf(stderr, "case: %s\n", c->name);
	if (!fixture_open(&fx, PS_FLOW_UPDATE_NS_DEFAULT, !c->no_pod, 1024,
			  65536))
		return;
	for (i = 0; i < 2; i++)
		if (c->deny[i].ipv && !deny_insert(&fx, &c->deny[i]))
			goto out;
	for (i = 0; i < MAX_PKTS && c->pkt[i].hook; i++) {
		const struct pkt_spec *s = &c->pkt[i];

		err = pkt_run(&fx, s, &ret);
		if (!ASSERT_EQ(err, -w->run_err, "test run error"))
			goto out;
		if (err)
			continue;
		if (s->hook == XDP) {
			n_xdp++;
			if (!ASSERT_EQ(ret,
				       w->xdp_dropped ? XDP_DROP : XDP_PASS,
				       "xdp verdict"))
				goto out;
		} else {
			s->hook == TC_OUT ? n_out++ : n_in++;
			if (!ASSERT_EQ(ret, TC_ACT_UNSPEC, "tc verdict"))
				goto out;
		}
	}
	ring_buffer__consume(fx.rb);

	/* parse errors: exactly the expected reason, nothing else */
	fd_perr = bpf_map__fd(fx.skel->maps.parse_errors);
	for (i = 0; i < PS_PERR_MAX; i++) {
		perr[i] = percpu_sum(fd_perr, i);
		if (!ASSERT_EQ(perr[i], i && i == w->perr ? n_out + n_in : 0,
			       "parse error counter"))
			goto out;
	}

	/* pod_stats keep counting every packet of a registered pod; the
	 * slot of a pod not registered stays all zero */
	if (c->no_pod) {
		if (!ASSERT_TRUE(pod_stats_get(&fx, &st), "pod_stats lookup") ||
		    !ASSERT_TRUE(pod_stats_is_zero(&st), "pod_stats all zero"))
			goto out;
	} else if (n_out + n_in + n_xdp) {
		if (!ASSERT_TRUE(pod_stats_get(&fx, &st), "pod_stats entry") ||
		    !ASSERT_EQ(st.packets_out, n_out,
			       "pod_stats packets_out") ||
		    !ASSERT_EQ(st.packets_in, n_in, "pod_stats packets_in") ||
		    !ASSERT_EQ(st.xdp_packets, n_xdp,
			       "pod_stats xdp_packets") ||
		    !ASSERT_EQ(st.xdp_dropped, w->xdp_dropped,
			       "pod_stats xdp_dropped"))
			goto out;
	}

	if (!ASSERT_EQ(flows_count(&fx), w->flows, "flow entries"))
		goto out;
	if (!ASSERT_EQ(fx.ev.ends, w->ends, "FLOW_END events") ||
	    !ASSERT_EQ(fx.ev.updates, w->updates, "FLOW_UPDATE events") ||
	    !ASSERT_EQ(fx.ev.others, 0, "no other events"))
		goto out;
	if (w->ends &&
	    !ASSERT_EQ(fx.ev.end_reason, w->end_reason, "FLOW_END reason"))
		goto out;
	if (!c->pkt[0].ipv)
		goto out;
	key_of(c, &k);
	err = flow_get(&fx, &k, &f);
	if (!w->flows && !w->ends) {
		ASSERT_EQ(err, -ENOENT, "no flow entry for the key");
		goto out;
	}
	if (!w->flows) {
		/* it ended: the entry went, its END event has it all */
		if (!ASSERT_EQ(err, -ENOENT, "entry gone at the end"))
			goto out;
		f = fx.ev.last_end.flow;
	} else if (!ASSERT_OK(err, "flow entry for the key")) {
		goto out;
	}
	if (!ASSERT_EQ(f.end[0].packets, w->pkts_out, "packets_out") ||
	    !ASSERT_EQ(f.end[1].packets, w->pkts_in, "packets_in") ||
	    !ASSERT_EQ(f.end[0].bytes, w->bytes_out, "bytes_out") ||
	    !ASSERT_EQ(f.end[1].bytes, w->bytes_in, "bytes_in") ||
	    !ASSERT_EQ(f.end[0].tcp_flags, w->flags_out, "tcp_flags_out") ||
	    !ASSERT_EQ(f.end[1].tcp_flags, w->flags_in, "tcp_flags_in") ||
	    !ASSERT_EQ(f.state, w->state, "state") ||
	    !ASSERT_EQ(f.opener, w->opener, "opener") ||
	    !ASSERT_EQ(f.verdict, w->verdict, "verdict") ||
	    !ASSERT_EQ(f.end[0].slot, c->no_pod ? 0 : SLOT, "the pod's slot") ||
	    !ASSERT_TRUE(f.first_seen && f.first_seen <= f.last_seen,
			 "first_seen <= last_seen"))
		goto out;
	if (w->ends && !ASSERT_TRUE(!memcmp(&fx.ev.last_end.key, &k, sizeof(k)),
				    "FLOW_END carries the key"))
		goto out;
out:
	fixture_close(&fx);
}

/* ---- the cases ---- */

#define TCP4(...)                                                              \
	{                                                                      \
		.ipv = 4, .proto = IPPROTO_TCP, .pod_port = 40000,             \
		.peer_port = 80, __VA_ARGS__                                   \
	}
#define TCP6(...)                                                              \
	{                                                                      \
		.ipv = 6, .proto = IPPROTO_TCP, .pod_port = 40000,             \
		.peer_port = 443, __VA_ARGS__                                  \
	}
#define UDP4(...)                                                              \
	{                                                                      \
		.ipv = 4, .proto = IPPROTO_UDP, .pod_port = 5353,              \
		.peer_port = 53, __VA_ARGS__                                   \
	}
#define UDP6(...)                                                              \
	{                                                                      \
		.ipv = 6, .proto = IPPROTO_UDP, .pod_port = 5353,              \
		.peer_port = 53, __VA_ARGS__                                   \
	}

#define SYN PS_TCP_SYN
#define ACK PS_TCP_ACK
#define FIN PS_TCP_FIN
#define RST PS_TCP_RST
#define PSH PS_TCP_PSH

/* IP lengths of the packets used below */
#define L_TCP4 40 /* 20 + 20 */
#define L_TCP6 60 /* 40 + 20 */
#define L_UDP4 28
#define L_UDP6 48

/* The packet macros carry defaults that cases override. The table is laid
 * out by hand: one case per block. */
/* clang-format off */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct pkt_case cases[] = {
	/* one packet, each protocol and family */
	{ .name = "ipv4 tcp syn from the pod",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_TCP4, .flags_out = SYN,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv4 udp to the pod",
	  .pkt = { UDP4(.hook = TC_IN, .payload = 100) },
	  .want = { .flows = 1, .pkts_in = 1, .bytes_in = L_UDP4 + 100,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_PEER,  } },
	{ .name = "ipv4 icmp echo request from the pod",
	  .pkt = { { .hook = TC_OUT, .ipv = 4, .proto = IPPROTO_ICMP,
	      .icmp_type = 8, .pod_port = 77, .payload = 56 } },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = 20 + 8 + 56,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv4 icmp echo request and reply share a flow",
	  .pkt = { { .hook = TC_OUT, .ipv = 4, .proto = IPPROTO_ICMP,
	      .icmp_type = 8, .pod_port = 77, .payload = 56 },
	    { .hook = TC_IN, .ipv = 4, .proto = IPPROTO_ICMP,
	      .icmp_type = 0, .pod_port = 77, .payload = 56 } },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = 84, .pkts_in = 1,
	    .bytes_in = 84, .state = PS_FLOW_ESTABLISHED,
	    .opener = PS_SIDE_POD,  } },
	{ .name = "ipv4 icmp port unreachable keyed by type and code, opened by no one",
	  .pkt = { { .hook = TC_IN, .ipv = 4, .proto = IPPROTO_ICMP,
	      .icmp_type = 3, .payload = 28 } },
	  .want = { .flows = 1, .pkts_in = 1, .bytes_in = 20 + 8 + 28,
	    .state = PS_FLOW_NEW, .opener = 0,
	    .key_ports = true, .key_pod_port = 3 << 8,
	    .key_peer_port = 3 << 8 } },
	{ .name = "ipv6 neighbour solicitation from the pod: the kernel's, opened by no one",
	  .pkt = { { .hook = TC_OUT, .ipv = 6, .proto = IPPROTO_ICMPV6,
	      .icmp_type = 135, .payload = 16 } },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = 40 + 8 + 16,
	    .state = PS_FLOW_NEW, .opener = 0,
	    .key_ports = true, .key_pod_port = 135 << 8,
	    .key_peer_port = 135 << 8 } },
	{ .name = "ipv6 tcp syn from the pod",
	  .pkt = { TCP6(.hook = TC_OUT, .flags = SYN) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_TCP6, .flags_out = SYN,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv6 udp from the pod",
	  .pkt = { UDP6(.hook = TC_OUT, .payload = 10) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_UDP6 + 10,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv6 icmpv6 echo reply to the pod: the pod opened it",
	  .pkt = { { .hook = TC_IN, .ipv = 6, .proto = IPPROTO_ICMPV6,
	      .icmp_type = 129, .pod_port = 9, .payload = 16 } },
	  .want = { .flows = 1, .pkts_in = 1, .bytes_in = 40 + 8 + 16,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv4 sctp ports",
	  .pkt = { { .hook = TC_OUT, .ipv = 4, .proto = IPPROTO_SCTP,
	      .pod_port = 3868, .peer_port = 3868, .payload = 20 } },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = 20 + 12 + 20,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv4 protocol without ports (gre)",
	  .pkt = { { .hook = TC_OUT, .ipv = 4, .proto = 47, .payload = 20 } },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = 40,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },

	/* link layer */
	{ .name = "802.1q vlan ipv4 udp",
	  .pkt = { UDP4(.hook = TC_OUT, .vlans = 1) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_UDP4,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "802.1ad qinq ipv6 tcp",
	  .pkt = { TCP6(.hook = TC_OUT, .vlans = 2, .flags = SYN) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_TCP6, .flags_out = SYN,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "three vlan tags: too deep",
	  .pkt = { UDP4(.hook = TC_OUT, .vlans = 3) },
	  .want = { .perr = PS_PERR_VLAN_DEPTH } },
	{ .name = "arp: no flow, no error",
	  .pkt = { { .hook = TC_OUT, .ipv = 0 } },
	  .want = { .flows = 0 } },

	/* IPv4 header */
	{ .name = "ipv4 options (ihl 8)",
	  .pkt = { UDP4(.hook = TC_OUT, .opts = 12, .payload = 4) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = 32 + 8 + 4,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv4 maximal options (ihl 15)",
	  .pkt = { TCP4(.hook = TC_IN, .opts = 40, .flags = SYN) },
	  .want = { .flows = 1, .pkts_in = 1, .bytes_in = 60 + 20, .flags_in = SYN,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_PEER,  } },
	{ .name = "ipv4 bad ihl 4",
	  .pkt = { UDP4(.hook = TC_OUT, .ihl = 4) },
	  .want = { .perr = PS_PERR_IPV4_IHL } },
	{ .name = "ipv4 header says version 6",
	  .pkt = { UDP4(.hook = TC_OUT, .version = 6) },
	  .want = { .perr = PS_PERR_IPV4_VERSION } },
	{ .name = "ipv4 total length below header length",
	  .pkt = { UDP4(.hook = TC_OUT, .tot_len = 19) },
	  .want = { .perr = PS_PERR_IPV4_LEN } },
	{ .name = "ipv4 first fragment has ports",
	  .pkt = { UDP4(.hook = TC_OUT, .mf = true, .id = 4242, .payload = 64) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_UDP4 + 64,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv4 first and later fragment: one flow",
	  .pkt = { UDP4(.hook = TC_OUT, .mf = true, .id = 4242, .payload = 64),
	    UDP4(.hook = TC_OUT, .frag = 9, .no_l4 = true, .id = 4242,
		 .payload = 30) },
	  .want = { .flows = 1, .pkts_out = 2, .bytes_out = L_UDP4 + 64 + 20 + 30,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv4 later fragment alone: orphan",
	  .pkt = { UDP4(.hook = TC_OUT, .frag = 9, .no_l4 = true, .id = 99,
		 .payload = 30) },
	  .want = { .perr = PS_PERR_FRAG_ORPHAN } },

	/* IPv6 extension headers */
	{ .name = "ipv6 hop-by-hop then udp",
	  .pkt = { UDP6(.hook = TC_OUT, .ext = "H", .payload = 8) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_UDP6 + 8 + 8,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv6 hop-by-hop, routing, destination, ah then tcp",
	  .pkt = { TCP6(.hook = TC_IN, .ext = "HRDA", .flags = SYN) },
	  .want = { .flows = 1, .pkts_in = 1, .bytes_in = L_TCP6 + 8 + 24 + 8 + 16,
	    .flags_in = SYN, .state = PS_FLOW_NEW, .opener = PS_SIDE_PEER,
	     } },
	{ .name = "ipv6 first fragment has ports",
	  .pkt = { UDP6(.hook = TC_OUT, .ext = "F", .mf = true, .id = 7,
		 .payload = 100) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_UDP6 + 8 + 100,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv6 first and later fragment: one flow",
	  .pkt = { UDP6(.hook = TC_OUT, .ext = "HF", .mf = true, .id = 7,
		 .payload = 100),
	    UDP6(.hook = TC_OUT, .ext = "HF", .frag = 14, .no_l4 = true,
		 .id = 7, .payload = 50) },
	  .want = { .flows = 1, .pkts_out = 2,
	    .bytes_out = (L_UDP6 + 16 + 100) + (40 + 16 + 50),
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "ipv6 later fragment alone: orphan",
	  .pkt = { UDP6(.hook = TC_OUT, .ext = "F", .frag = 14, .no_l4 = true,
		 .id = 8, .payload = 50) },
	  .want = { .perr = PS_PERR_FRAG_ORPHAN } },
	{ .name = "ipv6 nine extension headers: too deep",
	  .pkt = { UDP6(.hook = TC_OUT, .ext = "HDDDDDDDD") },
	  .want = { .perr = PS_PERR_IPV6_EXT_DEPTH } },
	{ .name = "ipv6 header says version 4",
	  .pkt = { UDP6(.hook = TC_OUT, .version = 4) },
	  .want = { .perr = PS_PERR_IPV6_VERSION } },

	/* truncated at every layer, and too short to run */
	{ .name = "zero length: the kernel refuses to run it",
	  .pkt = { UDP4(.hook = TC_OUT, .trunc = -1) },
	  .want = { .run_err = EINVAL } },
	{ .name = "shorter than ethernet: the kernel refuses to run it",
	  .pkt = { UDP4(.hook = XDP, .trunc = 13) },
	  .want = { .run_err = EINVAL } },
	{ .name = "truncated in the vlan tag",
	  .pkt = { UDP4(.hook = TC_OUT, .vlans = 1, .trunc = 16) },
	  .want = { .perr = PS_PERR_VLAN_TRUNC } },
	/* test_run refuses an untagged frame whose IP header is cut short
	 * (it reads the header for skb->protocol IP/IPv6): a VLAN tag
	 * brings these packets to the program */
	{ .name = "truncated in the ipv4 header",
	  .pkt = { UDP4(.hook = TC_OUT, .vlans = 1, .trunc = 18 + 19) },
	  .want = { .perr = PS_PERR_IPV4_TRUNC } },
	{ .name = "truncated in the ipv4 options",
	  .pkt = { UDP4(.hook = TC_OUT, .opts = 8, .trunc = 14 + 24) },
	  .want = { .perr = PS_PERR_IPV4_OPT_TRUNC } },
	{ .name = "truncated in the ipv6 header",
	  .pkt = { UDP6(.hook = TC_OUT, .vlans = 1, .trunc = 18 + 39) },
	  .want = { .perr = PS_PERR_IPV6_TRUNC } },
	{ .name = "truncated in an ipv6 extension header",
	  .pkt = { UDP6(.hook = TC_OUT, .ext = "HR", .trunc = 14 + 40 + 8 + 20) },
	  .want = { .perr = PS_PERR_IPV6_EXT_TRUNC } },
	{ .name = "truncated in the tcp header",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN, .trunc = 14 + 20 + 19) },
	  .want = { .perr = PS_PERR_TCP_TRUNC } },
	{ .name = "truncated in the udp header",
	  .pkt = { UDP6(.hook = TC_IN, .trunc = 14 + 40 + 7) },
	  .want = { .perr = PS_PERR_UDP_TRUNC } },
	{ .name = "truncated in the icmp header",
	  .pkt = { { .hook = TC_OUT, .ipv = 4, .proto = IPPROTO_ICMP,
	      .icmp_type = 8, .trunc = 14 + 20 + 4 } },
	  .want = { .perr = PS_PERR_ICMP_TRUNC } },
	{ .name = "truncated in the icmpv6 header",
	  .pkt = { { .hook = TC_OUT, .ipv = 6, .proto = IPPROTO_ICMPV6,
	      .icmp_type = 128, .trunc = 14 + 40 + 6 } },
	  .want = { .perr = PS_PERR_ICMPV6_TRUNC } },
	{ .name = "truncated in the sctp header",
	  .pkt = { { .hook = TC_OUT, .ipv = 4, .proto = IPPROTO_SCTP,
	      .pod_port = 1, .peer_port = 2, .trunc = 14 + 20 + 10 } },
	  .want = { .perr = PS_PERR_SCTP_TRUNC } },
	{ .name = "tcp data offset 4",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN, .doff = 4) },
	  .want = { .perr = PS_PERR_TCP_DOFF } },
	{ .name = "ip length beyond the frame: the frame counts",
	  .pkt = { UDP4(.hook = TC_OUT, .tot_len = 1000, .payload = 12) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_UDP4 + 12,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },

	/* connections: both directions in one entry, TCP states */
	{ .name = "udp both directions: one entry, established",
	  .pkt = { UDP4(.hook = TC_OUT, .payload = 20),
	    UDP4(.hook = TC_IN, .payload = 200),
	    UDP4(.hook = TC_IN, .payload = 200) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_UDP4 + 20, .pkts_in = 2,
	    .bytes_in = 2 * (L_UDP4 + 200), .state = PS_FLOW_ESTABLISHED,
	    .opener = PS_SIDE_POD,  } },
	{ .name = "tcp syn, syn/ack: established",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN),
	    TCP4(.hook = TC_IN, .flags = SYN | ACK) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_TCP4, .pkts_in = 1,
	    .bytes_in = L_TCP4, .flags_out = SYN, .flags_in = SYN | ACK,
	    .state = PS_FLOW_ESTABLISHED, .opener = PS_SIDE_POD,
	     } },
	{ .name = "tcp to the pod: syn, syn/ack, ack, fin: closing",
	  .pkt = { TCP6(.hook = TC_IN, .flags = SYN),
	    TCP6(.hook = TC_OUT, .flags = SYN | ACK),
	    TCP6(.hook = TC_IN, .flags = ACK),
	    TCP6(.hook = TC_IN, .flags = FIN | ACK) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_TCP6, .pkts_in = 3,
	    .bytes_in = 3 * L_TCP6, .flags_out = SYN | ACK,
	    .flags_in = SYN | ACK | FIN, .state = PS_FLOW_CLOSING,
	    .opener = PS_SIDE_PEER,  } },
	{ .name = "tcp syn, syn/ack, ack, data, fin, fin: closed, one end",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN),
	    TCP4(.hook = TC_IN, .flags = SYN | ACK),
	    TCP4(.hook = TC_OUT, .flags = ACK),
	    TCP4(.hook = TC_OUT, .flags = PSH | ACK, .payload = 100, .seq = 900),
	    TCP4(.hook = TC_OUT, .flags = FIN | ACK, .seq = 1000),
	    TCP4(.hook = TC_IN, .flags = FIN | ACK, .seq = 5000, .ack = 1001),
	    TCP4(.hook = TC_OUT, .flags = ACK, .seq = 1001, .ack = 5001) },
	  .want = { .flows = 0, .pkts_out = 5, .bytes_out = 5 * L_TCP4 + 100,
	    .pkts_in = 2, .bytes_in = 2 * L_TCP4,
	    .flags_out = SYN | ACK | PSH | FIN, .flags_in = SYN | ACK | FIN,
	    .state = PS_FLOW_CLOSED, .opener = PS_SIDE_POD,
	    .ends = 1, .end_reason = PS_FLOW_R_FIN } },
	{ .name = "tcp both fins but not the last ack: not ended yet",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN),
	    TCP4(.hook = TC_IN, .flags = SYN | ACK),
	    TCP4(.hook = TC_OUT, .flags = ACK),
	    TCP4(.hook = TC_IN, .flags = FIN | ACK, .seq = 5000, .ack = 1000),
	    TCP4(.hook = TC_OUT, .flags = FIN | ACK, .seq = 1000, .ack = 5001),
	    TCP4(.hook = TC_OUT, .flags = FIN | ACK, .seq = 1000, .ack = 5001) },
	  .want = { .flows = 1, .pkts_out = 4, .bytes_out = 4 * L_TCP4,
	    .pkts_in = 2, .bytes_in = 2 * L_TCP4,
	    .flags_out = SYN | ACK | FIN, .flags_in = SYN | ACK | FIN,
	    .state = PS_FLOW_FIN_BOTH, .opener = PS_SIDE_POD } },
	{ .name = "tcp both ends close at once: each fin's ack counted, the last ends it",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN),
	    TCP4(.hook = TC_IN, .flags = SYN | ACK),
	    TCP4(.hook = TC_OUT, .flags = ACK),
	    TCP4(.hook = TC_OUT, .flags = FIN | ACK, .seq = 1000, .ack = 5000),
	    TCP4(.hook = TC_IN, .flags = FIN | ACK, .seq = 5000, .ack = 1000),
	    TCP4(.hook = TC_OUT, .flags = ACK, .seq = 1001, .ack = 5001),
	    TCP4(.hook = TC_IN, .flags = ACK, .seq = 5001, .ack = 1001) },
	  .want = { .flows = 0, .pkts_out = 4, .bytes_out = 4 * L_TCP4,
	    .pkts_in = 3, .bytes_in = 3 * L_TCP4,
	    .flags_out = SYN | ACK | FIN, .flags_in = SYN | ACK | FIN,
	    .state = PS_FLOW_CLOSED, .opener = PS_SIDE_POD,
	    .ends = 1, .end_reason = PS_FLOW_R_FIN } },
	{ .name = "tcp fin after data, across the sequence wrap: an ack of the data alone does not ack it",
	  .pkt = { TCP6(.hook = TC_OUT, .flags = SYN),
	    TCP6(.hook = TC_IN, .flags = SYN | ACK),
	    TCP6(.hook = TC_IN, .flags = FIN | PSH | ACK, .payload = 10,
		 .seq = 0xfffffffa, .ack = 1),
	    TCP6(.hook = TC_OUT, .flags = FIN | ACK, .seq = 1, .ack = 4),
	    TCP6(.hook = TC_IN, .flags = ACK, .seq = 5, .ack = 2) },
	  .want = { .flows = 1, .pkts_out = 2, .bytes_out = 2 * L_TCP6,
	    .pkts_in = 3, .bytes_in = 3 * L_TCP6 + 10,
	    .flags_out = SYN | ACK | FIN, .flags_in = SYN | ACK | PSH | FIN,
	    .state = PS_FLOW_FIN_BOTH, .opener = PS_SIDE_POD } },
	{ .name = "tcp fin after data, across the sequence wrap: its ack ends the flow",
	  .pkt = { TCP6(.hook = TC_OUT, .flags = SYN),
	    TCP6(.hook = TC_IN, .flags = SYN | ACK),
	    TCP6(.hook = TC_IN, .flags = FIN | PSH | ACK, .payload = 10,
		 .seq = 0xfffffffa, .ack = 1),
	    TCP6(.hook = TC_OUT, .flags = FIN | ACK, .seq = 1, .ack = 4),
	    TCP6(.hook = TC_IN, .flags = ACK, .seq = 5, .ack = 2),
	    TCP6(.hook = TC_OUT, .flags = ACK, .seq = 2, .ack = 5) },
	  .want = { .flows = 0, .pkts_out = 3, .bytes_out = 3 * L_TCP6,
	    .pkts_in = 3, .bytes_in = 3 * L_TCP6 + 10,
	    .flags_out = SYN | ACK | FIN, .flags_in = SYN | ACK | PSH | FIN,
	    .state = PS_FLOW_CLOSED, .opener = PS_SIDE_POD,
	    .ends = 1, .end_reason = PS_FLOW_R_FIN } },
	{ .name = "tcp rst closes: the end carries it, a syn/ack after it opens anew",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN),
	    TCP4(.hook = TC_IN, .flags = RST | ACK),
	    TCP4(.hook = TC_OUT, .flags = SYN | ACK) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_TCP4,
	    .flags_out = SYN | ACK, .state = PS_FLOW_NEW,
	    .opener = PS_SIDE_PEER, .ends = 1,
	    .end_reason = PS_FLOW_R_RST } },
	{ .name = "tcp refused connect: one end event with both packets",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN),
	    TCP4(.hook = TC_IN, .flags = RST | ACK) },
	  .want = { .flows = 0, .pkts_out = 1, .bytes_out = L_TCP4, .pkts_in = 1,
	    .bytes_in = L_TCP4, .flags_out = SYN, .flags_in = RST | ACK,
	    .state = PS_FLOW_CLOSED, .opener = PS_SIDE_POD, .ends = 1,
	    .end_reason = PS_FLOW_R_RST } },
	{ .name = "tcp straggler after the end starts no flow",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN),
	    TCP4(.hook = TC_IN, .flags = RST | ACK),
	    TCP4(.hook = TC_OUT, .flags = ACK),
	    TCP4(.hook = TC_OUT, .flags = FIN | ACK) },
	  .want = { .flows = 0, .pkts_out = 1, .bytes_out = L_TCP4, .pkts_in = 1,
	    .bytes_in = L_TCP4, .flags_out = SYN, .flags_in = RST | ACK,
	    .state = PS_FLOW_CLOSED, .opener = PS_SIDE_POD, .ends = 1,
	    .end_reason = PS_FLOW_R_RST } },
	{ .name = "tcp new syn on a closed tuple starts a new flow",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = SYN),
	    TCP4(.hook = TC_IN, .flags = RST | ACK),
	    TCP4(.hook = TC_OUT, .flags = SYN) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_TCP4, .flags_out = SYN,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,
	    .ends = 1, .end_reason = PS_FLOW_R_RST } },
	{ .name = "tcp picked up midway: established, opener unknown",
	  .pkt = { TCP4(.hook = TC_IN, .flags = ACK, .payload = 10) },
	  .want = { .flows = 1, .pkts_in = 1, .bytes_in = L_TCP4 + 10,
	    .flags_in = ACK, .state = PS_FLOW_ESTABLISHED,
	    .opener = PS_SIDE_UNKNOWN,  } },
	{ .name = "tcp syn/ack seen first: the other side opened",
	  .pkt = { TCP4(.hook = TC_IN, .flags = SYN | ACK) },
	  .want = { .flows = 1, .pkts_in = 1, .bytes_in = L_TCP4,
	    .flags_in = SYN | ACK, .state = PS_FLOW_NEW,
	    .opener = PS_SIDE_POD,  } },
	{ .name = "tcp gso packet counts its segments",
	  .pkt = { TCP4(.hook = TC_OUT, .flags = ACK, .payload = 2000,
		 .gso_segs = 4) },
	  .want = { .flows = 1, .pkts_out = 4, .bytes_out = L_TCP4 + 2000 + 3 * 40,
	    .flags_out = ACK, .state = PS_FLOW_ESTABLISHED,
	    .opener = PS_SIDE_UNKNOWN,  } },
	{ .name = "tcp lone rst: no flow",
	  .pkt = { TCP4(.hook = TC_IN, .flags = RST) },
	  .want = { .flows = 0 } },
	{ .name = "tcp lone fin without data: no flow",
	  .pkt = { TCP6(.hook = TC_OUT, .flags = FIN | ACK) },
	  .want = { .flows = 0 } },
	{ .name = "tcp picked up at a fin with data: closing",
	  .pkt = { TCP6(.hook = TC_OUT, .flags = FIN | ACK, .payload = 5) },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_TCP6 + 5,
	    .flags_out = FIN | ACK, .state = PS_FLOW_CLOSING,
	    .opener = PS_SIDE_UNKNOWN } },
	{ .name = "udp-lite ports",
	  .pkt = { { .hook = TC_OUT, .ipv = 6, .proto = 136, .pod_port = 7,
	      .peer_port = 8, .payload = 4 } },
	  .want = { .flows = 1, .pkts_out = 1, .bytes_out = L_UDP6 + 4,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "two flows of one pod: two entries",
	  .pkt = { UDP4(.hook = TC_OUT), UDP4(.hook = TC_OUT, .pod_port = 5354) },
	  .want = { .flows = 2, .pkts_out = 1, .bytes_out = L_UDP4,
	    .state = PS_FLOW_NEW, .opener = PS_SIDE_POD,  } },
	{ .name = "unregistered interface: nothing counted",
	  .pkt = { UDP4(.hook = TC_OUT), TCP4(.hook = TC_IN, .doff = 2) },
	  .want = { .flows = 0 }, .no_pod = true },

	/* XDP deny */
	{ .name = "xdp empty deny map passes",
	  .pkt = { TCP4(.hook = XDP, .flags = SYN) },
	  .want = { .flows = 0 } },
	{ .name = "xdp deny address and port drops",
	  .pkt = { TCP4(.hook = XDP, .flags = SYN),
		   TCP4(.hook = XDP, .flags = SYN) },
	  .want = { .flows = 1, .xdp_dropped = 2, .pkts_out = 2,
	    .bytes_out = 2 * L_TCP4, .flags_out = SYN, .state = PS_FLOW_NEW,
	    .opener = PS_SIDE_POD, .verdict = PS_VERDICT_DROP },
	  .deny = { { 4, IPPROTO_TCP, 80, PS_DENY_DROP } } },
	{ .name = "xdp deny port 0 covers every port",
	  .pkt = { TCP6(.hook = XDP, .flags = SYN),
		   TCP6(.hook = XDP, .peer_port = 22) },
	  .want = { .flows = 2, .xdp_dropped = 2, .pkts_out = 1,
	    .bytes_out = L_TCP6, .flags_out = SYN, .state = PS_FLOW_NEW,
	    .opener = PS_SIDE_POD, .verdict = PS_VERDICT_DROP },
	  .deny = { { 6, IPPROTO_TCP, 0, PS_DENY_DROP } } },
	{ .name = "xdp deny of another port passes",
	  .pkt = { TCP4(.hook = XDP, .flags = SYN) },
	  .want = { .flows = 0 },
	  .deny = { { 4, IPPROTO_TCP, 81, PS_DENY_DROP },
		    { 4, IPPROTO_UDP, 80, PS_DENY_DROP } } },
	{ .name = "xdp inactive deny entry passes",
	  .pkt = { UDP4(.hook = XDP) },
	  .want = { .flows = 0 },
	  .deny = { { 4, IPPROTO_UDP, 53, PS_DENY_NONE } } },
	{ .name = "xdp malformed packet passes",
	  .pkt = { UDP4(.hook = XDP, .ihl = 3) },
	  .want = { .flows = 0 },
	  .deny = { { 4, IPPROTO_UDP, 0, PS_DENY_DROP } } },
};

#pragma GCC diagnostic pop
/* clang-format on */

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* ---- table limits: LRU eviction and a full ring buffer ---- */

/* Send n UDP packets of n different flows from the pod. */
static bool send_flows(struct fixture *fx, int n)
{
	struct pkt_spec s = UDP4(.hook = TC_OUT);
	int i, ret;

	for (i = 0; i < n; i++) {
		s.pod_port = 10000 + i;
		if (!ASSERT_OK(pkt_run(fx, &s, &ret), "test run"))
			return false;
	}
	return true;
}

static void test_lru_eviction_counted(void)
{
	struct fixture fx;
	int present, evicted, full;

	if (!fixture_open(&fx, PS_FLOW_UPDATE_NS_DEFAULT, true, 256, 0))
		return;
	if (!send_flows(&fx, 1000))
		goto out;
	ring_buffer__consume(fx.rb);
	present = flows_count(&fx);
	evicted =
	    percpu_sum(bpf_map__fd(fx.skel->maps.drops), PS_DROP_FLOW_EVICTED);
	full = percpu_sum(bpf_map__fd(fx.skel->maps.drops), PS_DROP_FLOWS_FULL);
	fprintf(stderr, "present %d evicted %d full %d\n", present, evicted,
		full);
	if (!ASSERT_TRUE(present <= 256, "table bounded") ||
	    !ASSERT_EQ(full, 0, "flows_full") ||
	    !ASSERT_EQ(fx.ev.ends + fx.ev.updates + fx.ev.others, 0,
		       "no event for a flow that starts"))
		goto out;
	ASSERT_EQ(evicted, 1000 - present,
		  "flow_evicted counts every eviction");
out:
	fixture_close(&fx);
}

/* n TCP connections refused (SYN, RST): each ends at once. */
static bool refused_flows(struct fixture *fx, int n)
{
	struct pkt_spec syn = TCP4(.hook = TC_OUT, .flags = PS_TCP_SYN);
	struct pkt_spec rst = TCP4(.hook = TC_IN, .flags = PS_TCP_RST | PS_TCP_ACK);
	int i, ret;

	for (i = 0; i < n; i++) {
		syn.pod_port = rst.pod_port = 20000 + i;
		if (!ASSERT_OK(pkt_run(fx, &syn, &ret), "syn") ||
		    !ASSERT_OK(pkt_run(fx, &rst, &ret), "rst"))
			return false;
	}
	return true;
}

/* Run the calling thread on CPU `cpu` only. */
static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Two CPUs start and end flows at once in a table far from full: an
 * insert on one CPU while the other deletes must not count as an
 * eviction, so flow_evicted stays 0. */
struct churn {
	struct fixture *fx;
	int cpu, port0, n, failed;
	volatile int *running;
};

static void *churn_run(void *arg)
{
	struct churn *c = arg;
	struct pkt_spec syn = TCP4(.hook = TC_OUT, .flags = PS_TCP_SYN);
	struct pkt_spec rst =
	    TCP4(.hook = TC_IN, .flags = PS_TCP_RST | PS_TCP_ACK);
	int i, ret;

	pin_to_cpu(c->cpu);
	for (i = 0; i < c->n; i++) {
		syn.pod_port = rst.pod_port = c->port0 + i % 4000;
		if (pkt_run(c->fx, &syn, &ret) || pkt_run(c->fx, &rst, &ret))
			c->failed++;
	}
	__atomic_sub_fetch(c->running, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_evictions_exact_across_cpus(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	volatile int running = 2;
	struct churn c[2];
	pthread_t t[2];
	struct fixture fx;
	__u64 evicted;
	int i;

	if (!fixture_open(&fx, PS_FLOW_UPDATE_NS_DEFAULT, true, 65536,
			  1 << 24)) /* all 60000 ends fit, read or not */
		return;
	for (i = 0; i < 2; i++) {
		c[i] = (struct churn){.fx = &fx, .cpu = ncpu > 1 ? i : 0,
				      .port0 = 20000 + i * 5000, .n = 30000,
				      .running = &running};
		if (!ASSERT_OK(pthread_create(&t[i], NULL, churn_run, &c[i]),
			       "pthread_create")) {
			running -= 2 - i;
			break;
		}
	}
	while (__atomic_load_n(&running, __ATOMIC_SEQ_CST) > 0)
		ring_buffer__poll(fx.rb, 10);
	while (i-- > 0)
		pthread_join(t[i], NULL);
	ring_buffer__consume(fx.rb);
	evicted =
	    percpu_sum(bpf_map__fd(fx.skel->maps.drops), PS_DROP_FLOW_EVICTED);
	fprintf(stderr, "%ld CPUs, flows ended %d, left %d, evicted %llu\n",
		ncpu, fx.ev.ends, flows_count(&fx), (unsigned long long)evicted);
	if (!ASSERT_EQ(c[0].failed + c[1].failed, 0, "test runs") ||
	    !ASSERT_EQ(fx.ev.ends, 60000, "every refused connect ended"))
		goto out;
	ASSERT_EQ(evicted, 0, "no flow_evicted without an eviction");
out:
	fixture_close(&fx);
}

/* Both ends of n TCP connections closing at once, each end on its own
 * CPU: the FINs cross, then the last ACKs. Each connection must end
 * once, at its last ACK, whichever CPU sees which packet first. */
struct closer {
	struct fixture *fx;
	int cpu, pod, n, failed;
	volatile int *arrived;
};

/* Both threads past step `step` of a connection before either goes on. */
static void closer_meet(struct closer *c, int step)
{
	__atomic_add_fetch(c->arrived, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(c->arrived, __ATOMIC_SEQ_CST) < 2 * step)
		;
}

static void *closer_run(void *arg)
{
	struct closer *c = arg;
	/* the pod's sequence numbers start at 1000, the peer's at 5000 */
	struct pkt_spec pod[] = {
	    TCP4(.hook = TC_OUT, .flags = PS_TCP_SYN, .seq = 999),
	    TCP4(.hook = TC_OUT, .flags = PS_TCP_ACK, .seq = 1000, .ack = 5000),
	    TCP4(.hook = TC_OUT, .flags = PS_TCP_FIN | PS_TCP_ACK, .seq = 1000,
		 .ack = 5000),
	    TCP4(.hook = TC_OUT, .flags = PS_TCP_ACK, .seq = 1001,
		 .ack = 5001)};
	struct pkt_spec peer[] = {
	    TCP4(.hook = TC_IN, .flags = PS_TCP_SYN | PS_TCP_ACK, .seq = 4999,
		 .ack = 1000),
	    TCP4(.hook = TC_IN, .flags = PS_TCP_FIN | PS_TCP_ACK, .seq = 5000,
		 .ack = 1000),
	    TCP4(.hook = TC_IN, .flags = PS_TCP_ACK, .seq = 5001, .ack = 1001)};
	int i, j, ret, step = 0;

	pin_to_cpu(c->cpu);
	for (i = 0; i < c->n; i++) {
		for (j = 0; j < 4; j++)
			pod[j].pod_port = 30000 + i;
		for (j = 0; j < 3; j++)
			peer[j].pod_port = 30000 + i;
		/* handshake, one after the other */
		if (c->pod && pkt_run(c->fx, &pod[0], &ret))
			c->failed++;
		closer_meet(c, ++step);
		if (!c->pod && pkt_run(c->fx, &peer[0], &ret))
			c->failed++;
		closer_meet(c, ++step);
		if (c->pod && pkt_run(c->fx, &pod[1], &ret))
			c->failed++;
		closer_meet(c, ++step);
		/* the FINs cross, then the last ACKs */
		for (j = 0; j < 2; j++) {
			if (pkt_run(c->fx, c->pod ? &pod[2 + j] : &peer[1 + j],
				    &ret))
				c->failed++;
			closer_meet(c, ++step);
		}
	}
	return NULL;
}

static void test_close_race_across_cpus(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const int n = 5000;
	volatile int arrived = 0;
	struct closer c[2];
	pthread_t t[2];
	struct fixture fx;
	int i, ends = 0;

	if (!fixture_open(&fx, PS_FLOW_UPDATE_NS_DEFAULT, true, 65536,
			  1 << 22))
		return;
	for (i = 0; i < 2; i++) {
		c[i] = (struct closer){.fx = &fx, .cpu = ncpu > 1 ? i : 0,
				       .pod = !i, .n = n, .arrived = &arrived};
		if (pthread_create(&t[i], NULL, closer_run, &c[i])) {
			/* the first would wait for the second for ever */
			perror("pthread_create");
			exit(1);
		}
	}
	/* the ends: polled here, counted in fx.ev */
	while (fx.ev.ends < n &&
	       __atomic_load_n(&arrived, __ATOMIC_SEQ_CST) < 2 * 5 * n)
		ring_buffer__poll(fx.rb, 10);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ring_buffer__consume(fx.rb);
	ends = fx.ev.ends;
	fprintf(stderr, "%ld CPUs, %d connections: %d ends, %d left open\n",
		ncpu, n, ends, flows_count(&fx));
	if (!ASSERT_EQ(c[0].failed + c[1].failed, 0, "test runs"))
		goto out;
	if (ASSERT_EQ(ends, n, "each connection ends once"))
		ASSERT_EQ(flows_count(&fx), 0, "none left open");
out:
	fixture_close(&fx);
}

/* Ends that do not fit the ring buffer are counted, and their flows stay
 * in the table (PS_FLOWF_END_LOST) for the daemon's sweep. */
static void test_ringbuf_full_counted(void)
{
	struct ps_flow_key4 k, next, *prev = NULL;
	int lost, kept = 0, fd;
	struct fixture fx;
	struct ps_flow f;

	if (!fixture_open(&fx, PS_FLOW_UPDATE_NS_DEFAULT, true, 0, 4096))
		return;
	if (!refused_flows(&fx, 40))
		goto out;
	ring_buffer__consume(fx.rb);
	lost = percpu_sum(bpf_map__fd(fx.skel->maps.drops), PS_DROP_RB_FLOW);
	if (!ASSERT_TRUE(lost > 0, "some FLOW_END lost"))
		goto out;
	ASSERT_EQ(fx.ev.ends + lost, 40, "received + ringbuf_flow");
	fd = bpf_map__fd(fx.skel->maps.flows4);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(fd, &k, &f) &&
		    (f.flags & PS_FLOWF_END_LOST) && f.state == PS_FLOW_CLOSED)
			kept++;
	}
	ASSERT_EQ(kept, lost, "every lost end kept in the table");
out:
	fixture_close(&fx);
}

/* A closed flow kept for the sweep (its end did not fit) and taken by a
 * new connection on its tuple: its end is sent then, when it fits now,
 * and not counted lost a second time when it still does not. */
static void test_lost_end_sent_at_tuple_reuse(void)
{
	struct pkt_spec syn = TCP4(.hook = TC_OUT, .flags = PS_TCP_SYN);
	struct ps_flow_key4 k, next, *prev = NULL;
	int fd, ret, kept = 0, ends;
	__u16 ports[2] = {0, 0};
	struct fixture fx;
	struct ps_flow f;
	__u64 lost;

	if (!fixture_open(&fx, PS_FLOW_UPDATE_NS_DEFAULT, true, 0, 4096))
		return;
	if (!refused_flows(&fx, 40))
		goto out;
	fd = bpf_map__fd(fx.skel->maps.flows4);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(fd, &k, &f) &&
		    (f.flags & PS_FLOWF_END_LOST) && kept < 2)
			ports[kept++] = ntohs(k.port[0]);
	}
	lost = percpu_sum(bpf_map__fd(fx.skel->maps.drops), PS_DROP_RB_FLOW);
	if (!ASSERT_EQ(kept, 2, "two ends kept for the sweep"))
		goto out;
	/* the ring still full: the first one's end is lost, once */
	syn.pod_port = ports[0];
	if (!ASSERT_OK(pkt_run(&fx, &syn, &ret), "SYN, ring full"))
		goto out;
	ASSERT_EQ(percpu_sum(bpf_map__fd(fx.skel->maps.drops), PS_DROP_RB_FLOW),
		  lost, "not counted again");
	/* room again: the second one's end comes with the new SYN */
	ring_buffer__consume(fx.rb);
	ends = fx.ev.ends;
	syn.pod_port = ports[1];
	if (!ASSERT_OK(pkt_run(&fx, &syn, &ret), "SYN, room"))
		goto out;
	ring_buffer__consume(fx.rb);
	if (!ASSERT_EQ(fx.ev.ends, ends + 1, "the kept end sent") ||
	    !ASSERT_EQ(ntohs(fx.ev.last_end.key.port[0]), ports[1], "its tuple") ||
	    !ASSERT_TRUE(fx.ev.last_end.flow.flags & PS_FLOWF_END_LOST,
			 "marked as the one kept") ||
	    !ASSERT_EQ(fx.ev.end_reason, PS_FLOW_R_RST, "ended by its RST"))
		goto out;
	kept = 0;
	prev = NULL;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(fd, &k, &f) &&
		    (ntohs(k.port[0]) == ports[0] || ntohs(k.port[0]) == ports[1]))
			kept += f.state == PS_FLOW_NEW && !(f.flags & PS_FLOWF_END_LOST);
	}
	ASSERT_EQ(kept, 2, "both tuples hold the new connections");
out:
	fixture_close(&fx);
}

static void test_loads_with_pins(void)
{
	/* the object as the daemon opens it: every map pinned by name under
	 * one folder, reused by a second instance */
	const char *dir = test_env("PS_TEST_BPFFS", "/sys/fs/bpf/pstest-flow");
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = dir);
	struct flow_bpf *a = NULL, *b = NULL;
	struct bpf_map *m;
	char path[512];

	mkdir(dir, 0700);
	a = flow_bpf__open_opts(&opts);
	b = flow_bpf__open_opts(&opts);
	if (!ASSERT_TRUE(a && b, "open with pin_root_path") ||
	    !ASSERT_OK(flow_bpf__load(a), "load a") ||
	    !ASSERT_OK(flow_bpf__load(b), "load b reusing the pins"))
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, PS_PIN_FLOWS4);
	ASSERT_OK(access(path, F_OK), "flows4 pinned");
	snprintf(path, sizeof(path), "%s/%s", dir, PS_PIN_FLOWS6);
	ASSERT_OK(access(path, F_OK), "flows6 pinned");
	snprintf(path, sizeof(path), "%s/%s", dir, PS_PIN_DENY);
	ASSERT_OK(access(path, F_OK), "deny pinned");
	snprintf(path, sizeof(path), "%s/%s", dir, PS_PIN_PARSE_ERRORS);
	ASSERT_OK(access(path, F_OK), "parse_errors pinned");
out:
	if (a)
		bpf_object__for_each_map(m, a->obj) if (bpf_map__is_pinned(m))
		    bpf_map__unpin(m, NULL);
	flow_bpf__destroy(b);
	flow_bpf__destroy(a);
	rmdir(dir);
}

/* A long flow reports every flow_update_ns, measured on the flow clock
 * (tick resolution): nothing within the interval, one update after it;
 * flow_update_ns 0 turns updates off. */
static void periodic_run(__u64 interval, int want_after)
{
	struct pkt_spec s = UDP4(.hook = TC_OUT);
	struct timespec pause = {0, 150 * 1000000L};
	struct fixture fx;
	int i, ret;

	if (!fixture_open(&fx, interval, true, 1024, 65536))
		return;
	for (i = 0; i < 3; i++)
		if (!ASSERT_OK(pkt_run(&fx, &s, &ret), "test run"))
			goto out;
	ring_buffer__consume(fx.rb);
	if (!ASSERT_EQ(fx.ev.ends + fx.ev.others, 0, "no event at the start") ||
	    !ASSERT_EQ(fx.ev.updates, 0, "no FLOW_UPDATE within the interval"))
		goto out;
	nanosleep(&pause, NULL);
	for (i = 0; i < 3; i++)
		if (!ASSERT_OK(pkt_run(&fx, &s, &ret), "test run"))
			goto out;
	ring_buffer__consume(fx.rb);
	ASSERT_EQ(fx.ev.updates, want_after, "FLOW_UPDATE after the interval");
out:
	fixture_close(&fx);
}

static void test_periodic_update_after_interval(void)
{
	periodic_run(50 * 1000000ULL, 1);
}

static void test_periodic_update_off(void)
{
	periodic_run(0, 0);
}

/* A datagram from pod A (slot 7, ifindex 1) to pod B (slot 8, a second
 * veth) of this node leaves A's veth (TC ingress) and enters B's (TC
 * egress, ingress_ifindex A's): counted once, at A's. B's answer leaves
 * B's veth: the same entry, the other end. */
static void test_two_local_pods(void)
{
	struct pkt_spec a2b = UDP4(.hook = TC_OUT, .payload = 10);
	struct pkt_spec b2a = UDP4(.hook = TC_IN, .payload = 30);
	struct ps_pod_iface pb = {.slot = SLOT + 1, .netns_ino = NETNS_INO + 1};
	struct __sk_buff skb = {};
	__u8 buf[PKT_MAX];
	struct ps_flow_key k = {.family = AF_INET, .proto = IPPROTO_UDP};
	__u32 ifb = 0;
	char name[16], cmd[160];
	struct fixture fx;
	struct ps_flow f;
	int ret;

	snprintf(name, sizeof(name), "psfb%d", getpid() % 1000000);
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %sp 2>/dev/null",
		 name, name);
	if (!ASSERT_OK(system(cmd), "veth for pod B"))
		return;
	ifb = if_nametoindex(name);
	if (!fixture_open(&fx, PS_FLOW_UPDATE_NS_DEFAULT, true, 1024, 65536))
		goto out_link;
	if (!ASSERT_OK(pod_iface_set(&fx, ifb, &pb), "register pod B") ||
	    !ASSERT_OK(pkt_run(&fx, &a2b, &ret), "A sends"))
		goto out;
	/* the same packet at B's veth, coming from A's */
	skb.ifindex = ifb;
	skb.ingress_ifindex = LO_IFINDEX;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf,
			    .data_size_in = pkt_build(&a2b, buf), .ctx_in = &skb,
			    .ctx_size_in = sizeof(skb), .repeat = 1);

		if (!ASSERT_OK(bpf_prog_test_run_opts(
				bpf_program__fd(fx.skel->progs.tc_egress), &o),
			       "B receives"))
			goto out;
	}
	/* B answers: TC ingress of B's veth (a packet from peer to pod in
	 * the builder's terms is from B to A) */
	skb.ingress_ifindex = 0;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf,
			    .data_size_in = pkt_build(&b2a, buf), .ctx_in = &skb,
			    .ctx_size_in = sizeof(skb), .repeat = 1);

		if (!ASSERT_OK(bpf_prog_test_run_opts(
				bpf_program__fd(fx.skel->progs.tc_ingress), &o),
			       "B answers"))
			goto out;
	}
	ring_buffer__consume(fx.rb);
	k.port[0] = htons(a2b.pod_port);
	k.port[1] = htons(a2b.peer_port);
	memcpy(k.addr[0].b, pod4, 4);
	memcpy(k.addr[1].b, peer4, 4);
	if (!ASSERT_EQ(flows_count(&fx), 1, "one entry on the node") ||
	    !ASSERT_OK(flow_get(&fx, &k, &f), "the entry"))
		goto out;
	ASSERT_EQ(f.end[0].packets, 1, "A sent one, counted once");
	ASSERT_EQ(f.end[0].bytes, L_UDP4 + 10, "A's bytes");
	ASSERT_EQ(f.end[1].packets, 1, "B sent one");
	ASSERT_EQ(f.end[1].bytes, L_UDP4 + 30, "B's bytes");
	ASSERT_EQ(f.end[0].slot, SLOT, "A's slot");
	ASSERT_EQ(f.end[1].slot, SLOT + 1, "B's slot");
	ASSERT_EQ(f.opener, PS_SIDE_POD, "A opened it");
out:
	fixture_close(&fx);
out_link:
	snprintf(cmd, sizeof(cmd), "ip link del %s 2>/dev/null", name);
	if (system(cmd))
		fprintf(stderr, "could not delete link %s\n", name);
}

/* A veth's ifindex grows as links come and go: a pod behind an ifindex
 * of PS_IFINDEX_LOW or more is found through the pod_ifindex hash. The
 * test makes a veth with such an index (an explicit index leaves the
 * netns's next free ifindex where it was) and runs TC ingress on it. */
static void test_pod_on_high_ifindex(void)
{
	struct ps_pod_iface pi = {.slot = SLOT + 2, .netns_ino = NETNS_INO + 2};
	struct pkt_spec s = {.hook = TC_OUT, .ipv = 4, .proto = IPPROTO_TCP,
			     .flags = 0x02, .pod_port = 40000, .peer_port = 80};
	struct ps_flow_key k = {.family = AF_INET, .proto = IPPROTO_TCP};
	struct __sk_buff skb = {};
	__u8 buf[PKT_MAX];
	char name[16], cmd[160];
	struct fixture fx;
	struct ps_flow f;
	__u32 ifindex = 0;
	int i;

	snprintf(name, sizeof(name), "psfh%d", getpid() % 1000000);
	for (i = 0; i < 8 && !ifindex; i++) {
		__u32 want = PS_IFINDEX_LOW + 1000 + (getpid() % 500000) * 8 + i;

		snprintf(cmd, sizeof(cmd),
			 "ip link add %s index %u type veth peer name %sp "
			 "2>/dev/null",
			 name, want, name);
		if (!system(cmd))
			ifindex = want;
	}
	if (!ASSERT_TRUE(ifindex != 0, "veth with a high ifindex"))
		return;
	if (!fixture_open(&fx, PS_FLOW_UPDATE_NS_DEFAULT, true, 1024, 65536))
		goto out_link;
	if (!ASSERT_OK(pod_iface_set(&fx, ifindex, &pi), "register pod"))
		goto out;
	skb.ifindex = ifindex;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf,
			    .data_size_in = pkt_build(&s, buf),
			    .ctx_in = &skb, .ctx_size_in = sizeof(skb),
			    .repeat = 1);

		if (!ASSERT_OK(bpf_prog_test_run_opts(
				   bpf_program__fd(fx.skel->progs.tc_ingress),
				   &o),
			       "test run on the veth") ||
		    !ASSERT_EQ((int)o.retval, TC_ACT_UNSPEC, "tc verdict"))
			goto out;
	}
	k.port[0] = htons(s.pod_port);
	k.port[1] = htons(s.peer_port);
	memcpy(k.addr[0].b, pod4, 4);
	memcpy(k.addr[1].b, peer4, 4);
	if (!ASSERT_OK(flow_get(&fx, &k, &f),
		       "flow of the pod behind the high ifindex"))
		goto out;
	ASSERT_EQ(f.end[0].packets, 1, "packets_out");
	ASSERT_EQ(f.end[0].slot, SLOT + 2, "the pod's slot");
	ASSERT_EQ(f.state, PS_FLOW_NEW, "state");
out:
	fixture_close(&fx);
out_link:
	snprintf(cmd, sizeof(cmd), "ip link del %s 2>/dev/null", name);
	if (system(cmd))
		fprintf(stderr, "could not delete link %s\n", name);
}

/* The benchmark baselines must load too (make bench is not CI). */
static void test_bench_object_loads(void)
{
	struct bench_bpf *b = bench_bpf__open_and_load();

	ASSERT_TRUE(b != NULL, "bench_bpf__open_and_load");
	bench_bpf__destroy(b);
}

/* ---- main: one subtest per case ---- */

static const struct pkt_case *run_order[N_CASES];
static size_t run_next;

static void case_next(void)
{
	case_run(run_order[run_next++]);
}

int main(int argc, char **argv)
{
	static const struct ps_test fixed[] = {
	    TEST(test_lru_eviction_counted),
	    TEST(test_ringbuf_full_counted),
	    TEST(test_lost_end_sent_at_tuple_reuse),
	    TEST(test_evictions_exact_across_cpus),
	    TEST(test_close_race_across_cpus),
	    TEST(test_loads_with_pins),
	    TEST(test_periodic_update_after_interval),
	    TEST(test_periodic_update_off),
	    TEST(test_two_local_pods),
	    TEST(test_pod_on_high_ifindex),
	    TEST(test_bench_object_loads),
	};
	const size_t n_fixed = sizeof(fixed) / sizeof(fixed[0]);
	struct ps_test tests[N_CASES + n_fixed];
	const char *only = argc > 1 ? argv[1] : NULL;
	int n = 0;
	size_t i;

	for (i = 0; i < N_CASES; i++) {
		if (only && strcmp(only, cases[i].name))
			continue;
		run_order[n] = &cases[i];
		tests[n].name = cases[i].name;
		tests[n++].fn = case_next;
	}
	for (i = 0; i < n_fixed; i++)
		if (!only || !strcmp(only, fixed[i].name))
			tests[n++] = fixed[i];
	return test_main(1, argv, tests, n);
}
