// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "node/flows.h"

#define FLOW_BUCKETS 65536 /* power of two */
#define FLOW_LINGER_NS 3000000000ULL /* late packets after an end: last ACK, RST */
/* A reported TCP flow stays in the kernel table this long, so that its
 * stragglers (retransmitted FIN, late RST) update it instead of starting
 * a ghost flow picked up midway. A new SYN on the tuple replaces it. */
#define FLOW_TOMBSTONE_NS 30000000000ULL

struct flow_entry {
	struct ps_flow_key key;
	struct ps_flow snap; /* latest counters known */
	__u64 ended_at;	     /* 0 while open */
	__u64 reported_at;   /* final record written: a tombstone until then */
	__u32 end_reason;
	struct flow_entry *next;
};

struct flow_table {
	struct flow_entry *b[FLOW_BUCKETS];
	struct record_ctx *rc;
	int fd;
	__u64 idle_ns;
	flow_emit_fn emit;
	void *arg;
	struct flow_stats st;
};

static const char *const reason_names[] = PS_FLOW_REASON_NAMES;

static __u32 key_hash(const struct ps_flow_key *k)
{
	const unsigned char *p = (const void *)k;
	__u32 h = 2166136261U;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619U;
	return h & (FLOW_BUCKETS - 1);
}

struct flow_table *flows_new(struct record_ctx *rc, int fd, __u64 idle_ns,
			     flow_emit_fn emit, void *arg)
{
	struct flow_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->rc = rc;
	t->fd = fd;
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

static struct json_object *tcp_flags_json(__u8 f)
{
	static const char *const names[] = { "FIN", "SYN", "RST", "PSH",
					     "ACK", "URG", "ECE", "CWR" };
	struct json_object *a = json_object_new_array();
	int i;

	for (i = 0; i < 8; i++)
		if (f & (1 << i))
			json_object_array_add(a, json_object_new_string(names[i]));
	return a;
}

static bool has_ports(__u8 proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

static struct json_object *endpoint_json(struct flow_table *t,
					 const struct ps_flow_key *k,
					 const union ps_addr *a, __be16 port,
					 struct json_object *pod)
{
	struct json_object *o = json_object_new_object();
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(k->family == 2 ? AF_INET : AF_INET6, a->b, ip, sizeof(ip));
	json_object_object_add(o, "ip", json_object_new_string(ip));
	if (has_ports(k->proto))
		json_object_object_add(o, "port", json_object_new_int(ntohs(port)));
	if (pod) /* shared with the record, not built again */
		json_object_object_add(o, "pod", json_object_get(pod));
	return o;
}

static void flow_record(struct flow_table *t, const struct flow_entry *e,
			const char *reason, bool final)
{
	const struct ps_flow_key *k = &e->key;
	const struct ps_flow *f = &e->snap;
	__u32 netns = record_slot_netns(t->rc, k->slot);
	__u32 peer_netns = record_ip_netns(t->rc, k->family, k->peer_addr.b);
	struct json_object *rec, *fl, *pod_ep, *peer_ep, *pod, *peer_pod;
	bool pod_opened = f->opener != PS_SIDE_PEER;
	char buf[64];

	rec = record_new(t->rc, "flow", final ? f->last_seen : clock_boot_ns());
	pod = pod_json(t->rc, netns);
	if (pod)
		json_object_object_add(rec, "pod", pod);
	if (f->owner.pid) {
		struct proc *p = proc_cache_get(t->rc->procs, &f->owner);

		if (p)
			json_object_object_add(rec, "process", process_json(t->rc, p));
	}
	if (final) {
		if (f->owner.pid)
			t->st.with_process++;
		else
			t->st.without_process++;
	}
	fl = json_object_new_object();
	json_object_object_add(fl, "protocol", json_object_new_string(
		ip_proto_name(k->proto, buf, sizeof(buf))));
	json_object_object_add(fl, "family", json_object_new_string(
		k->family == 2 ? "ipv4" : "ipv6"));
	peer_pod = peer_netns ? pod_json(t->rc, peer_netns) : NULL;
	pod_ep = endpoint_json(t, k, &k->pod_addr, k->pod_port, netns ? pod : NULL);
	peer_ep = endpoint_json(t, k, &k->peer_addr, k->peer_port, peer_pod);
	json_object_put(peer_pod);
	json_object_object_add(fl, "src", pod_opened ? pod_ep : peer_ep);
	json_object_object_add(fl, "dst", pod_opened ? peer_ep : pod_ep);
	if (!has_ports(k->proto) && (k->proto == 1 || k->proto == 58))
		json_object_object_add(fl, "icmp_id", json_object_new_int(ntohs(k->pod_port)));
	json_object_object_add(fl, "direction", json_object_new_string(
		f->opener == PS_SIDE_UNKNOWN ? "unknown" :
		pod_opened ? "egress" : "ingress"));
	record_time_fmt(t->rc, f->first_seen, buf, sizeof(buf));
	json_object_object_add(fl, "start", json_object_new_string(buf));
	if (final) {
		record_time_fmt(t->rc, f->last_seen, buf, sizeof(buf));
		json_object_object_add(fl, "end", json_object_new_string(buf));
	}
	json_object_object_add(fl, "bytes_out", json_object_new_uint64(f->bytes_out));
	json_object_object_add(fl, "bytes_in", json_object_new_uint64(f->bytes_in));
	json_object_object_add(fl, "packets_out", json_object_new_uint64(f->packets_out));
	json_object_object_add(fl, "packets_in", json_object_new_uint64(f->packets_in));
	if (k->proto == 6) {
		json_object_object_add(fl, "tcp_flags",
				       tcp_flags_json(f->tcp_flags_out | f->tcp_flags_in));
		json_object_object_add(fl, "tcp_flags_out", tcp_flags_json(f->tcp_flags_out));
		json_object_object_add(fl, "tcp_flags_in", tcp_flags_json(f->tcp_flags_in));
	}
	json_object_object_add(fl, "state", json_object_new_string(state_name(f->state)));
	json_object_object_add(fl, "verdict", json_object_new_string(
		f->verdict == PS_VERDICT_DROP ? "dropped" : "forwarded"));
	json_object_object_add(fl, "reason", json_object_new_string(reason));
	json_object_object_add(fl, "final", json_object_new_boolean(final));
	json_object_object_add(rec, "flow", fl);
	t->emit(t->arg, rec, netns);
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

/* Write the final record; a flow that ended keeps a tombstone. */
static void flow_finish(struct flow_table *t, struct flow_entry **pp,
			const char *reason, __u64 now, bool tombstone)
{
	flow_record(t, *pp, reason, true);
	t->st.ended++;
	if (tombstone)
		(*pp)->reported_at = now ? now : 1;
	else
		flow_free(pp);
}

void flows_event(struct flow_table *t, const struct ps_flow_event *ev)
{
	struct flow_entry **pp = flow_slot(t, &ev->key), *e = *pp;

	if (e && e->reported_at) {
		if (ev->hdr.type != PS_EV_FLOW_START)
			return; /* a straggler of a reported flow */
		flow_free(pp); /* a new connection on the tuple */
		pp = flow_slot(t, &ev->key);
		e = NULL;
	} else if (e && e->ended_at && ev->hdr.type == PS_EV_FLOW_START) {
		/* a new connection on the tuple before the old one lingered out */
		flow_finish(t, pp, reason_name(e->end_reason), 0, false);
		pp = flow_slot(t, &ev->key);
		e = NULL;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return;
		e->key = ev->key;
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

/* Delete the kernel's entry if it still is this flow (not a new one on
 * the same tuple). */
static void kernel_forget(struct flow_table *t, const struct flow_entry *e)
{
	struct ps_flow f;

	if (!bpf_map_lookup_elem(t->fd, &e->key, &f) &&
	    f.first_seen == e->snap.first_seen)
		bpf_map_delete_elem(t->fd, &e->key);
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

			if (e->reported_at) {
				if (all || now - e->reported_at > FLOW_TOMBSTONE_NS) {
					kernel_forget(t, e);
					flow_free(pp);
				} else {
					pp = &e->next;
				}
				continue;
			}
			in_kernel = !bpf_map_lookup_elem(t->fd, &e->key, &f) &&
				    f.first_seen == e->snap.first_seen;
			if (in_kernel)
				e->snap = f; /* late packets, e.g. the last ACK */
			if (e->ended_at) {
				if (!all && now - e->ended_at < FLOW_LINGER_NS) {
					pp = &e->next;
					continue;
				}
				if (all)
					kernel_forget(t, e);
				flow_finish(t, pp, reason_name(e->end_reason), now,
					    in_kernel && !all);
			} else if (!in_kernel) {
				t->st.evicted++;
				flow_finish(t, pp, reason_name(PS_FLOW_R_EVICTED), now, false);
			} else if (e->snap.state == PS_FLOW_CLOSED &&
				   now - e->snap.last_seen > FLOW_LINGER_NS) {
				/* closed long ago: its end event was lost */
				if (all)
					kernel_forget(t, e);
				flow_finish(t, pp, "closed", now, !all);
			} else if (now - e->snap.last_seen > t->idle_ns) {
				t->st.idle++;
				kernel_forget(t, e);
				flow_finish(t, pp, reason_name(PS_FLOW_R_IDLE), now, false);
			} else {
				pp = &e->next;
			}
		}
	}
}
