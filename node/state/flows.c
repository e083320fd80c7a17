// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "node/state/flows.h"
#include "node/state/hash.h"

#define NS_PER_S 1000000000ULL
#define SWEEP_MAX_NS (5 * NS_PER_S)
#define SWEEP_MIN_NS (NS_PER_S / 4)
#define SWEEP_BATCH 4096
/* A refused connect's RST passes TC before its socket closes: its flow
 * waits this long for the notice that names the connecting process. */
#define PENDING_NS (NS_PER_S / 2)
#define PENDING_MAX 1024
#define LONG_BUCKETS 4096
#define AGG_BUCKETS 4096

/* A flow the daemon reported with FLOW_UPDATE: if it leaves the table
 * without an end, the LRU evicted it. */
struct long_flow {
	struct ps_flow_key key;
	struct ps_flow snap;
	__u64 swept;	/* sweep generation it was last seen in */
	struct long_flow *next;
};

struct pending {
	struct ps_flow_key key;
	struct ps_flow f;
	__u64 at; /* 0: free */
	__u32 reason;
};

struct agg_entry {
	struct agg_view v;
	struct agg_entry *next;
};

struct flow_table {
	struct flows_opts o;
	struct flow_stats st;
	__u64 sweep_ns, last_sweep, generation;
	__u64 last_agg;
	struct long_flow *longs[LONG_BUCKETS];
	struct pending pending[PENDING_MAX];
	int n_pending;
	struct agg_entry *agg[AGG_BUCKETS];
	struct ps_agg *agg_vals; /* a batch of flow_agg's per-CPU values */
	__u32 agg_ncpu;
	/* sweep buffers */
	struct ps_flow_key keys[SWEEP_BATCH];
	struct ps_flow vals[SWEEP_BATCH];
	struct ps_flow_key *take; /* entries to end after a pass */
	struct ps_flow *take_f;
	__u32 n_take, cap_take;
};

static const char *const reason_names[] = PS_FLOW_REASON_NAMES;

static const char *reason_name(__u32 r)
{
	return r < sizeof(reason_names) / sizeof(reason_names[0]) && reason_names[r]
		       ? reason_names[r] : "unknown";
}

struct flow_table *flows_new(const struct flows_opts *o)
{
	struct flow_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->o = *o;
	t->sweep_ns = o->idle_ns / 2;
	if (t->sweep_ns > SWEEP_MAX_NS)
		t->sweep_ns = SWEEP_MAX_NS;
	if (t->sweep_ns < SWEEP_MIN_NS)
		t->sweep_ns = SWEEP_MIN_NS;
	t->last_sweep = t->last_agg = clock_boot_ns();
	if (o->agg_ns && o->agg_since)
		o->agg_since(o->arg, t->last_agg);
	return t;
}

void flows_free(struct flow_table *t)
{
	int i;

	if (!t)
		return;
	for (i = 0; i < LONG_BUCKETS; i++)
		while (t->longs[i]) {
			struct long_flow *n = t->longs[i]->next;

			free(t->longs[i]);
			t->longs[i] = n;
		}
	for (i = 0; i < AGG_BUCKETS; i++)
		while (t->agg[i]) {
			struct agg_entry *n = t->agg[i]->next;

			free(t->agg[i]);
			t->agg[i] = n;
		}
	free(t->take);
	free(t->take_f);
	free(t->agg_vals);
	free(t);
}

const struct flow_stats *flows_stats(const struct flow_table *t)
{
	return &t->st;
}

/* ---- views ---- */

/* The process that bound the UDP port of a pod's end, from the kernel's
 * listeners map (the receiver's veth did not look: a datagram from
 * another pod of the node is counted at the sender's). */
static struct proc *udp_receiver(struct flow_table *t, __u32 netns,
				 __be16 port)
{
	struct ps_listen_key lk = { .netns_ino = netns, .proto = 17, .port = port };
	struct ps_listener l;

	if (t->o.listeners_fd < 0 ||
	    bpf_map_lookup_elem(t->o.listeners_fd, &lk, &l))
		return NULL;
	return proc_cache_get(t->o.rc->procs, &l.exec);
}

static void view_fill(struct flow_table *t, struct flow_view *v,
		      const struct ps_flow_key *k, const struct ps_flow *f)
{
	struct record_ctx *rc = t->o.rc;
	int i;

	memset(v, 0, sizeof(*v));
	v->key = *k;
	v->f = *f;
	for (i = 0; i < 2; i++) {
		const struct ps_flow_end *e = &f->end[i];

		v->netns[i] = e->slot ? record_slot_netns(rc, e->slot) : 0;
		if (!v->netns[i])
			v->netns[i] = record_ip_netns(rc, k->family, k->addr[i].b);
		if (e->exec.pid)
			v->proc[i] = proc_cache_get(rc->procs, &e->exec);
		if (!v->proc[i] && k->proto == 17 && v->netns[i])
			v->proc[i] = udp_receiver(t, v->netns[i], k->port[i]);
		if (t->o.holder)
			v->holder[i] = t->o.holder(t->o.arg, k, i);
	}
	v->opened_known = f->opener != 0;
	if (f->opener)
		v->src = (f->opener - 1) & 1;
	else if (v->netns[0] || v->netns[1]) /* picked up midway: the pod's
					      * end, as if it had opened it */
		v->src = v->netns[0] ? 0 : 1;
	else /* no pod end (kernel chatter to a group address): its sender */
		v->src = f->end[0].packets || !f->end[1].packets ? 0 : 1;
}

static bool view_named(const struct flow_view *v)
{
	int i;

	for (i = 0; i < 2; i++)
		if (v->netns[i] && !v->proc[i])
			return false;
	return v->proc[0] || v->proc[1];
}

/* ---- aggregation ---- */

static struct agg_entry *agg_slot(struct flow_table *t,
				  const struct ps_agg_key *k)
{
	__u32 h = words_hash(k, sizeof(*k), 12);
	struct agg_entry *e;

	for (e = t->agg[h]; e; e = e->next)
		if (!memcmp(&e->v.key, k, sizeof(*k)))
			return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->v.key = *k;
	e->next = t->agg[h];
	t->agg[h] = e;
	return e;
}

static void agg_add(struct ps_agg *to, const struct ps_agg *a)
{
	to->connections += a->connections;
	to->started += a->started;
	to->completed += a->completed;
	to->reset += a->reset;
	if (!to->first || (a->first && a->first < to->first))
		to->first = a->first;
	if (a->last > to->last)
		to->last = a->last;
	to->packets[0] += a->packets[0];
	to->packets[1] += a->packets[1];
	to->bytes[0] += a->bytes[0];
	to->bytes[1] += a->bytes[1];
	to->tcp_flags[0] |= a->tcp_flags[0];
	to->tcp_flags[1] |= a->tcp_flags[1];
	if (a->peer_exec.pid) {
		to->peer_exec = a->peer_exec;
		to->peer_tgid = a->peer_tgid;
	}
	if (a->peer_slot)
		to->peer_slot = a->peer_slot;
	if (a->tgid)
		to->tgid = a->tgid;
}

/* A short flow that ended by time (or whose end the kernel could not
 * fold) into the interval's aggregates; false when it has no pod end
 * with a known process, or is a refused connect (reported alone). */
static bool agg_fold_view(struct flow_table *t, const struct flow_view *v)
{
	int pod = flow_view_pod_side(v), peer = !pod;
	struct ps_agg a = {};
	struct ps_agg_key k = {};
	struct agg_entry *e;

	if (!t->o.agg_ns || !v->final || (v->f.flags & PS_FLOWF_UPDATED) ||
	    v->refused || !v->opened_known || !v->netns[pod] ||
	    !v->f.end[pod].exec.pid)
		return false;
	k.exec = v->f.end[pod].exec;
	k.peer = v->key.addr[peer];
	k.slot = v->f.end[pod].slot;
	k.port = v->key.port[!v->src];
	k.family = v->key.family;
	k.proto = v->key.proto;
	k.dir = pod == v->src ? PS_AGG_EGRESS : PS_AGG_INGRESS;
	e = agg_slot(t, &k);
	if (!e)
		return false;
	a.connections = 1;
	a.started = v->f.first_seen >= t->last_agg;
	if (v->key.proto == 6) {
		if ((v->f.end[0].tcp_flags | v->f.end[1].tcp_flags) & PS_TCP_RST)
			a.reset = 1;
		else
			a.completed = 1;
	} else {
		a.completed = 1;
	}
	a.first = v->f.first_seen;
	a.last = v->f.last_seen;
	a.packets[0] = v->f.end[pod].packets;
	a.packets[1] = v->f.end[peer].packets;
	a.bytes[0] = v->f.end[pod].bytes;
	a.bytes[1] = v->f.end[peer].bytes;
	a.tcp_flags[0] = v->f.end[pod].tcp_flags;
	a.tcp_flags[1] = v->f.end[peer].tcp_flags;
	a.peer_exec = v->f.end[peer].exec;
	a.peer_tgid = v->f.end[peer].tgid;
	a.peer_slot = v->f.end[peer].slot;
	a.tgid = v->f.end[pod].tgid;
	agg_add(&e->v.a, &a);
	if (!e->v.netns)
		e->v.netns = v->netns[pod];
	t->st.aggregated++;
	return true;
}

/* Every aggregate of the interval: the kernel's (read and deleted; one
 * value per CPU, each CPU folds into its own) and this module's, one
 * record each. */
static void agg_flush(struct flow_table *t, __u64 now)
{
	enum { BATCH = 64 };
	struct ps_agg_key keys[BATCH];
	__u32 in, out, n, i, c;
	bool first = true;
	int err, h;

	if (t->o.agg_since)
		t->o.agg_since(t->o.arg, now);
	if (t->o.agg_fd >= 0 && !t->agg_vals) {
		int ncpu = libbpf_num_possible_cpus();

		t->agg_ncpu = ncpu > 0 ? ncpu : 1;
		t->agg_vals = calloc((size_t)BATCH * t->agg_ncpu, sizeof(*t->agg_vals));
	}
	for (;;) {
		n = BATCH;
		err = t->o.agg_fd < 0 || !t->agg_vals ? -1 :
		      bpf_map_lookup_and_delete_batch(t->o.agg_fd, first ? NULL : &in,
						      &out, keys, t->agg_vals, &n, NULL);
		if (err && errno != ENOENT)
			break;
		first = false;
		in = out;
		for (i = 0; i < n; i++) {
			struct agg_entry *e = agg_slot(t, &keys[i]);

			if (!e)
				continue;
			for (c = 0; c < t->agg_ncpu; c++) {
				const struct ps_agg *a = &t->agg_vals[i * t->agg_ncpu + c];

				if (!a->connections)
					continue;
				agg_add(&e->v.a, a);
				t->st.aggregated += a->connections;
			}
		}
		if (err)
			break;
	}
	for (h = 0; h < AGG_BUCKETS; h++) {
		while (t->agg[h]) {
			struct agg_entry *e = t->agg[h];
			struct agg_view *v = &e->v;

			t->agg[h] = e->next;
			if (!v->netns)
				v->netns = record_slot_netns(t->o.rc, v->key.slot);
			v->peer_netns = v->a.peer_slot ?
				record_slot_netns(t->o.rc, v->a.peer_slot) : 0;
			if (!v->peer_netns)
				v->peer_netns = record_ip_netns(t->o.rc, v->key.family,
								v->key.peer.b);
			v->proc = proc_cache_get(t->o.rc->procs, &v->key.exec);
			v->peer_proc = v->a.peer_exec.pid ?
				proc_cache_get(t->o.rc->procs, &v->a.peer_exec) : NULL;
			v->ktime = now;
			v->interval_ns = now - t->last_agg;
			t->st.agg_records++;
			t->o.agg_out(t->o.arg, v);
			free(e);
		}
	}
	t->last_agg = now;
}

/* ---- reporting ---- */

static struct long_flow **long_slot(struct flow_table *t,
				    const struct ps_flow_key *k)
{
	struct long_flow **pp = &t->longs[words_hash(k, sizeof(*k), 12)];

	for (; *pp; pp = &(*pp)->next)
		if (!memcmp(&(*pp)->key, k, sizeof(*k)))
			break;
	return pp;
}

static void long_forget(struct flow_table *t, const struct ps_flow_key *k)
{
	struct long_flow **pp = long_slot(t, k), *e = *pp;

	if (e) {
		*pp = e->next;
		free(e);
	}
}

/* Write (or fold) the record of a view. */
static void view_out(struct flow_table *t, struct flow_view *v)
{
	if (v->final) {
		if (agg_fold_view(t, v))
			return;
		t->st.ended++;
		if (view_named(v))
			t->st.with_process++;
		else
			t->st.without_process++;
	}
	t->o.out(t->o.arg, v);
}

static void report(struct flow_table *t, const struct ps_flow_key *k,
		   const struct ps_flow *f, const char *reason, bool final,
		   __u64 ktime)
{
	struct flow_view v;

	view_fill(t, &v, k, f);
	v.reason = reason;
	v.final = final;
	v.ktime = ktime;
	if (k->proto == 6) {
		__u8 opened = f->end[v.src].tcp_flags, answer = f->end[!v.src].tcp_flags;

		v.refused = (opened & PS_TCP_SYN) && !(answer & PS_TCP_SYN) &&
			    (answer & PS_TCP_RST);
		v.failed = final && f->state == PS_FLOW_NEW &&
			   !f->end[!v.src].packets;
	}
	/* the connecting process comes with its socket's notice, just
	 * after the RST that ended the flow */
	if (final && v.refused && v.netns[v.src] && !v.proc[v.src] &&
	    t->n_pending < PENDING_MAX) {
		int i;

		for (i = 0; i < PENDING_MAX && t->pending[i].at; i++)
			;
		if (i < PENDING_MAX) {
			t->pending[i].key = *k;
			t->pending[i].f = *f;
			t->pending[i].at = ktime ? ktime : clock_boot_ns();
			t->n_pending++;
			return;
		}
	}
	if (final)
		long_forget(t, k);
	view_out(t, &v);
}

void flows_event(struct flow_table *t, const struct ps_flow_event *e)
{
	if (e->hdr.type == PS_EV_FLOW_UPDATE) {
		struct long_flow **pp = long_slot(t, &e->key), *l = *pp;

		if (!l && (l = calloc(1, sizeof(*l)))) {
			l->key = e->key;
			*pp = l;
		}
		if (l) {
			l->snap = e->flow;
			l->swept = t->generation;
		}
		t->st.updates++;
		report(t, &e->key, &e->flow, reason_name(e->reason), false,
		       e->hdr.ktime);
		return;
	}
	/* the end of a flow kept in the table as it did not fit the ring
	 * buffer, sent when a new connection took its tuple */
	if (e->flow.flags & PS_FLOWF_END_LOST)
		t->st.recovered++;
	report(t, &e->key, &e->flow, reason_name(e->reason), true,
	       e->flow.last_seen);
}

/* The canonical flow key of a socket tuple (the socket programs' own). */
static void key_of_sock(const struct ps_sock_key *sk, struct ps_flow_key *k,
			int *local)
{
	int words = sk->family == 2 ? 1 : 4;

	memset(k, 0, sizeof(*k));
	*local = !ps_flow_side_lower(sk->local_addr.w, sk->local_port,
				     sk->remote_addr.w, sk->remote_port, words);
	k->addr[*local] = sk->local_addr;
	k->addr[!*local] = sk->remote_addr;
	k->port[*local] = sk->local_port;
	k->port[!*local] = sk->remote_port;
	k->family = sk->family;
	k->proto = sk->proto;
}

static void pending_out(struct flow_table *t, struct pending *p, bool named)
{
	struct flow_view v;

	view_fill(t, &v, &p->key, &p->f);
	v.reason = reason_name(p->reason ? p->reason : PS_FLOW_R_RST);
	v.final = true;
	v.refused = true;
	v.ktime = p->f.last_seen;
	if (named)
		t->st.named_by_daemon++;
	p->at = 0;
	t->n_pending--;
	view_out(t, &v);
}

void flows_connect_failed(struct flow_table *t, const struct ps_sock_event *e)
{
	struct ps_flow_key k;
	int local, i;

	if (!t->n_pending || e->key.proto != 6)
		return;
	key_of_sock(&e->key, &k, &local);
	for (i = 0; i < PENDING_MAX; i++) {
		struct pending *p = &t->pending[i];

		if (!p->at || memcmp(&p->key, &k, sizeof(k)))
			continue;
		p->f.end[local].exec = e->exec;
		p->f.end[local].tgid = e->tgid;
		pending_out(t, p, true);
		return;
	}
}

static void pending_expire(struct flow_table *t, __u64 now, bool all)
{
	int i;

	for (i = 0; t->n_pending && i < PENDING_MAX; i++)
		if (t->pending[i].at && (all || now - t->pending[i].at > PENDING_NS))
			pending_out(t, &t->pending[i], false);
}

/* ---- sweeping the kernel's tables ---- */

static bool take_add(struct flow_table *t, const struct ps_flow_key *k,
		     const struct ps_flow *f)
{
	if (t->n_take == t->cap_take) {
		__u32 cap = t->cap_take ? t->cap_take * 2 : 1024;
		void *nk = realloc(t->take, cap * sizeof(*t->take));
		void *nf;

		if (!nk)
			return false;
		t->take = nk;
		nf = realloc(t->take_f, cap * sizeof(*t->take_f));
		if (!nf)
			return false;
		t->take_f = nf;
		t->cap_take = cap;
	}
	t->take[t->n_take] = *k;
	t->take_f[t->n_take++] = *f;
	return true;
}

/* Remove the entry the sweep decided to end, unless a new connection
 * took the tuple meanwhile (then it goes back). */
static bool kernel_take(struct flow_table *t, const struct ps_flow_key *k,
			const struct ps_flow *seen, struct ps_flow *f)
{
	struct ps_flow_key4 k4;
	const void *mk = k;
	int fd = t->o.fd6;

	if (ps_flow_key4_of(k, &k4)) {
		mk = &k4;
		fd = t->o.fd4;
	}
	if (bpf_map_lookup_and_delete_elem(fd, mk, f))
		return false;
	if (f->first_seen == seen->first_seen)
		return true;
	bpf_map_update_elem(fd, mk, f, BPF_NOEXIST);
	return false;
}

static void hold_owners(struct flow_table *t, const struct ps_flow *f,
			__u64 until)
{
	int i;

	for (i = 0; i < 2; i++)
		if (f->end[i].exec.pid)
			proc_cache_hold(t->o.rc->procs, &f->end[i].exec, until);
}

/* One pass over flows4 (is4) or flows6: what to end goes to the take
 * list, live flows keep their processes and long flows their place. */
static void table_pass(struct flow_table *t, bool is4, __u64 now, bool stopping)
{
	int fd = is4 ? t->o.fd4 : t->o.fd6;
	size_t ksz = is4 ? sizeof(struct ps_flow_key4) : sizeof(struct ps_flow_key);
	__u64 until = now + 2 * t->sweep_ns + NS_PER_S;
	unsigned char in[64], out[64];
	static union {
		struct ps_flow_key4 k4[SWEEP_BATCH];
		struct ps_flow_key k[SWEEP_BATCH];
	} kb;
	bool first = true;
	__u32 n, i;
	int err;

	if (fd < 0)
		return;
	for (;;) {
		n = SWEEP_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : in, out,
					   is4 ? (void *)kb.k4 : (void *)kb.k,
					   t->vals, &n, NULL);
		if (err && errno != ENOENT)
			break;
		first = false;
		memcpy(in, out, sizeof(in));
		for (i = 0; i < n; i++) {
			const struct ps_flow *f = &t->vals[i];
			struct ps_flow_key k;

			if (is4) {
				memset(&k, 0, sizeof(k));
				k.addr[0].w[0] = kb.k4[i].addr[0];
				k.addr[1].w[0] = kb.k4[i].addr[1];
				k.port[0] = kb.k4[i].port[0];
				k.port[1] = kb.k4[i].port[1];
				k.family = kb.k4[i].family;
				k.proto = kb.k4[i].proto;
			} else {
				k = kb.k[i];
			}
			if ((f->flags & PS_FLOWF_END_LOST) || f->state == PS_FLOW_CLOSED ||
			    now > f->last_seen + t->o.idle_ns) {
				take_add(t, &k, f);
				continue;
			}
			hold_owners(t, f, until);
			if (f->flags & PS_FLOWF_UPDATED) {
				struct long_flow *l = *long_slot(t, &k);

				if (l && l->snap.first_seen == f->first_seen) {
					l->snap = *f;
					l->swept = t->generation;
				}
			}
			if (stopping)
				report(t, &k, f, "stopped", false, now);
		}
		if (err)
			break;
	}
	(void)ksz;
}

static void sweep(struct flow_table *t, __u64 now, bool stopping)
{
	__u32 i;
	int h;

	t->generation++;
	t->n_take = 0;
	table_pass(t, true, now, stopping);
	table_pass(t, false, now, stopping);
	for (i = 0; i < t->n_take; i++) {
		const struct ps_flow *seen = &t->take_f[i];
		struct ps_flow f;
		const char *reason;

		if (!kernel_take(t, &t->take[i], seen, &f))
			continue;
		if ((f.flags & PS_FLOWF_END_LOST) || f.state == PS_FLOW_CLOSED) {
			/* its end did not fit the ring buffer */
			t->st.recovered++;
			reason = (f.end[0].tcp_flags | f.end[1].tcp_flags) & PS_TCP_RST
				 ? "rst" : "fin";
		} else {
			t->st.idle++;
			reason = reason_name(PS_FLOW_R_IDLE);
		}
		report(t, &t->take[i], &f, reason, true, f.last_seen);
	}
	/* long flows that were neither seen nor ended: evicted */
	for (h = 0; h < LONG_BUCKETS; h++) {
		struct long_flow **pp = &t->longs[h], *l;

		while ((l = *pp)) {
			if (l->swept == t->generation) {
				pp = &l->next;
				continue;
			}
			*pp = l->next;
			t->st.evicted++;
			report(t, &l->key, &l->snap, reason_name(PS_FLOW_R_EVICTED),
			       true, now);
			free(l);
		}
	}
}

void flows_tick(struct flow_table *t, __u64 now)
{
	pending_expire(t, now, false);
	if (now - t->last_sweep >= t->sweep_ns) {
		t->last_sweep = now;
		sweep(t, now, false);
	}
	if (t->o.agg_ns && now - t->last_agg >= t->o.agg_ns)
		agg_flush(t, now);
}

void flows_stop(struct flow_table *t, bool stopping)
{
	__u64 now = clock_boot_ns();

	pending_expire(t, now, true);
	sweep(t, now, stopping);
	if (t->o.agg_ns)
		agg_flush(t, now);
}
