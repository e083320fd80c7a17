// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "node/records/flow.h"
#include "node/records/socket.h"
#include "node/state/hash.h"
#include "node/state/sockets.h"

#define SOCKS_BATCH 1024
/* The socks map (UDP senders) is read whole at most this often. */
#define SOCKS_SWEEP_NS (5ULL * 1000000000ULL)
/* Owners of live UDP entries are held from one sweep past the next. */
#define PROC_HOLD_NS (2 * SOCKS_SWEEP_NS + 2000000000ULL)
/* Inherited sockets remembered for their flow's record (a socket read
 * by a later exec lives as long as that exec's session), each kept at
 * most this long: HOLDER_WAYS per set of the socket's flow key, the
 * oldest of a full set replaced. Every flow record asks for both its
 * ends, so a lookup reads one set, not every holder. */
#define HOLDER_SET_BITS 8
#define HOLDER_WAYS 4
#define HOLDER_KEEP_NS (3600ULL * 1000000000ULL)

struct holder {
	struct ps_flow_key key;
	int side;
	struct ps_exec_id exec;
	__u64 at; /* 0: free */
};

struct sockets {
	struct sockets_opts o;
	struct jw w;
	__u64 last_sweep;
	struct socket_stats st;
	struct holder holders[1 << HOLDER_SET_BITS][HOLDER_WAYS];
	struct ps_sock_key keys[SOCKS_BATCH], del[SOCKS_BATCH];
	struct ps_sock_owner vals[SOCKS_BATCH];
};

struct sockets *sockets_new(const struct sockets_opts *o)
{
	struct sockets *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->o = *o;
	s->last_sweep = clock_boot_ns();
	return s;
}

void sockets_free(struct sockets *s)
{
	if (!s)
		return;
	jw_free(&s->w);
	free(s);
}

/* The process of an exec: the cached one, or what the event knows of it
 * in *stub (freed by stub_done). */
static struct proc *exec_proc(struct sockets *s, const struct ps_exec_id *id,
			      __u32 tgid, __u32 netns, struct proc *stub)
{
	struct proc *p = proc_cache_get(s->o.rc->procs, id);

	if (p)
		return p;
	memset(stub, 0, sizeof(*stub));
	stub->id = *id;
	stub->pid = id->pid ? id->pid : tgid;
	stub->netns_ino = netns;
	return stub;
}

static void stub_done(struct proc *p, struct proc *stub)
{
	if (p == stub)
		free(stub->json);
}

/* The canonical flow key of a socket tuple; *side its end. */
static void flow_key_of_sock(const struct ps_sock_key *sk,
			     struct ps_flow_key *k, int *side)
{
	int words = sk->family == 2 ? 1 : 4;

	memset(k, 0, sizeof(*k));
	*side = !ps_flow_side_lower(sk->local_addr.w, sk->local_port,
				    sk->remote_addr.w, sk->remote_port, words);
	k->addr[*side] = sk->local_addr;
	k->addr[!*side] = sk->remote_addr;
	k->port[*side] = sk->local_port;
	k->port[!*side] = sk->remote_port;
	k->family = sk->family;
	k->proto = sk->proto;
}

/* The set of holders of flow key k's end `side`. */
static struct holder *holder_set(struct sockets *s, const struct ps_flow_key *k,
				 int side)
{
	__u32 h = words_hash(k, sizeof(*k), HOLDER_SET_BITS);

	return s->holders[(h ^ (__u32)side) & ((1u << HOLDER_SET_BITS) - 1)];
}

static void holder_add(struct sockets *s, const struct ps_sock_event *e)
{
	struct ps_flow_key key;
	struct holder *set, *h;
	int side, i;

	flow_key_of_sock(&e->key, &key, &side);
	set = holder_set(s, &key, side);
	h = &set[0];
	for (i = 0; i < HOLDER_WAYS; i++) {
		if (set[i].at && set[i].side == side &&
		    !memcmp(&set[i].key, &key, sizeof(key))) {
			h = &set[i]; /* the socket's later holder */
			break;
		}
		if (set[i].at < h->at)
			h = &set[i]; /* free (0) or the oldest */
	}
	h->key = key;
	h->side = side;
	h->exec = e->holder;
	h->at = e->hdr.ktime;
}

struct proc *sockets_holder(struct sockets *s, const struct ps_flow_key *k,
			    int side)
{
	struct holder *set;
	__u64 now;
	int i;

	if (!s || k->proto != 6)
		return NULL;
	set = holder_set(s, k, side);
	now = clock_boot_coarse_ns();
	for (i = 0; i < HOLDER_WAYS; i++) {
		struct holder *h = &set[i];

		if (h->at && h->side == side && now - h->at < HOLDER_KEEP_NS &&
		    !memcmp(&h->key, k, sizeof(*k)))
			return proc_cache_get(s->o.rc->procs, &h->exec);
	}
	return NULL;
}

/* A connection notice as detection reads it. */
static void notice_out(struct sockets *s, const struct ps_sock_event *e,
		       struct proc *p)
{
	static char local[INET6_ADDRSTRLEN], remote[INET6_ADDRSTRLEN];
	const struct ps_sock_key *k = &e->key;
	static const union ps_addr zero;
	char pbuf[16];
	struct conn_rec c = {
		.ktime = e->hdr.ktime,
		.proto = ip_proto_name(k->proto, pbuf, sizeof(pbuf)),
		.netns = k->netns_ino,
		.src_netns = k->netns_ino,
		.proc = p,
		.notice = e->flags,
		.exe = e->exe,
		.refused = e->flags & PS_SOCK_REFUSED,
		.src_port = ntohs(k->local_port),
		.dst_port = ntohs(k->remote_port),
	};

	if (memcmp(&k->local_addr, &zero, sizeof(zero))) {
		record_ip_fmt(k->family, k->local_addr.b, local);
		c.src_ip = local;
	}
	record_ip_fmt(k->family, k->remote_addr.b, remote);
	c.dst_ip = remote;
	c.dst_netns = record_ip_netns(s->o.rc, k->family, k->remote_addr.b);
	s->o.notice(s->o.arg, &c);
}

int sockets_event(struct sockets *s, const void *data, size_t len)
{
	const struct ps_sock_event *e = data;
	struct proc *p, *parent = NULL, *opener = NULL, stub, ostub;
	__u32 type, netns, want;

	if (!s || len < sizeof(*e) || e->hdr.type < PS_EV_CONNECT ||
	    e->hdr.type > PS_EV_INHERIT)
		return -EINVAL;
	type = e->hdr.type;
	netns = e->key.netns_ino;
	switch (type) {
	case PS_EV_LISTEN: s->st.listens++; break;
	case PS_EV_INHERIT:
		s->st.inherits++;
		holder_add(s, e);
		break;
	}
	/* INHERIT: the record is about the exec that holds the socket now */
	p = exec_proc(s, type == PS_EV_INHERIT ? &e->holder : &e->exec, e->tgid,
		      netns, &stub);
	if (type == PS_EV_CONNECT && (e->flags & PS_SOCK_NOTICE)) {
		if ((e->flags & PS_SOCK_FAILED) && s->o.failed)
			s->o.failed(s->o.arg, e);
		if (s->o.notice)
			notice_out(s, e, p == &stub ? NULL : p);
	}
	want = type == PS_EV_CONNECT ? PS_REC_CONNECT :
	       type == PS_EV_ACCEPT ? PS_REC_ACCEPT :
	       type == PS_EV_LISTEN ? PS_REC_LISTEN : PS_REC_INHERIT;
	if (s->o.records & want) {
		if (p != &stub && p->parent.pid)
			parent = proc_cache_get(s->o.rc->procs, &p->parent);
		if (type == PS_EV_INHERIT)
			opener = exec_proc(s, &e->exec, e->tgid, netns, &ostub);
		socket_record_w(s->o.rc, &s->w, e, p, parent, opener);
		if (type == PS_EV_INHERIT)
			stub_done(opener, &ostub);
		if (!s->w.oom)
			s->o.line(s->o.arg, s->w.buf, s->w.len,
				  record_pod_known(s->o.rc, netns) ? netns : 0);
	}
	stub_done(p, &stub);
	return 0;
}

/* One syscall for many keys; one by one when a key went meanwhile (the
 * LRU evicted it). */
static void socks_delete(struct sockets *s, struct ps_sock_key *keys, __u32 n)
{
	__u32 count = n, i;

	if (!n || !bpf_map_delete_batch(s->o.socks_fd, keys, &count, NULL))
		return;
	for (i = count; i < n; i++)
		bpf_map_delete_elem(s->o.socks_fd, &keys[i]);
}

/* UDP entries no datagram used for PS_SOCK_UDP_IDLE_NS go; the owners of
 * the others are kept in the process cache while they last. */
static void socks_sweep(struct sockets *s, __u64 now)
{
	__u32 batch_in, batch_out, n, i, ndel = 0;
	bool first = true, done = false;
	unsigned long long open = 0;
	int err;

	while (!done) {
		n = SOCKS_BATCH;
		err = bpf_map_lookup_batch(s->o.socks_fd, first ? NULL : &batch_in,
					   &batch_out, s->keys, s->vals, &n, NULL);
		if (err && errno != ENOENT)
			break;
		done = err != 0;
		first = false;
		batch_in = batch_out;
		for (i = 0; i < n; i++) {
			const struct ps_sock_owner *o = &s->vals[i];

			if (now <= o->seen + PS_SOCK_UDP_IDLE_NS) {
				open++;
				proc_cache_hold(s->o.rc->procs, &o->exec,
						now + PROC_HOLD_NS);
				continue;
			}
			s->st.deleted_idle++;
			s->del[ndel++] = s->keys[i];
			if (ndel == SOCKS_BATCH) {
				socks_delete(s, s->del, ndel);
				ndel = 0;
			}
		}
	}
	socks_delete(s, s->del, ndel);
	s->st.open = open;
}

void sockets_tick(struct sockets *s, __u64 now)
{
	if (s && s->o.socks_fd >= 0 && now - s->last_sweep >= SOCKS_SWEEP_NS) {
		s->last_sweep = now;
		socks_sweep(s, now);
	}
}

const struct socket_stats *sockets_stats(struct sockets *s)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long *dst[PS_SC_MAX] = {
		[PS_SC_CONNECT] = &s->st.connects,
		[PS_SC_CONNECT_FAILED] = &s->st.connects_failed,
		[PS_SC_ACCEPT] = &s->st.accepts,
		[PS_SC_UDP] = &s->st.udp,
		[PS_SC_NOTICE] = &s->st.notices,
		[PS_SC_QUIET] = &s->st.quiet,
	};
	__u32 k;

	if (s->o.counts_fd < 0 || ncpu <= 0)
		return &s->st;
	for (k = 0; k < PS_SC_MAX; k++) {
		__u64 vals[ncpu];
		unsigned long long sum = 0;
		int i;

		if (bpf_map_lookup_elem(s->o.counts_fd, &k, vals))
			continue;
		for (i = 0; i < ncpu; i++)
			sum += vals[i];
		*dst[k] = sum;
	}
	return &s->st;
}
