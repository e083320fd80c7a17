// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "podsentry.h"
#include "node/state/sockets.h"

#define SOCKS_BATCH 1024
/* The socks map is read whole at most this often: closed entries go
 * some seconds after their linger (the LRU would recycle them anyway). */
#define SOCKS_SWEEP_NS (5ULL * 1000000000ULL)
/* Owners of open sockets are held from one sweep past the next. */
#define PROC_HOLD_NS (PS_SOCK_LINGER_NS + SOCKS_SWEEP_NS + 2000000000ULL)

struct sockets {
	struct record_ctx *rc;
	struct flow_table *flows;
	record_line_fn emit;
	sockets_emit_fn emit_json;
	void *arg;
	struct jw w;
	int socks_fd;
	__u64 last_stats, last_sweep;
	unsigned long long stats_sig; /* what the last stats record said */
	struct socket_stats st;
	struct ps_sock_key keys[SOCKS_BATCH], del[SOCKS_BATCH];
	struct ps_sock_owner vals[SOCKS_BATCH];
};

static struct sockets *S;

int sockets_init(struct record_ctx *rc, struct loader *l,
		 struct flow_table *flows, record_line_fn emit,
		 sockets_emit_fn emit_json, void *arg)
{
	S = calloc(1, sizeof(*S));
	if (!S)
		return -ENOMEM;
	S->rc = rc;
	S->flows = flows;
	S->emit = emit;
	S->emit_json = emit_json;
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

/* An endpoint of a socket; the address text goes to ip (empty when the
 * address is unset), the local pod at it to *netns when with_pod. */
static void endpoint_w(struct jw *w, const char *key, const union ps_addr *a,
		       __u8 family, __be16 port, bool with_pod, char *ip,
		       __u32 *netns)
{
	static const union ps_addr zero;

	*ip = 0;
	*netns = 0;
	jw_obj(w, key);
	if (memcmp(a, &zero, sizeof(zero))) {
		record_ip_fmt(family, a->b, ip);
		jw_str(w, "ip", ip);
	}
	jw_int(w, "port", ntohs(port));
	if (with_pod && (*netns = record_ip_netns(S->rc, family, a->b)) &&
	    !record_pod_w(S->rc, w, "pod", *netns))
		*netns = 0;
	jw_obj_end(w);
}

static void socket_w(struct jw *w, const struct ps_sock_event *e, __u32 type,
		     struct conn_rec *c)
{
	const struct ps_sock_key *k = &e->key;
	bool passive = e->flags & PS_SOCK_ACCEPT;
	static char local[INET6_ADDRSTRLEN], remote[INET6_ADDRSTRLEN];
	__u32 lns, rns;

	jw_obj(w, "socket");
	jw_str(w, "protocol", c->proto);
	jw_str(w, "family", k->family == 2 ? "ipv4" : "ipv6");
	if (type == PS_EV_LISTEN) {
		endpoint_w(w, "src", &k->local_addr, k->family, k->local_port,
			   false, local, &lns);
	} else if (passive) { /* src -> dst is the direction it was opened */
		endpoint_w(w, "src", &k->remote_addr, k->family, k->remote_port,
			   true, remote, &rns);
		endpoint_w(w, "dst", &k->local_addr, k->family, k->local_port,
			   false, local, &lns);
	} else {
		endpoint_w(w, "src", &k->local_addr, k->family, k->local_port,
			   false, local, &lns);
		endpoint_w(w, "dst", &k->remote_addr, k->family, k->remote_port,
			   true, remote, &rns);
		c->src_ip = local[0] ? local : NULL;
		c->src_port = ntohs(k->local_port);
		c->dst_ip = remote[0] ? remote : NULL;
		c->dst_port = ntohs(k->remote_port);
		c->dst_netns = rns;
	}
	jw_int(w, "pid", e->tgid);
	if (type == PS_EV_CONNECT && k->proto == 6)
		jw_str(w, "state", e->flags & PS_SOCK_FAILED ? "failed" : "established");
	jw_obj_end(w);
}

static const char *const type_names[] = {
	[PS_EV_CONNECT] = "connect",
	[PS_EV_ACCEPT] = "accept",
	[PS_EV_LISTEN] = "listen",
	[PS_EV_INHERIT] = "inherit",
};

/* The process of an exec: the cached one, or what the event knows of it
 * in *stub. */
static struct proc *exec_proc(const struct ps_exec_id *id, __u32 tgid,
			      __u32 netns, struct proc *stub)
{
	struct proc *p = proc_cache_get(S->rc->procs, id);

	if (p)
		return p;
	memset(stub, 0, sizeof(*stub));
	stub->id = *id;
	stub->pid = id->pid ? id->pid : tgid;
	stub->netns_ino = netns;
	return stub;
}

int sockets_event(const void *data, size_t len)
{
	const struct ps_sock_event *e = data;
	struct proc *p, *pp, stub, ostub;
	struct jw *w = &S->w;
	char pbuf[16];
	struct conn_rec c = {};
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
	c.ktime = e->hdr.ktime;
	c.proto = ip_proto_name(e->key.proto, pbuf, sizeof(pbuf));
	c.src_port = c.dst_port = -1;
	record_head_w(S->rc, w, type_names[e->hdr.type], e->hdr.ktime);
	c.netns = record_pod_w(S->rc, w, "pod", netns) ? netns : 0;
	/* INHERIT: the record is about the exec that holds the socket now */
	p = exec_proc(e->hdr.type == PS_EV_INHERIT ? &e->holder : &e->exec,
		      e->tgid, netns, &stub);
	record_process_w(S->rc, w, "process", p, false);
	if (p != &stub && p->parent.pid &&
	    (pp = proc_cache_get(S->rc->procs, &p->parent)))
		record_process_w(S->rc, w, "parent", pp, true);
	if (e->hdr.type == PS_EV_INHERIT) {
		pp = exec_proc(&e->exec, e->tgid, netns, &ostub);
		record_process_w(S->rc, w, "opener", pp, true);
		if (pp == &ostub)
			free(ostub.json);
	}
	socket_w(w, e, e->hdr.type, &c);
	jw_obj_end(w);
	c.proc = p;
	if (w->oom)
		S->st.unwritten++;
	else
		S->emit(S->arg, w->buf, w->len, c.netns,
			e->hdr.type == PS_EV_CONNECT ? &c : NULL);
	if (p == &stub)
		free(stub.json);
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
	      S->st.udp + S->st.inherits + S->st.connects_failed +
	      fs->unwritten + S->st.unwritten;
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
	json_object_object_add(fl, "named_by_daemon",
			       json_object_new_uint64(fs->owner_late));
	json_object_object_add(fl, "unwritten", json_object_new_uint64(fs->unwritten));
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
	json_object_object_add(so, "unwritten", json_object_new_uint64(S->st.unwritten));
	json_object_object_add(st, "sockets", so);
	json_object_object_add(rec, "stats", st);
	S->emit_json(S->arg, rec, 0);
}

void sockets_tick(__u64 now)
{
	if (!S)
		return;
	if (now - S->last_sweep >= SOCKS_SWEEP_NS) {
		S->last_sweep = now;
		socks_sweep(now);
	}
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
	jw_free(&S->w);
	free(S);
	S = NULL;
}
