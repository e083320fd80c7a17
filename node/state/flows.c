// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "node/state/flows.h"

#define FLOW_BUCKET_BITS 16
#define FLOW_BUCKETS (1 << FLOW_BUCKET_BITS)
#define FLOW_LINGER_NS 3000000000ULL /* late packets after an end: last ACK, RST */
/* A reported TCP flow that closed stays in the kernel table, so that
 * its stragglers (retransmitted FIN, late RST) update it instead of
 * starting a ghost flow picked up midway; the kernel reports nothing more
 * of a closed flow, the LRU recycles it and a new SYN on the tuple
 * replaces it. The daemon forgets it at once. */
/* An open flow whose counters look fresh is checked against the kernel
 * (evicted? idle?) at most this often. */
#define FLOW_CHECK_NS 2000000000ULL

struct flow_entry {
	struct ps_flow_key key;
	struct ps_flow snap; /* latest counters known */
	__u64 ended_at;	     /* 0 while open */
	__u64 checked_at;    /* last compared with the kernel's entry */
	__u32 end_reason;
	struct flow_entry *next;
};

struct flow_table {
	struct flow_entry *b[FLOW_BUCKETS];
	struct record_ctx *rc;
	int fd4, fd6; /* flows4, flows6 */
	int socks_fd;
	__u64 idle_ns;
	record_line_fn emit;
	void *arg;
	struct flow_stats st;
	struct jw w;
};

static const char *const reason_names[] = PS_FLOW_REASON_NAMES;

/* A word at a time (the key is 11 words): multiply-xorshift, the bucket
 * from the top bits, which depend on every word. */
static __u32 key_hash(const struct ps_flow_key *k)
{
	__u64 h = sizeof(*k);
	size_t i;

	_Static_assert(sizeof(*k) % 4 == 0, "flow key is whole words");
	for (i = 0; i < sizeof(*k); i += 4) {
		__u32 w;

		memcpy(&w, (const char *)k + i, 4);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return (h * 0xbf58476d1ce4e5b9ULL) >> (64 - FLOW_BUCKET_BITS);
}

struct flow_table *flows_new(struct record_ctx *rc, int fd4, int fd6,
			     int socks_fd, __u64 idle_ns, record_line_fn emit,
			     void *arg)
{
	struct flow_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->rc = rc;
	t->fd4 = fd4;
	t->fd6 = fd6;
	t->socks_fd = socks_fd;
	t->idle_ns = idle_ns;
	t->emit = emit;
	t->arg = arg;
	return t;
}

void flows_free(struct flow_table *t)
{
	int i;

	if (!t)
		return;
	for (i = 0; i < FLOW_BUCKETS; i++) {
		struct flow_entry *e = t->b[i], *n;

		for (; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	jw_free(&t->w);
	free(t);
}

const struct flow_stats *flows_stats(const struct flow_table *t)
{
	return &t->st;
}

static struct flow_entry **flow_slot(struct flow_table *t,
				     const struct ps_flow_key *k)
{
	struct flow_entry **pp = &t->b[key_hash(k)];

	for (; *pp; pp = &(*pp)->next)
		if (!memcmp(&(*pp)->key, k, sizeof(*k)))
			break;
	return pp;
}

const char *ip_proto_name(__u8 proto, char *buf, size_t len)
{
	switch (proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

static const char *state_name(__u8 s)
{
	switch (s) {
	case PS_FLOW_NEW: return "new";
	case PS_FLOW_ESTABLISHED: return "established";
	case PS_FLOW_CLOSING: return "closing";
	case PS_FLOW_CLOSED: return "closed";
	}
	return "unknown";
}

/* The JSON array of a set of TCP flags; the 256 texts are made once. */
static void tcp_flags_w(struct jw *w, const char *key, __u8 f)
{
	static const char *const names[] = { "FIN", "SYN", "RST", "PSH",
					     "ACK", "URG", "ECE", "CWR" };
	static char text[256][48];
	static __u8 len[256];
	int i;

	if (!len[f]) {
		char *p = text[f];

		*p++ = '[';
		for (i = 0; i < 8; i++)
			if (f & (1 << i))
				p += sprintf(p, "%s\"%s\"", p - 1 == text[f] ? "" : ",",
					     names[i]);
		*p++ = ']';
		len[f] = p - text[f];
	}
	jw_raw(w, key, text[f], len[f]);
}

static bool has_ports(__u8 proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

static void endpoint_w(struct flow_table *t, const char *key, const char *ip,
		       int port, __u32 netns)
{
	jw_obj(&t->w, key);
	jw_str(&t->w, "ip", ip);
	if (port >= 0)
		jw_int(&t->w, "port", port);
	record_pod_w(t->rc, &t->w, "pod", netns);
	jw_obj_end(&t->w);
}

/*
 * The owner of a flow the kernel left without one, from the socks map as
 * it is now: a socket entered after the flow's packets were counted. The
 * common case is a refused connect, whose RST passes the pod's veth
 * before the socket closes and is entered as failed (the skb is orphaned
 * there, so TC sees no socket). The key and the rules are the kernel's
 * (ps_sock_key_of_flow, ps_sock_owns_flow).
 */
static bool owner_from_socks(const struct flow_table *t,
			     const struct ps_flow_key *k, __u32 netns,
			     __u64 first_seen, struct ps_exec_id *owner)
{
	struct ps_sock_key sk;
	struct ps_sock_owner o;

	if (t->socks_fd < 0 || !netns || !ps_sock_key_of_flow(k, netns, &sk))
		return false;
	if (bpf_map_lookup_elem(t->socks_fd, &sk, &o) ||
	    !ps_sock_owns_flow(&o, first_seen))
		return false;
	*owner = o.exec;
	return true;
}

static void flow_record(struct flow_table *t, const struct flow_entry *e,
			const char *reason, bool final)
{
	const struct ps_flow_key *k = &e->key;
	const struct ps_flow *f = &e->snap;
	__u32 netns = record_slot_netns(t->rc, k->slot);
	__u32 peer_netns = record_ip_netns(t->rc, k->family, k->peer_addr.b);
	bool pod_opened = f->opener != PS_SIDE_PEER, pod;
	char pod_ip[INET6_ADDRSTRLEN], peer_ip[INET6_ADDRSTRLEN];
	char buf[64], start[64], pbuf[16];
	struct conn_rec c = {
		.flow = true,
		.ktime = final ? f->last_seen : clock_boot_ns(),
		.proto = ip_proto_name(k->proto, pbuf, sizeof(pbuf)),
		.netns = netns,
		.final = final,
		.reason = reason,
		.tcp_flags_in = f->tcp_flags_in,
		.start = f->first_seen,
		.state = state_name(f->state),
		.verdict = f->verdict == PS_VERDICT_DROP ? "dropped" : "forwarded",
		.direction = f->opener == PS_SIDE_UNKNOWN ? "unknown" :
			     pod_opened ? "egress" : "ingress",
	};
	struct jw *w = &t->w;
	int pod_port = -1, peer_port = -1;
	struct ps_exec_id owner;

	record_ip_fmt(k->family, k->pod_addr.b, pod_ip);
	record_ip_fmt(k->family, k->peer_addr.b, peer_ip);
	if (has_ports(k->proto)) {
		pod_port = ntohs(k->pod_port);
		peer_port = ntohs(k->peer_port);
	}
	owner = f->owner;
	if (!owner.pid && final &&
	    owner_from_socks(t, k, netns, f->first_seen, &owner))
		t->st.owner_late++;
	record_head_w(t->rc, w, "flow", c.ktime);
	pod = record_pod_w(t->rc, w, "pod", netns);
	c.netns = pod ? netns : 0;
	if (owner.pid) {
		c.proc = proc_cache_get(t->rc->procs, &owner);
		if (c.proc)
			record_process_w(t->rc, w, "process", c.proc, false);
	}
	if (final) {
		if (owner.pid)
			t->st.with_process++;
		else
			t->st.without_process++;
	}
	jw_obj(w, "flow");
	jw_str(w, "protocol", c.proto);
	jw_str(w, "family", k->family == 2 ? "ipv4" : "ipv6");
	/* src -> dst is the direction the flow was opened */
	c.src_ip = pod_opened ? pod_ip : peer_ip;
	c.dst_ip = pod_opened ? peer_ip : pod_ip;
	c.src_port = pod_opened ? pod_port : peer_port;
	c.dst_port = pod_opened ? peer_port : pod_port;
	c.src_netns = pod_opened ? (pod ? netns : 0) : peer_netns;
	c.dst_netns = pod_opened ? peer_netns : (pod ? netns : 0);
	endpoint_w(t, "src", c.src_ip, c.src_port, c.src_netns);
	endpoint_w(t, "dst", c.dst_ip, c.dst_port, c.dst_netns);
	if (!has_ports(k->proto) && (k->proto == 1 || k->proto == 58))
		jw_int(w, "icmp_id", ntohs(k->pod_port));
	jw_str(w, "direction", c.direction);
	record_time_fmt(t->rc, f->first_seen, start, sizeof(start));
	jw_str(w, "start", start);
	if (final) {
		record_time_fmt(t->rc, f->last_seen, buf, sizeof(buf));
		jw_str(w, "end", buf);
	}
	jw_uint(w, "bytes_out", f->bytes_out);
	jw_uint(w, "bytes_in", f->bytes_in);
	jw_uint(w, "packets_out", f->packets_out);
	jw_uint(w, "packets_in", f->packets_in);
	if (k->proto == 6) {
		tcp_flags_w(w, "tcp_flags", f->tcp_flags_out | f->tcp_flags_in);
		tcp_flags_w(w, "tcp_flags_out", f->tcp_flags_out);
		tcp_flags_w(w, "tcp_flags_in", f->tcp_flags_in);
	}
	jw_str(w, "state", c.state);
	jw_str(w, "verdict", c.verdict);
	jw_str(w, "reason", reason);
	jw_bool(w, "final", final);
	jw_obj_end(w);
	jw_obj_end(w);
	if (w->oom)
		t->st.unwritten++;
	else
		t->emit(t->arg, w->buf, w->len, c.netns, &c);
}

static const char *reason_name(__u32 r)
{
	return r < sizeof(reason_names) / sizeof(reason_names[0]) && reason_names[r]
		       ? reason_names[r] : "unknown";
}

static void flow_free(struct flow_entry **pp)
{
	struct flow_entry *e = *pp;

	*pp = e->next;
	free(e);
}

/* Write the final record and forget the flow. */
static void flow_finish(struct flow_table *t, struct flow_entry **pp,
			const char *reason)
{
	flow_record(t, *pp, reason, true);
	t->st.ended++;
	flow_free(pp);
}

void flows_event(struct flow_table *t, const struct ps_flow_event *ev)
{
	struct flow_entry **pp = flow_slot(t, &ev->key), *e = *pp;

	if (e && e->ended_at && ev->hdr.type == PS_EV_FLOW_START) {
		/* a new connection on the tuple before the old one lingered out */
		flow_finish(t, pp, reason_name(e->end_reason));
		pp = flow_slot(t, &ev->key);
		e = NULL;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return;
		e->key = ev->key;
		e->checked_at = ev->hdr.ktime;
		*pp = e;
		if (ev->hdr.type == PS_EV_FLOW_START)
			t->st.started++;
		else
			t->st.adopted++;
	}
	e->snap = ev->flow;
	switch (ev->hdr.type) {
	case PS_EV_FLOW_UPDATE:
		t->st.updates++;
		flow_record(t, e, reason_name(ev->reason), false);
		break;
	case PS_EV_FLOW_END:
		e->ended_at = ev->hdr.ktime;
		e->end_reason = ev->reason;
		break;
	}
}

/* The kernel's entry of flow k, from flows4 or flows6; 0 or -errno. */
static int kernel_lookup(const struct flow_table *t,
			 const struct ps_flow_key *k, struct ps_flow *f)
{
	struct ps_flow_key4 k4;

	if (ps_flow_key4_of(k, &k4))
		return bpf_map_lookup_elem(t->fd4, &k4, f) ? -errno : 0;
	return bpf_map_lookup_elem(t->fd6, k, f) ? -errno : 0;
}

/* Delete the kernel's entry if it still is this flow (not a new one on
 * the same tuple). */
static void kernel_forget(struct flow_table *t, const struct flow_entry *e)
{
	struct ps_flow_key4 k4;
	struct ps_flow f;

	if (kernel_lookup(t, &e->key, &f) || f.first_seen != e->snap.first_seen)
		return;
	if (ps_flow_key4_of(&e->key, &k4))
		bpf_map_delete_elem(t->fd4, &k4);
	else
		bpf_map_delete_elem(t->fd6, &e->key);
}

void flows_sweep(struct flow_table *t, __u64 now, int all)
{
	int i;

	for (i = 0; i < FLOW_BUCKETS; i++) {
		struct flow_entry **pp = &t->b[i];

		while (*pp) {
			struct flow_entry *e = *pp;
			struct ps_flow f;
			bool in_kernel;

			/* a syscall only when the answer can change something */
			if (!all && (e->ended_at ? now - e->ended_at < FLOW_LINGER_NS :
				     now - e->checked_at < FLOW_CHECK_NS &&
				     now - e->snap.last_seen <= t->idle_ns)) {
				pp = &e->next;
				continue;
			}
			e->checked_at = now;
			in_kernel = !kernel_lookup(t, &e->key, &f) &&
				    f.first_seen == e->snap.first_seen;
			if (in_kernel)
				e->snap = f; /* late packets, e.g. the last ACK */
			if (e->ended_at) {
				if (all)
					kernel_forget(t, e);
				flow_finish(t, pp, reason_name(e->end_reason));
			} else if (!in_kernel) {
				t->st.evicted++;
				flow_finish(t, pp, reason_name(PS_FLOW_R_EVICTED));
			} else if (e->snap.state == PS_FLOW_CLOSED &&
				   now - e->snap.last_seen > FLOW_LINGER_NS) {
				/* closed long ago: its end event was lost */
				if (all)
					kernel_forget(t, e);
				flow_finish(t, pp, "closed");
			} else if (now - e->snap.last_seen > t->idle_ns) {
				t->st.idle++;
				kernel_forget(t, e);
				flow_finish(t, pp, reason_name(PS_FLOW_R_IDLE));
			} else {
				pp = &e->next;
			}
		}
	}
}
