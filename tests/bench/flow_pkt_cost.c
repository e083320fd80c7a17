// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-packet cost of the flow TC program (bpf/flow.bpf.c) through
 * BPF_PROG_TEST_RUN, as ns per packet and as a ratio to tc_nop (a TC
 * program that only returns, bpf/bench.bpf.c) measured in the same run:
 *   - existing flow: one packet of a flow in a table pre-filled with
 *     FLOWS flows, run REPEAT times in the kernel: IPv4 (flows4), and
 *     IPv6 (flows6, also pre-filled with FLOWS flows);
 *   - new flow: NEW packets of distinct flows, one run each (the kernel
 *     times each run; the baseline is tc_nop timed the same way);
 *   - XDP with an empty deny map against xdp_nop;
 *   - the existing IPv4 flow against tc_lookup, the floor of any per-flow
 *     accounting (the 5-tuple looked up in an LRU hash as large, filled
 *     with the same flows, two counters added to): what the flow
 *     program adds beyond one table lookup.
 * The object is loaded unpinned, with a pod registered on ifindex 1 (the
 * loopback device test runs use). Root only.
 *
 *   build/bench/flow_pkt_cost [-n REPEAT] [-f FLOWS] [-N NEW] [-r ROUNDS]
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "podsentry.h"
#include "flow.skel.h"
#include "bench.skel.h"

#define SLOT 3
#define LO_IFINDEX 1

struct opts {
	int repeat, flows, new_flows, rounds;
};

static const __u8 pod4[4] = {10, 99, 0, 2}, peer4[4] = {10, 99, 0, 3};

/* Ethernet + IPv4 + TCP ACK from the pod, pod port `port`, 100 bytes of
 * payload: a typical established-flow packet. */
static size_t pkt_tcp4(__u8 *b, __u16 port)
{
	size_t len = 14 + 20 + 20 + 100;

	memset(b, 0, len);
	b[12] = 0x08; /* ETH_P_IP */
	b[14] = 0x45;
	b[16] = (len - 14) >> 8;
	b[17] = (len - 14) & 0xff;
	b[22] = 64;
	b[23] = 6; /* TCP */
	memcpy(b + 26, pod4, 4);
	memcpy(b + 30, peer4, 4);
	b[34] = port >> 8;
	b[35] = port & 0xff;
	b[37] = 80;
	b[46] = 5 << 4;
	b[47] = 0x10; /* ACK */
	return len;
}

static const __u8 pod6[16] = {0xfd, 0, 0, 0x99, [15] = 2};
static const __u8 peer6[16] = {0xfd, 0, 0, 0x99, [15] = 3};

/* The same as pkt_tcp4 over IPv6. */
static size_t pkt_tcp6(__u8 *b, __u16 port)
{
	size_t len = 14 + 40 + 20 + 100;

	memset(b, 0, len);
	b[12] = 0x86; /* ETH_P_IPV6 */
	b[13] = 0xdd;
	b[14] = 0x60;
	b[18] = (20 + 100) >> 8;
	b[19] = (20 + 100) & 0xff;
	b[20] = 6; /* TCP */
	b[21] = 64;
	memcpy(b + 22, pod6, 16);
	memcpy(b + 38, peer6, 16);
	b[54] = port >> 8;
	b[55] = port & 0xff;
	b[57] = 80;
	b[66] = 5 << 4;
	b[67] = 0x10; /* ACK */
	return len;
}

/* The key of the i-th pre-filled flow: pod ports 1..65535, then other
 * peer addresses; family 2 or 10. The pod's address sorts first: it is
 * side 0. */
static void key_tcp(struct ps_flow_key *k, int family, int i)
{
	bool v4 = family == 2;

	memset(k, 0, sizeof(*k));
	k->family = family;
	k->proto = 6;
	k->port[0] = htons(1 + i % 65535);
	k->port[1] = htons(80);
	memcpy(k->addr[0].b, v4 ? pod4 : pod6, v4 ? 4 : 16);
	memcpy(k->addr[1].b, v4 ? peer4 : peer6, v4 ? 4 : 16);
	k->addr[1].b[v4 ? 3 : 15] += i / 65535;
}

static __u64 boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Average ns per run of `prog` on `pkt`, as timed by the kernel. */
static double run_ns(struct bpf_program *prog, const __u8 *pkt, size_t len,
		     int repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &o)) {
		fprintf(stderr, "test run %s: %s\n", bpf_program__name(prog),
			strerror(errno));
		exit(1);
	}
	return o.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* v sorted: the minimum is the cost with the least interference from
 * other work on the machine, the median what a busy machine sees */
static void stats(double *v, int n, double *min, double *med)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*min = v[0];
	*med = v[n / 2];
}

static int on_event(void *ctx, void *data, size_t size)
{
	(*(long *)ctx)++;
	return 0;
}

/* FLOWS IPv4 flows in flows4 and in tc_lookup's table, and as many IPv6
 * ones in flows6. */
static int prefill(struct flow_bpf *fs, struct bench_bpf *bs, int flows,
		   __u16 *hot_port)
{
	int fd4 = bpf_map__fd(fs->maps.flows4),
	    fd6 = bpf_map__fd(fs->maps.flows6),
	    fdl = bpf_map__fd(bs->maps.lookup_flows);
	struct ps_flow v = {.state = PS_FLOW_ESTABLISHED, .opener = 1};
	struct ps_flow_key k;
	struct ps_flow_key4 k4;
	int i;

	v.first_seen = v.last_seen = v.last_report = boot_ns();
	v.end[0].slot = SLOT;
	for (i = 0; i < flows; i++) {
		key_tcp(&k, 2, i);
		ps_flow_key4_of(&k, &k4);
		if (bpf_map_update_elem(fd4, &k4, &v, BPF_NOEXIST) ||
		    bpf_map_update_elem(fdl, &k4, &v, BPF_NOEXIST))
			break;
		key_tcp(&k, 10, i);
		if (bpf_map_update_elem(fd6, &k, &v, BPF_NOEXIST))
			break;
	}
	if (i < flows) {
		fprintf(stderr, "prefill flows: %s\n", strerror(errno));
		return -1;
	}
	*hot_port = 1 + (flows / 2) % 65535; /* a flow in the table */
	return 0;
}

/* Packets tc_lookup counted on the flow of pod port `hot`: its table
 * holds flows4's flows under flows4's keys (the pod, which sends, sorts
 * first). */
static __u64 lookup_hits(struct bench_bpf *bs, __u16 hot)
{
	struct ps_flow_key4 k4;
	struct ps_flow_key k;
	struct ps_flow v;

	key_tcp(&k, 2, hot - 1);
	ps_flow_key4_of(&k, &k4);
	if (bpf_map_lookup_elem(bpf_map__fd(bs->maps.lookup_flows), &k4, &v))
		return 0;
	return v.end[0].packets;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-n REPEAT] [-f FLOWS] [-N NEW] [-r ROUNDS]\n"
		"  -n  in-kernel repeats per measurement (default 1000000)\n"
		"  -f  flows pre-filled in the table (default 65536)\n"
		"  -N  new flows timed one by one (default 20000)\n"
		"  -r  rounds; the median is reported (default 5)\n"
		"example: %s -n 200000 -r 3\n",
		prog, prog);
}

int main(int argc, char **argv)
{
	struct opts op = {1000000, 65536, 20000, 5};
	struct ps_pod_iface pi = {.slot = SLOT, .netns_ino = 1};
	struct flow_bpf *fs = NULL;
	struct bench_bpf *bs = NULL;
	struct ring_buffer *rb = NULL;
	__u32 ifindex = LO_IFINDEX;
	double nop[16], hit[16], hit6[16], xnop[16], xdp[16], look[16];
	double nop1, fresh;
	__u8 pkt[256], pkt6[256];
	struct bpf_map *m;
	size_t len, len6;
	__u16 hot;
	long events = 0;
	int c, i, r, err = 1;

	while ((c = getopt(argc, argv, "n:f:N:r:h")) != -1) {
		switch (c) {
		case 'n':
			op.repeat = atoi(optarg);
			break;
		case 'f':
			op.flows = atoi(optarg);
			break;
		case 'N':
			op.new_flows = atoi(optarg);
			break;
		case 'r':
			op.rounds = atoi(optarg);
			break;
		default:
			usage(argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (op.repeat < 1 || op.flows < 1 || op.flows > PS_MAX_FLOWS / 2 ||
	    op.new_flows < 1 || op.new_flows > 60000 || op.rounds < 1 ||
	    op.rounds > 16) {
		usage(argv[0]);
		return 2;
	}

	fs = flow_bpf__open();
	bs = bench_bpf__open();
	if (!fs || !bs) {
		fprintf(stderr, "open flow/bench objects: %s\n",
			strerror(errno));
		goto out;
	}
	bpf_object__for_each_map(m, fs->obj) bpf_map__set_pin_path(m, NULL);
	/* room for the IPv6 flows without LRU evictions */
	bpf_map__set_max_entries(fs->maps.flows6, PS_MAX_FLOWS);
	bpf_map__set_max_entries(bs->maps.lookup_flows,
				 bpf_map__max_entries(fs->maps.flows4));
	if (flow_bpf__load(fs) || bench_bpf__load(bs)) {
		fprintf(stderr, "load flow/bench objects: %s\n",
			strerror(errno));
		goto out;
	}
	if (bpf_map_update_elem(bpf_map__fd(fs->maps.pod_ifindex), &ifindex,
				&pi, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(fs->maps.pod_ifindex_low), &ifindex,
				&pi, BPF_ANY) ||
	    prefill(fs, bs, op.flows, &hot))
		goto out;
	rb = ring_buffer__new(bpf_map__fd(fs->maps.events), on_event, &events,
			      NULL);
	if (!rb)
		goto out;

	/* existing flow, table of op.flows */
	len = pkt_tcp4(pkt, hot);
	for (r = 0; r < op.rounds; r++) {
		nop[r] = run_ns(bs->progs.tc_nop, pkt, len, op.repeat);
		hit[r] = run_ns(fs->progs.tc_ingress, pkt, len, op.repeat);
		look[r] = run_ns(bs->progs.tc_lookup, pkt, len, op.repeat);
		xnop[r] = run_ns(bs->progs.xdp_nop, pkt, len, op.repeat);
		xdp[r] = run_ns(fs->progs.xdp_pod, pkt, len, op.repeat);
		len6 = pkt_tcp6(pkt6, hot);
		hit6[r] = run_ns(fs->progs.tc_ingress, pkt6, len6, op.repeat);
	}
	ring_buffer__consume(rb);
	if (lookup_hits(bs, hot) != (__u64)op.rounds * op.repeat) {
		fprintf(stderr,
			"tc_lookup counted %llu packets of %llu: its "
			"lookups missed\n",
			(unsigned long long)lookup_hits(bs, hot),
			(unsigned long long)op.rounds * op.repeat);
		goto out;
	}

	/* new flows: peer port 81 is not in the table */
	nop1 = fresh = 0;
	for (i = 0; i < op.new_flows; i++) {
		len = pkt_tcp4(pkt, 1 + i);
		pkt[37] = 81;
		nop1 += run_ns(bs->progs.tc_nop, pkt, len, 1);
		fresh += run_ns(fs->progs.tc_ingress, pkt, len, 1);
		/* keep up like the daemon: below PS_RB_WAKEUP_BYTES queued,
		 * submits do not wake anyone */
		if (i % 128 == 0)
			ring_buffer__consume(rb);
	}
	ring_buffer__consume(rb);
	nop1 /= op.new_flows;
	fresh /= op.new_flows;

	{
		double n, nm, h, hm, h6, h6m, xn, xnm, x, xm, l, lm;

		stats(nop, op.rounds, &n, &nm);
		stats(hit, op.rounds, &h, &hm);
		stats(hit6, op.rounds, &h6, &h6m);
		stats(xnop, op.rounds, &xn, &xnm);
		stats(xdp, op.rounds, &x, &xm);
		stats(look, op.rounds, &l, &lm);
		printf(
		    "flow_pkt_cost: kernel-timed BPF_PROG_TEST_RUN, %d rounds "
		    "of %d; min (median) ns/packet\n",
		    op.rounds, op.repeat);
		printf("  tc_nop                          %6.1f (%6.1f)\n", n,
		       nm);
		printf("  tc flow, existing in %6d flows %6.1f (%6.1f)  "
		       "ratio %.2f (%.2f) to tc_nop\n",
		       op.flows, h, hm, h / n, hm / nm);
		printf("  tc flow IPv6, existing in %6d  %6.1f (%6.1f)  "
		       "ratio %.2f (%.2f) to tc_nop\n",
		       op.flows, h6, h6m, h6 / n, h6m / nm);
		printf("  tc_lookup, one flow lookup      %6.1f (%6.1f)  "
		       "ratio %.2f (%.2f) to tc_nop; tc flow %.2f (%.2f) "
		       "of it\n",
		       l, lm, l / n, lm / nm, h / l, hm / lm);
		printf("  tc_nop, one run each            %6.1f\n", nop1);
		printf("  tc flow, new flow, one run each %6.1f           "
		       "ratio %.2f to tc_nop, one run each (%d flows, %ld "
		       "events)\n",
		       fresh, fresh / nop1, op.new_flows, events);
		printf("  xdp_nop                         %6.1f (%6.1f)\n", xn,
		       xnm);
		printf("  xdp, empty deny map             %6.1f (%6.1f)  "
		       "ratio %.2f (%.2f) to xdp_nop\n",
		       x, xm, x / xn, xm / xnm);
	}
	err = 0;
out:
	ring_buffer__free(rb);
	bench_bpf__destroy(bs);
	flow_bpf__destroy(fs);
	return err;
}
