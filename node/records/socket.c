// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <string.h>

#include "node/records/flow.h"
#include "node/records/socket.h"

static const char *const type_names[] = {
	[PS_EV_CONNECT] = "connect",
	[PS_EV_ACCEPT] = "accept",
	[PS_EV_LISTEN] = "listen",
	[PS_EV_INHERIT] = "inherit",
};

/* An endpoint of a socket; the pod at it named when with_pod. Returns
 * that pod's netns, 0 when none. */
static __u32 endpoint_w(struct record_ctx *rc, struct jw *w, const char *key,
			const union ps_addr *a, __u8 family, __be16 port,
			bool with_pod)
{
	static const union ps_addr zero;
	char ip[INET6_ADDRSTRLEN];
	__u32 netns = 0;

	jw_obj(w, key);
	if (memcmp(a, &zero, sizeof(zero))) {
		record_ip_fmt(family, a->b, ip);
		jw_str(w, "ip", ip);
	}
	jw_int(w, "port", ntohs(port));
	if (with_pod && (netns = record_ip_netns(rc, family, a->b)) &&
	    !record_pod_brief_w(rc, w, "pod", netns))
		netns = 0;
	jw_obj_end(w);
	return netns;
}

__u32 socket_record_w(struct record_ctx *rc, struct jw *w,
		      const struct ps_sock_event *e, struct proc *p,
		      struct proc *parent, struct proc *opener)
{
	const struct ps_sock_key *k = &e->key;
	bool passive = e->flags & PS_SOCK_ACCEPT;
	__u32 type = e->hdr.type, rns = 0;
	char pbuf[16];

	record_head_w(rc, w, type_names[type], e->hdr.ktime);
	record_pod_w(rc, w, "pod", k->netns_ino);
	record_process_w(rc, w, "process", p, PROC_FULL);
	if (parent)
		record_process_w(rc, w, "parent", parent, PROC_BRIEF);
	if (opener)
		record_process_w(rc, w, "opener", opener, PROC_BRIEF);
	jw_obj(w, "socket");
	jw_str(w, "protocol", ip_proto_name(k->proto, pbuf, sizeof(pbuf)));
	jw_str(w, "family", k->family == 2 ? "ipv4" : "ipv6");
	if (type == PS_EV_LISTEN) {
		endpoint_w(rc, w, "src", &k->local_addr, k->family, k->local_port,
			   false);
	} else if (passive) { /* src -> dst is the direction it was opened */
		rns = endpoint_w(rc, w, "src", &k->remote_addr, k->family,
				 k->remote_port, true);
		endpoint_w(rc, w, "dst", &k->local_addr, k->family, k->local_port,
			   false);
	} else {
		endpoint_w(rc, w, "src", &k->local_addr, k->family, k->local_port,
			   false);
		rns = endpoint_w(rc, w, "dst", &k->remote_addr, k->family,
				 k->remote_port, true);
	}
	jw_int(w, "pid", e->tgid);
	if (type == PS_EV_CONNECT && k->proto == 6)
		jw_str(w, "state", e->flags & PS_SOCK_FAILED ? "failed" : "established");
	jw_obj_end(w);
	jw_obj_end(w);
	return rns;
}
