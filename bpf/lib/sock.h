/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which process owns a flow: the TC programs look the flow's tuple up in
 * the socks map that sock.bpf.c fills from socket hooks, under the key
 * ps_sock_key_of_flow makes (the daemon makes the same for the flows the
 * kernel could not name).
 */
#ifndef PS_BPF_SOCK_H
#define PS_BPF_SOCK_H

#include "podsentry.h"
#include "lib/maps.h"

#define PS_SOCK_IPPROTO_TCP 6
#define PS_SOCK_IPPROTO_UDP 17

/* A flow still without owner looks again for its first packets: the
 * client's SYN leaves before its socket is established, the server's
 * socket is established by the handshake's last ACK. */
#ifndef PS_OWNER_RETRY_PKTS
#define PS_OWNER_RETRY_PKTS 16
#endif

/* A UDP flow whose tuple no socket sent to: the process that bound the
 * pod's port, if any (a receiver that has not answered yet). */
static __always_inline bool udp_receiver_of(const struct ps_flow_key *k,
					    __u32 netns,
					    struct ps_exec_id *owner)
{
	struct ps_listen_key lk = {.netns_ino = netns,
				   .proto = PS_SOCK_IPPROTO_UDP,
				   .port = k->pod_port};
	struct ps_listener *l = bpf_map_lookup_elem(&listeners, &lk);

	if (!l)
		return false;
	*owner = l->exec;
	return true;
}

/* Copy the owner of flow `k` (of the pod in netns `netns`, started at
 * boot-clock `first_seen`) to `owner`; false when no socket of a watched
 * process has this tuple. A socket closed before the flow started is a
 * previous connection on a reused tuple, not this flow's. */
static __always_inline bool sock_owner_of(const struct ps_flow_key *k,
					  __u32 netns, __u64 first_seen,
					  struct ps_exec_id *owner)
{
	struct ps_sock_owner *o;
	struct ps_sock_key sk;

	if (!ps_sock_key_of_flow(k, netns, &sk))
		return false;
	o = bpf_map_lookup_elem(&socks, &sk);
	if (!o && k->proto == PS_SOCK_IPPROTO_UDP)
		return udp_receiver_of(k, netns, owner);
	if (!o || !ps_sock_owns_flow(o, first_seen))
		return false;
	*owner = o->exec;
	return true;
}

#endif
