/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which process owns a UDP flow: the TC programs look its tuple up in
 * the socks map that sock.bpf.c fills when a watched process sends, and
 * in listeners for a port one bound (TCP flows are named by the socket
 * programs themselves, when the connection is established).
 */
#ifndef PS_BPF_SOCK_H
#define PS_BPF_SOCK_H

#include "podsentry.h"
#include "lib/maps.h"

#define PS_SOCK_IPPROTO_TCP 6
#define PS_SOCK_IPPROTO_UDP 17

/* A UDP flow still without owner looks again for its first packets: a
 * datagram may leave before its sender's entry is written. */
#ifndef PS_OWNER_RETRY_PKTS
#define PS_OWNER_RETRY_PKTS 16
#endif

/*
 * The process of the pod in `netns` whose UDP socket has local port
 * `lport` and sends to (raddr, rport): the sender entry in socks, else
 * the process that bound the port. Leaves exec and tgid alone when
 * there is none.
 */
static __always_inline void sock_udp_owner(__be16 lport,
					   const union ps_addr *raddr,
					   __be16 rport, __u8 family,
					   __u32 netns, struct ps_exec_id *exec,
					   __u32 *tgid)
{
	struct ps_sock_key sk = {
		.netns_ino = netns,
		.family = family,
		.proto = PS_SOCK_IPPROTO_UDP,
		.local_port = lport,
		.remote_port = rport,
		.remote_addr = *raddr,
	};
	struct ps_listen_key lk = {
		.netns_ino = netns,
		.proto = PS_SOCK_IPPROTO_UDP,
		.port = lport,
	};
	struct ps_sock_owner *o;
	struct ps_listener *l;

	o = bpf_map_lookup_elem(&socks, &sk);
	if (o) {
		*exec = o->exec;
		*tgid = o->tgid;
		return;
	}
	l = bpf_map_lookup_elem(&listeners, &lk);
	if (l) {
		*exec = l->exec;
		*tgid = l->tgid;
	}
}

#endif
