// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "podsentry.h"
#include "node/sockets.h"

#define SOCKS_BATCH 1024
#define PROC_HOLD_NS (PS_SOCK_LINGER_NS + 2000000000ULL)

struct sockets {
	struct record_ctx *rc;
	struct flow_table *flows;
	sockets_emit_fn emit;
	void *arg;
	int socks_fd;
	__u64 last_stats;
	unsigned long long stats_sig; /* what the last stats record said */
	struct socket_stats st;
	struct ps_sock_key keys[SOCKS_BATCH], del[SOCKS_BATCH];
	struct ps_sock_owner vals[SOCKS_BATCH];
};

static struct sockets *S;

int sockets_init(struct record_ctx *rc, struct loader *l,
		 struct flow_table *flows, sockets_emit_fn emit, void *arg)
{
	S = calloc(1, sizeof(*S));
	if (!S)
		return -ENOMEM;
	S->rc = rc;
	S->flows = flows;
	S->emit = emit;
	S->arg = arg;
	S->socks_fd = loader_map_fd(l, PS_PIN_SOCKS);
	if (S->socks_fd < 0) {
		fprintf(stderr, "podsentryd: map %s: %s\n", PS_PIN_SOCKS,
			strerror(-S->socks_fd));
		free(S);
		S = NULL;
		return -ENOENT;
	}
	S->last_stats = clock_boot_ns();
	return 0;
}

const struct socket_stats *sockets_stats(void)
{
	return S ? &S->st : NULL;
}

static struct json_object *endpoint_json(const union ps_addr *a, __u8 family,
					 __be16 port, bool with_pod)
{
	struct json_object *o = json_object_new_object(), *pod;
	char ip[INET6_ADDRSTRLEN];
	static const union ps_addr zero;
	__u32 netns;

	if (memcmp(a, &zero, sizeof(zero))) {
		inet_ntop(family == 2 ? AF_INET : AF_INET6, a->b, ip, sizeof(ip));
		json_object_object_add(o, "ip", json_object_new_string(ip));
	}
	json_object_object_add(o, "port", json_object_new_int(ntohs(port)));
	if (with_pod && (netns = record_ip_netns(S->rc, family, a->b)) &&
	    (pod = pod_json(S->rc, netns)))
		json_object_object_add(o, "pod", pod);
	return o;
}

static struct json_object *socket_json(const struct ps_sock_event *e,
				       __u32 type)
{
	const struct ps_sock_key *k = &e->key;
	struct json_object *s = json_object_new_object(), *local, *remote;
	char buf[16];
	bool passive = e->flags & PS_SOCK_ACCEPT;

	json_object_object_add(s, "protocol", json_object_new_string(
		ip_proto_name(k->proto, buf, sizeof(buf))));
	json_object_object_add(s, "family", json_object_new_string(
		k->family == 2 ? "ipv4" : "ipv6"));
	local = endpoint_json(&k->local_addr, k->family, k->local_port, false);
	if (type == PS_EV_LISTEN) {
		json_object_object_add(s, "src", local);
	} else {
		remote = endpoint_json(&k->remote_addr, k->family, k->remote_port,
				       true);
		/* src -> dst is the direction the connection was opened */
		json_object_object_add(s, "src", passive ? remote : local);
		json_object_object_add(s, "dst", passive ? local : remote);
	}
	json_object_object_add(s, "pid", json_object_new_int64(e->tgid));
	if (type == PS_EV_CONNECT && k->proto == 6)
		json_object_object_add(s, "state", json_object_new_string(
			e->flags & PS_SOCK_FAILED ? "failed" : "established"));
	return s;
}

/* The full process of an exec, or what the event knows of it. */
static struct json_object *exec_json(const struct ps_exec_id *id, __u32 tgid,
				     __u32 netns, bool brief,
				     struct proc **found)
{
	struct proc *p = proc_cache_get(S->rc->procs, id), stub = {};

	if (found)
		*found = p;
	if (!p) {
		stub.id = *id;
		stub.pid = id->pid ? id->pid : tgid;
		stub.netns_ino = netns;
		p = &stub;
	}
	return brief ? process_brief_json(S->rc, p) : process_json(S->rc, p);
}

static const char *const type_names[] = {
	[PS_EV_CONNECT] = "connect",
	[PS_EV_ACCEPT] = "accept",
	[PS_EV_LISTEN] = "listen",
	[PS_EV_INHERIT] = "inherit",
};

int sockets_event(const void *data, size_t len)
{
	const struct ps_sock_event *e = data;
	const struct ps_exec_id *who;
	struct json_object *rec;
	struct proc *p, *pp;
	__u32 netns;

	if (!S || len < sizeof(*e) || e->hdr.type < PS_EV_CONNECT ||
	    e->hdr.type > PS_EV_INHERIT)
		return -EINVAL;
	netns = e->key.netns_ino;
	switch (e->hdr.type) {
	case PS_EV_CONNECT:
		if (e->key.proto == 17)
			S->st.udp++;
		else if (e->flags & PS_SOCK_FAILED)
			S->st.connects_failed++;
		else
			S->st.connects++;
		break;
	case PS_EV_ACCEPT: S->st.accepts++; break;
	case PS_EV_LISTEN: S->st.listens++; break;
	case PS_EV_INHERIT: S->st.inherits++; break;
	}
	/* INHERIT: the record is about the exec that holds the socket now */
	who = e->hdr.type == PS_EV_INHERIT ? &e->holder : &e->exec;
	rec = record_new(S->rc, type_names[e->hdr.type], e->hdr.ktime);
	record_add_pod(S->rc, rec, netns);
	json_object_object_add(rec, "process",
			       exec_json(who, e->tgid, netns, false, &p));
	if (p && p->parent.pid && (pp = proc_cache_get(S->rc->procs, &p->parent)))
		json_object_object_add(rec, "parent",
				       process_brief_json(S->rc, pp));
	if (e->hdr.type == PS_EV_INHERIT)
		json_object_object_add(rec, "opener",
				       exec_json(&e->exec, e->tgid, netns, true, NULL));
	json_object_object_add(rec, "socket", socket_json(e, e->hdr.type));
	S->emit(S->arg, rec, netns);
	return 0;
}

/* One syscall for many keys; one by one when a key went meanwhile (the
 * LRU evicted it). A new connection that reuses a tuple in the few µs
 * between the lookup and the delete loses its entry (its flow is then
 * counted without process): a known, rare race. */
static void socks_delete(struct ps_sock_key *keys, __u32 n)
{
	__u32 count = n, i;

	if (!n || !bpf_map_delete_batch(S->socks_fd, keys, &count, NULL))
		return;
	for (i = count; i < n; i++)
		bpf_map_delete_elem(S->socks_fd, &keys[i]);
}

/* Deferred deletion of closed sockets and idle UDP entries; owners of
 * the others are kept in the process cache while they last. */
static void socks_sweep(__u64 now)
{
	__u32 batch_in, batch_out, n, i, ndel = 0;
	bool first = true, done = false;
	unsigned long long open = 0;
	int err;

	while (!done) {
		n = SOCKS_BATCH;
		err = bpf_map_lookup_batch(S->socks_fd, first ? NULL : &batch_in,
					   &batch_out, S->keys, S->vals, &n, NULL);
		if (err && errno != ENOENT)
			break;
		done = err != 0;
		first = false;
		batch_in = batch_out;
		for (i = 0; i < n; i++) {
			const struct ps_sock_owner *o = &S->vals[i];
			bool del;

			if (o->closed_at) {
				del = now > o->closed_at + PS_SOCK_LINGER_NS;
				S->st.deleted_closed += del;
			} else if (S->keys[i].proto == 17) {
				del = now > o->seen + PS_SOCK_UDP_IDLE_NS;
				S->st.deleted_idle += del;
			} else {
				del = false;
			}
			if (!del) {
				open += !o->closed_at;
				proc_cache_hold(S->rc->procs, &o->exec,
						now + PROC_HOLD_NS);
				continue;
			}
			S->del[ndel++] = S->keys[i];
			if (ndel == SOCKS_BATCH) {
				socks_delete(S->del, ndel);
				ndel = 0;
			}
		}
	}
	socks_delete(S->del, ndel);
	S->st.open = open;
}

static void stats_record(bool force)
{
	const struct flow_stats *fs = flows_stats(S->flows);
	struct json_object *rec, *st, *fl, *so;
	unsigned long long named = fs->with_process, total;
	unsigned long long sig;

	total = named + fs->without_process;
	sig = total * 31 + S->st.connects + S->st.accepts + S->st.listens +
	      S->st.udp + S->st.inherits + S->st.connects_failed;
	if (!force && sig == S->stats_sig)
		return;
	S->stats_sig = sig;
	rec = record_new(S->rc, "stats", clock_boot_ns());
	st = json_object_new_object();
	fl = json_object_new_object();
	json_object_object_add(fl, "ended", json_object_new_uint64(total));
	json_object_object_add(fl, "with_process", json_object_new_uint64(named));
	json_object_object_add(fl, "without_process",
			       json_object_new_uint64(fs->without_process));
	json_object_object_add(fl, "attribution", json_object_new_double(
		total ? (double)named / total : 1.0));
	json_object_object_add(st, "flows", fl);
	so = json_object_new_object();
	json_object_object_add(so, "connect", json_object_new_uint64(S->st.connects));
	json_object_object_add(so, "connect_failed",
			       json_object_new_uint64(S->st.connects_failed));
	json_object_object_add(so, "accept", json_object_new_uint64(S->st.accepts));
	json_object_object_add(so, "listen", json_object_new_uint64(S->st.listens));
	json_object_object_add(so, "udp", json_object_new_uint64(S->st.udp));
	json_object_object_add(so, "inherit", json_object_new_uint64(S->st.inherits));
	json_object_object_add(so, "open", json_object_new_uint64(S->st.open));
	json_object_object_add(st, "sockets", so);
	json_object_object_add(rec, "stats", st);
	S->emit(S->arg, rec, 0);
}

void sockets_tick(__u64 now)
{
	if (!S)
		return;
	socks_sweep(now);
	if (now - S->last_stats >= SOCKETS_STATS_NS) {
		S->last_stats = now;
		stats_record(false);
	}
}

void sockets_exit(void)
{
	if (!S)
		return;
	stats_record(true);
	free(S);
	S = NULL;
}
