// SPDX-License-Identifier: GPL-2.0-only
/* The flow and aggregate flow records (see README.md, Records). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "node/records/flow.h"

const char *ip_proto_name(__u8 proto, char *buf, size_t len)
{
	switch (proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 2: return "igmp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

static const char *state_name(const struct flow_view *v)
{
	if (v->refused)
		return "refused";
	if (v->failed)
		return "failed";
	switch (v->f.state) {
	case PS_FLOW_NEW: return "new";
	case PS_FLOW_ESTABLISHED: return "established";
	case PS_FLOW_CLOSING: return "closing";
	case PS_FLOW_FIN_BOTH:
	case PS_FLOW_CLOSED: return "closed";
	}
	return "unknown";
}

/* The JSON array of a set of TCP flags; the 256 texts are made once. */
static void tcp_flags_w(struct jw *w, const char *key, __u8 f)
{
	static const char *const names[] = { "FIN", "SYN", "RST", "PSH",
					     "ACK", "URG", "ECE", "CWR" };
	/* all eight: 49 bytes and sprintf's NUL */
	static char text[256][64];
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

/* One end of a flow: its address, port, pod and process. */
static void end_w(struct record_ctx *rc, struct jw *w, const char *key,
		  const struct flow_view *v, int side)
{
	const struct ps_flow_end *e = &v->f.end[side];
	char ip[INET6_ADDRSTRLEN];

	jw_obj(w, key);
	record_ip_fmt(v->key.family, v->key.addr[side].b, ip);
	jw_str(w, "ip", ip);
	if (has_ports(v->key.proto))
		jw_int(w, "port", ntohs(v->key.port[side]));
	record_pod_brief_w(rc, w, "pod", v->netns[side]);
	if (v->proc[side]) {
		record_process_w(rc, w, "process", v->proc[side], PROC_SHORT);
		/* a forked child of the exec made the call */
		if (e->tgid && e->tgid != v->proc[side]->pid)
			jw_uint(w, "pid", e->tgid);
	} else if (e->exec.pid && e->exec.ktime) {
		char id[96];

		/* an exec the daemon no longer knows (it exited while the
		 * daemon was down): its id still names its process_exec */
		exec_id_fmt(rc, &e->exec, id, sizeof(id));
		jw_obj(w, "process");
		jw_str(w, "exec_id", id);
		jw_uint(w, "pid", e->exec.pid);
		jw_obj_end(w);
	}
	if (v->holder[side])
		record_process_w(rc, w, "holder", v->holder[side], PROC_SHORT);
	jw_obj_end(w);
}

void flow_record_w(struct record_ctx *rc, struct jw *w,
		   const struct flow_view *v)
{
	int pod = flow_view_pod_side(v), peer = !pod, src = v->src;
	const struct ps_flow *f = &v->f;
	char buf[64];

	record_head_w(rc, w, "flow", v->ktime);
	record_pod_w(rc, w, "pod", v->netns[pod]);
	if (v->proc[pod])
		record_process_w(rc, w, "process", v->proc[pod], PROC_FULL);
	jw_obj(w, "flow");
	jw_str(w, "protocol", ip_proto_name(v->key.proto, buf, sizeof(buf)));
	jw_str(w, "family", v->key.family == 2 ? "ipv4" : "ipv6");
	end_w(rc, w, "src", v, src);
	end_w(rc, w, "dst", v, !src);
	if (v->key.proto == 1 || v->key.proto == 58)
		jw_int(w, "icmp_id", ntohs(v->key.port[0]));
	jw_str(w, "direction", !v->opened_known ? "unknown" :
			       pod == src ? "egress" : "ingress");
	record_time_fmt(rc, f->first_seen, buf, sizeof(buf));
	jw_str(w, "start", buf);
	if (v->final) {
		record_time_fmt(rc, f->last_seen, buf, sizeof(buf));
		jw_str(w, "end", buf);
	}
	/* out and in are the record pod's */
	jw_uint(w, "bytes_out", f->end[pod].bytes);
	jw_uint(w, "bytes_in", f->end[peer].bytes);
	jw_uint(w, "packets_out", f->end[pod].packets);
	jw_uint(w, "packets_in", f->end[peer].packets);
	if (v->key.proto == 6) {
		tcp_flags_w(w, "tcp_flags_out", f->end[pod].tcp_flags);
		tcp_flags_w(w, "tcp_flags_in", f->end[peer].tcp_flags);
	}
	jw_str(w, "state", state_name(v));
	jw_str(w, "verdict", f->verdict == PS_VERDICT_DROP ? "dropped" : "forwarded");
	jw_str(w, "reason", v->reason);
	jw_bool(w, "final", v->final);
	jw_obj_end(w);
	jw_obj_end(w);
}

void agg_record_w(struct record_ctx *rc, struct jw *w, const struct agg_view *a)
{
	const struct ps_agg_key *k = &a->key;
	bool egress = k->dir == PS_AGG_EGRESS;
	char buf[64], ip[INET6_ADDRSTRLEN];

	record_head_w(rc, w, "flow", a->ktime);
	record_pod_w(rc, w, "pod", a->netns);
	if (a->proc)
		record_process_w(rc, w, "process", a->proc, PROC_FULL);
	jw_obj(w, "flow");
	jw_str(w, "protocol", ip_proto_name(k->proto, buf, sizeof(buf)));
	jw_str(w, "family", k->family == 2 ? "ipv4" : "ipv6");
	jw_bool(w, "aggregate", true);
	record_ip_fmt(k->family, k->peer.b, ip);
	/* the pod's end has no single port: many connections */
	jw_obj(w, egress ? "src" : "dst");
	record_pod_brief_w(rc, w, "pod", a->netns);
	if (a->proc)
		record_process_w(rc, w, "process", a->proc, PROC_SHORT);
	if (!egress && has_ports(k->proto))
		jw_int(w, "port", ntohs(k->port));
	jw_obj_end(w);
	jw_obj(w, egress ? "dst" : "src");
	jw_str(w, "ip", ip);
	if (egress && has_ports(k->proto))
		jw_int(w, "port", ntohs(k->port));
	record_pod_brief_w(rc, w, "pod", a->peer_netns);
	if (a->peer_proc)
		record_process_w(rc, w, "process", a->peer_proc, PROC_SHORT);
	jw_obj_end(w);
	jw_str(w, "direction", egress ? "egress" : "ingress");
	jw_uint(w, "connections", a->a.connections);
	jw_uint(w, "started", a->a.started);
	jw_uint(w, "completed", a->a.completed);
	jw_uint(w, "reset", a->a.reset);
	record_time_fmt(rc, a->a.first, buf, sizeof(buf));
	jw_str(w, "start", buf);
	record_time_fmt(rc, a->a.last, buf, sizeof(buf));
	jw_str(w, "end", buf);
	jw_uint(w, "interval_ms", a->interval_ns / 1000000);
	jw_uint(w, "bytes_out", a->a.bytes[0]);
	jw_uint(w, "bytes_in", a->a.bytes[1]);
	jw_uint(w, "packets_out", a->a.packets[0]);
	jw_uint(w, "packets_in", a->a.packets[1]);
	if (k->proto == 6) {
		tcp_flags_w(w, "tcp_flags_out", a->a.tcp_flags[0]);
		tcp_flags_w(w, "tcp_flags_in", a->a.tcp_flags[1]);
	}
	jw_str(w, "reason", "aggregate");
	jw_bool(w, "final", true);
	jw_obj_end(w);
	jw_obj_end(w);
}
