// SPDX-License-Identifier: GPL-2.0-only
/*
 * Flow-process correlation and the connection notices of detection.
 *
 * TCP: inet_sock_set_state at CLOSE -> SYN_SENT (in connect(), before
 * the source port is chosen) keeps the caller (and whether its tree is
 * marked) in the socket's own storage; at SYN_SENT -> ESTABLISHED (or
 * CLOSE: failed) the tuple is complete, and the caller's exec is stamped
 * into its end of the flow entry, which the connection's first packet
 * made.
 * Passive opens (SYN_RECV -> ESTABLISHED, in softirq) belong to the
 * process listening on the port (listeners map, written at LISTEN). UDP:
 * cgroup/sendmsg4|6 for datagrams with an address, sock_send_length for
 * connected sockets, write the sender into socks for TC to find; a UDP
 * port bound by a watched process (cgroup/post_bind4|6, until
 * cgroup/sock_release) is that process's in the listeners map.
 *
 * The kernel decides what detection must see at once: a connection (TCP
 * established or failed, the first datagram of an exec to a UDP
 * destination) is sent as a notice only when it failed, when its tree is
 * marked (marks map), or when its destination is not in the pod's peers
 * map. A pod talking to a peer it knows costs no event until its flow
 * ends. The connect, accept and listen records the daemon may be asked
 * for (--records) are sent only then. (A socket on the stdio of a later
 * exec of the process that opened it, nc -e, is told at that exec:
 * process.bpf.c.)
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "podsentry.h"
#include "lib/maps.h"
#include "lib/scope.h"
#include "lib/task.h"
#include "lib/sock.h"

char LICENSE[] SEC("license") = "GPL";

#define PS_AF_INET 2
#define PS_AF_INET6 10
#define PS_SOCK_STREAM 1
#define PS_SOCK_DGRAM 2
#define PS_SEEN_STEP_NS 1000000000ULL
#define PS_ECONNREFUSED 111

/* TCP states as in include/net/tcp_states.h */
enum {
	PS_TCP_ESTABLISHED = 1,
	PS_TCP_SYN_SENT = 2,
	PS_TCP_SYN_RECV = 3,
	PS_TCP_CLOSE = 7,
	PS_TCP_LISTEN = 10,
};

/* Socket records asked for (enum ps_sock_records); set before load. */
const volatile __u32 sock_records;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PS_SC_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sock_counts SEC(".maps");

static __always_inline void sock_count(enum ps_sock_count what)
{
	__u32 key = what;
	__u64 *n = bpf_map_lookup_elem(&sock_counts, &key);

	if (n)
		*n += 1;
}

/* The process calling a socket hook. */
struct ps_sock_caller {
	struct ps_exec_id exec;
	__u64 exe;
	__u32 tgid;
	__u32 netns_ino;
	bool marked; /* its tree is followed in real time */
};

/* The exec that called connect() on a TCP socket, from CLOSE ->
 * SYN_SENT (process context, the source port not chosen yet) until the
 * connection is established or fails (softirq, the tuple complete):
 * connect_done takes the caller from here, by socket cookie. A hash
 * preallocated: an insert and a delete per connection cost a fraction of
 * a socket storage's allocation and its free with the socket. A socket
 * whose connect is not followed (full table) is counted. */
struct ps_sock_held {
	struct ps_exec_id exec;
	__u64 exe;
	__u32 tgid;
	__u32 marked; /* the caller's tree was marked */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_CONNECTING);
	__type(key, __u64); /* socket cookie */
	__type(value, struct ps_sock_held);
} connecting SEC(".maps");

/* The first socket of a process: its image is marked, so that its exit
 * (or the exec that replaces it) tells the daemon to keep the image for
 * the flows that name it after. A fork marks its exec holder too (the
 * fork's own exit is not reported); when the holder has ended, the
 * daemon is told now. Forks inherit the mark: it is done once per line
 * of forks. Plain writes: the bit is only ever set, and no other program
 * writes a live entry's flags (an exec replaces the entry whole, and the
 * new image starts unmarked). */
static __always_inline void image_uses_net(struct ps_proc *p)
{
	struct ps_exit_event *e;
	struct ps_proc *h;

	p->flags |= PS_PROC_NET;
	if ((p->flags & (PS_PROC_CLONE | PS_PROC_REPORTED)) !=
	    (PS_PROC_CLONE | PS_PROC_REPORTED))
		return;
	h = bpf_map_lookup_elem(&procs, &p->exec.pid);
	if (h && !(h->flags & PS_PROC_CLONE) &&
	    h->exec.ktime == p->exec.ktime) {
		h->flags |= PS_PROC_NET;
		return;
	}
	e = events_reserve(sizeof(*e), PS_EV_NET_USE, bpf_ktime_get_boot_ns(),
			   PS_DROP_RB_EXIT);
	if (!e)
		return;
	e->exec = p->exec;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->netns_ino = p->netns_ino;
	e->exit_code = 0;
	e->flags = PS_EXIT_NET;
	events_submit(e, sizeof(*e));
}

/* The calling process, when it is watched and its exec is known. */
static __always_inline bool current_owner(struct ps_sock_caller *o)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ps_proc *p;

	o->netns_ino = task_btf_netns_ino(t);
	if (!netns_watched(o->netns_ino))
		return false;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p) {
		drop_count(PS_DROP_SOCK_NO_PROC);
		return false;
	}
	if (!(p->flags & PS_PROC_NET))
		image_uses_net(p);
	o->exec = p->exec;
	o->exe = p->exe;
	o->tgid = tgid;
	o->marked = bpf_map_lookup_elem(&marks, &tgid) != NULL;
	return true;
}

static __always_inline void sock_emit(__u32 type, const struct ps_sock_key *k,
				      const struct ps_exec_id *exec, __u32 tgid,
				      const struct ps_exec_id *holder,
				      __u32 flags, __u64 exe)
{
	struct ps_sock_event *e;

	e = events_reserve(sizeof(*e), type, bpf_ktime_get_boot_ns(),
			   PS_DROP_RB_SOCK);
	if (!e)
		return;
	e->key = *k;
	e->tgid = tgid;
	e->exec = *exec;
	if (holder)
		e->holder = *holder;
	else
		__builtin_memset(&e->holder, 0, sizeof(e->holder));
	e->flags = flags;
	e->pad = 0;
	e->exe = exe;
	events_submit(e, sizeof(*e));
}

/* Why a connection (flags: PS_SOCK_CONNECT, PS_SOCK_FAILED...) must be
 * sent: the PS_SOCK_NOTICE bits for detection, PS_SOCK_RECORD when
 * connect records are on; 0 when it costs no event. */
static __always_inline __u32 connect_notice(const struct ps_sock_key *k,
					    __u32 flags, bool marked, __u64 exe)
{
	struct ps_peer_key pk = {
		.netns_ino = k->netns_ino,
		.family = k->family,
		.proto = k->proto,
		.port = k->remote_port,
		.addr = k->remote_addr,
		.exe = exe,
	};
	struct ps_peer *peer;

	if (sock_records & PS_REC_CONNECT)
		flags |= PS_SOCK_RECORD;
	if (marked) {
		flags |= PS_SOCK_MARKED;
	} else if (!(flags & PS_SOCK_FAILED)) {
		peer = bpf_map_lookup_elem(&peers, &pk);
		if (peer && ((peer->flags & PS_PEER_LEARNED) ||
			     ((peer->flags & PS_PEER_QUIET) &&
			      bpf_ktime_get_boot_ns() < peer->until))) {
			sock_count(PS_SC_QUIET);
			return flags & PS_SOCK_RECORD ? flags : 0;
		}
		flags |= PS_SOCK_NEW_PEER;
	}
	sock_count(PS_SC_NOTICE);
	return flags;
}

static __always_inline bool v4_mapped(const __be32 *w)
{
	return !w[0] && !w[1] && w[2] == bpf_htonl(0xffff);
}

/* The tuple of a socket as its process sees it. v4-mapped IPv6 sockets
 * carry IPv4 packets: they get IPv4 keys, as the packets do. */
static __always_inline bool sock_key_of(const struct sock *sk,
					struct ps_sock_key *k, __u8 proto)
{
	/* sk is a BTF pointer (tp_btf arguments): direct loads, ~20 ns
	 * less each than a bpf_probe_read_kernel call */
	const struct sock_common *c = &sk->__sk_common;
	__u16 family = c->skc_family;

	__builtin_memset(k, 0, sizeof(*k));
	k->netns_ino = c->skc_net.net->ns.inum;
	k->proto = proto;
	/* at CLOSE the port is released (skc_num 0) before the tracepoint
	 * runs; inet_sport keeps it (beyond struct sock: read by copy) */
	k->local_port = bpf_htons(c->skc_num);
	if (!k->local_port)
		k->local_port =
			BPF_CORE_READ((struct inet_sock *)sk, inet_sport);
	k->remote_port = c->skc_dport;
	if (family == PS_AF_INET) {
		k->family = PS_AF_INET;
		k->local_addr.w[0] = c->skc_rcv_saddr;
		k->remote_addr.w[0] = c->skc_daddr;
	} else if (family == PS_AF_INET6) {
		int i;

		for (i = 0; i < 4; i++) {
			k->local_addr.w[i] =
				c->skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			k->remote_addr.w[i] = c->skc_v6_daddr.in6_u.u6_addr32[i];
		}
		if (v4_mapped(k->remote_addr.w) &&
		    (v4_mapped(k->local_addr.w) || !k->local_addr.w[3])) {
			k->family = PS_AF_INET;
			k->local_addr.w[0] = k->local_addr.w[3];
			k->remote_addr.w[0] = k->remote_addr.w[3];
			k->local_addr.w[1] = k->local_addr.w[2] =
				k->local_addr.w[3] = 0;
			k->remote_addr.w[1] = k->remote_addr.w[2] =
				k->remote_addr.w[3] = 0;
		} else {
			k->family = PS_AF_INET6;
		}
	} else {
		return false;
	}
	if (proto == PS_SOCK_IPPROTO_UDP)
		__builtin_memset(&k->local_addr, 0, sizeof(k->local_addr));
	return true;
}

/*
 * Name the socket's end of its flow: the flow entry under the canonical
 * key of the socket's tuple (TC made it with the connection's first
 * packet) gets exec and tgid in the end that is the socket's. False when
 * there is no entry (the flow was not seen on a pod's veth: loopback
 * inside the pod, or evicted).
 */
static __always_inline bool flow_stamp(const struct ps_sock_key *k,
				       const struct ps_exec_id *exec,
				       __u32 tgid)
{
	struct ps_flow_key fk = {};
	struct ps_flow *f;
	int local, words = k->family == PS_AF_INET ? 1 : 4;

	local = !ps_flow_side_lower(k->local_addr.w, k->local_port,
				    k->remote_addr.w, k->remote_port, words);
	/* no variable index into the stack: the verifier refuses it */
	if (local) {
		fk.addr[1] = k->local_addr;
		fk.addr[0] = k->remote_addr;
		fk.port[1] = k->local_port;
		fk.port[0] = k->remote_port;
	} else {
		fk.addr[0] = k->local_addr;
		fk.addr[1] = k->remote_addr;
		fk.port[0] = k->local_port;
		fk.port[1] = k->remote_port;
	}
	fk.family = k->family;
	fk.proto = k->proto;
	if (k->family == PS_AF_INET) {
		struct ps_flow_key4 k4;

		ps_flow_key4_of(&fk, &k4);
		f = bpf_map_lookup_elem(&flows4, &k4);
	} else {
		f = bpf_map_lookup_elem(&flows6, &fk);
	}
	if (!f)
		return false;
	f->end[local & 1].exec = *exec;
	f->end[local & 1].tgid = tgid;
	return true;
}

/* ---- TCP connect: who called connect() ---- */
/* CLOSE -> SYN_SENT, in connect(): the caller is kept for connect_done.
 * A connected UDP socket is named when it sends (sock_send_length). */
static __always_inline void connect_begin(const struct sock *sk)
{
	struct ps_sock_held h;
	struct ps_sock_caller o;
	__u64 cookie;

	if (!current_owner(&o))
		return;
	cookie = bpf_get_socket_cookie((struct sock *)sk);
	h.exec = o.exec;
	h.exe = o.exe;
	h.tgid = o.tgid;
	h.marked = o.marked;
	if (bpf_map_update_elem(&connecting, &cookie, &h, BPF_ANY))
		drop_count(PS_DROP_CONNECTS_FULL);
}

/* SYN_SENT -> ESTABLISHED (flags 0) or -> CLOSE (PS_SOCK_FAILED): the
 * source port is known now. A refused connect's flow ended already (its
 * RST passed TC first): the notice names it. One that got no answer
 * (closed, timed out, unreachable) is still in the table until the idle
 * sweep: it is named here, as an established one is. */
static __always_inline void connect_done(const struct sock *sk, __u32 flags)
{
	__u64 cookie = bpf_get_socket_cookie((struct sock *)sk);
	struct ps_sock_held *hp, h;
	struct ps_sock_key k;
	__u32 why;

	hp = bpf_map_lookup_elem(&connecting, &cookie);
	if (!hp)
		return;
	h = *hp;
	bpf_map_delete_elem(&connecting, &cookie);
	if (!sock_key_of(sk, &k, PS_SOCK_IPPROTO_TCP))
		return;
	if (flags & PS_SOCK_FAILED) {
		sock_count(PS_SC_CONNECT_FAILED);
		if (!(flags & PS_SOCK_REFUSED))
			flow_stamp(&k, &h.exec, h.tgid);
	} else {
		sock_count(PS_SC_CONNECT);
		if (!flow_stamp(&k, &h.exec, h.tgid))
			drop_count(PS_DROP_FLOW_UNNAMED);
	}
	why = connect_notice(&k, flags | PS_SOCK_CONNECT,
			     h.marked, h.exe);
	if (why)
		sock_emit(PS_EV_CONNECT, &k, &h.exec, h.tgid, NULL, why, h.exe);
}

/* A SYN sent again: a connect that gets no answer. Its flow is named
 * now, a second after it began, not only when the socket gives up: the
 * idle sweep may end a flow between two SYNs (they are 1, 2, 4... 64 s
 * apart), and a connect then times out without a flow to name. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(ps_syn_again, const struct sock *sk, const struct sk_buff *skb,
	     int err)
{
	struct ps_sock_held *hp;
	struct ps_sock_key k;
	__u64 cookie;

	if (sk->__sk_common.skc_state != PS_TCP_SYN_SENT ||
	    sk->sk_protocol != PS_SOCK_IPPROTO_TCP)
		return 0;
	cookie = bpf_get_socket_cookie((struct sock *)sk);
	hp = bpf_map_lookup_elem(&connecting, &cookie);
	if (!hp || !sock_key_of(sk, &k, PS_SOCK_IPPROTO_TCP))
		return 0;
	flow_stamp(&k, &hp->exec, hp->tgid);
	return 0;
}

/* ---- TCP listen and accept ---- */
static __always_inline void listen_key_of(const struct ps_sock_key *k,
					  struct ps_listen_key *lk)
{
	lk->netns_ino = k->netns_ino;
	lk->proto = k->proto;
	lk->pad = 0;
	lk->port = k->local_port;
}

static __always_inline void listen_start(const struct sock *sk)
{
	struct ps_sock_caller o;
	struct ps_listen_key lk;
	struct ps_listener l = {};
	struct ps_sock_key k;

	if (!current_owner(&o) || !sock_key_of(sk, &k, PS_SOCK_IPPROTO_TCP))
		return;
	listen_key_of(&k, &lk);
	l.exec = o.exec;
	l.tgid = o.tgid;
	if (bpf_map_update_elem(&listeners, &lk, &l, BPF_ANY))
		drop_count(PS_DROP_SOCKS_FULL);
	if (sock_records & PS_REC_LISTEN)
		sock_emit(PS_EV_LISTEN, &k, &o.exec, o.tgid, NULL, 0, o.exe);
}

static __always_inline void listen_end(const struct sock *sk)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ps_listen_key lk;
	struct ps_listener *l;
	struct ps_sock_key k;

	if (!sock_key_of(sk, &k, PS_SOCK_IPPROTO_TCP))
		return;
	listen_key_of(&k, &lk);
	l = bpf_map_lookup_elem(&listeners, &lk);
	/* another process may listen on the port too (SO_REUSEPORT) */
	if (l && l->tgid == tgid)
		bpf_map_delete_elem(&listeners, &lk);
}

/* SYN_RECV -> ESTABLISHED, in softirq: the listener's process. */
static __always_inline void accept_done(const struct sock *sk)
{
	struct ps_listen_key lk;
	struct ps_listener *l;
	struct ps_sock_key k;

	if (!sock_key_of(sk, &k, PS_SOCK_IPPROTO_TCP))
		return;
	listen_key_of(&k, &lk);
	l = bpf_map_lookup_elem(&listeners, &lk);
	if (!l)
		return;
	sock_count(PS_SC_ACCEPT);
	if (!flow_stamp(&k, &l->exec, l->tgid))
		drop_count(PS_DROP_FLOW_UNNAMED);
	if (sock_records & PS_REC_ACCEPT)
		sock_emit(PS_EV_ACCEPT, &k, &l->exec, l->tgid, NULL,
			  PS_SOCK_ACCEPT, 0);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ps_sock_state, const struct sock *sk, const int oldstate,
	     const int newstate)
{
	if (sk->sk_protocol != PS_SOCK_IPPROTO_TCP)
		return 0;
	switch (newstate) {
	case PS_TCP_SYN_SENT:
		if (oldstate == PS_TCP_CLOSE)
			connect_begin(sk);
		break;
	case PS_TCP_ESTABLISHED:
		if (oldstate == PS_TCP_SYN_SENT)
			connect_done(sk, 0);
		else if (oldstate == PS_TCP_SYN_RECV)
			accept_done(sk);
		break;
	case PS_TCP_LISTEN:
		listen_start(sk);
		break;
	case PS_TCP_CLOSE:
		if (oldstate == PS_TCP_SYN_SENT)
			connect_done(sk, PS_SOCK_FAILED |
					 (sk->sk_err == PS_ECONNREFUSED ?
					  PS_SOCK_REFUSED : 0));
		else if (oldstate == PS_TCP_LISTEN)
			listen_end(sk);
		break;
	}
	return 0;
}

/* ---- UDP ---- */
static __always_inline void socks_put(const struct ps_sock_key *k,
				      const struct ps_exec_id *exec, __u32 tgid,
				      __u32 flags, __u64 now)
{
	struct ps_sock_owner o = {
		.exec = *exec,
		.tgid = tgid,
		.flags = flags,
		.seen = now,
	};

	if (bpf_map_update_elem(&socks, k, &o, BPF_ANY))
		drop_count(PS_DROP_SOCKS_FULL);
}

/* A datagram of a watched process to k's destination: a new entry (and
 * a notice, if detection must see it) the first time, else a refresh of
 * `seen` (at most once a second: the daemon ends UDP entries unused for
 * PS_SOCK_UDP_IDLE_NS). */
static __always_inline void udp_sent(struct ps_sock_key *k, __u32 flags)
{
	struct ps_sock_caller o;
	struct ps_sock_owner *cur;
	__u64 now;
	__u32 why;

	if (!current_owner(&o))
		return;
	k->netns_ino = o.netns_ino;
	now = bpf_ktime_get_boot_ns();
	cur = bpf_map_lookup_elem(&socks, k);
	if (cur && cur->exec.ktime == o.exec.ktime &&
	    cur->exec.pid == o.exec.pid) {
		if (now - cur->seen > PS_SEEN_STEP_NS)
			cur->seen = now;
		return;
	}
	flags |= PS_SOCK_CONNECT;
	socks_put(k, &o.exec, o.tgid, flags, now);
	sock_count(PS_SC_UDP);
	why = connect_notice(k, flags, o.marked, o.exe);
	if (why)
		sock_emit(PS_EV_CONNECT, k, &o.exec, o.tgid, NULL, why, o.exe);
}

/* sendto/sendmsg with an address: the kernel's copy of it; the source
 * port is bound already (inet_sendmsg autobinds before this hook). */
SEC("cgroup/sendmsg4")
int ps_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct ps_sock_key k = {};
	struct bpf_sock *sk = ctx->sk;

	if (!sk || ctx->type != PS_SOCK_DGRAM)
		return 1;
	k.family = PS_AF_INET;
	k.proto = PS_SOCK_IPPROTO_UDP;
	k.local_port = bpf_htons(sk->src_port);
	k.remote_port = (__be16)ctx->user_port;
	k.remote_addr.w[0] = ctx->user_ip4;
	udp_sent(&k, PS_SOCK_UDP_SENDTO);
	return 1;
}

SEC("cgroup/sendmsg6")
int ps_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct ps_sock_key k = {};
	struct bpf_sock *sk = ctx->sk;

	if (!sk || ctx->type != PS_SOCK_DGRAM)
		return 1;
	k.proto = PS_SOCK_IPPROTO_UDP;
	k.local_port = bpf_htons(sk->src_port);
	k.remote_port = (__be16)ctx->user_port;
	k.remote_addr.w[0] = ctx->user_ip6[0];
	k.remote_addr.w[1] = ctx->user_ip6[1];
	k.remote_addr.w[2] = ctx->user_ip6[2];
	k.remote_addr.w[3] = ctx->user_ip6[3];
	if (v4_mapped(k.remote_addr.w)) {
		k.family = PS_AF_INET;
		k.remote_addr.w[0] = k.remote_addr.w[3];
		k.remote_addr.w[1] = k.remote_addr.w[2] =
			k.remote_addr.w[3] = 0;
	} else {
		k.family = PS_AF_INET6;
	}
	udp_sent(&k, PS_SOCK_UDP_SENDTO);
	return 1;
}

/* bind() of a UDP socket: its process receives what comes to the port
 * from anyone (the TC programs look here when socks has no entry for a
 * UDP flow's tuple). A LISTEN event, as for TCP. */
static __always_inline int udp_bound(struct bpf_sock *sk, bool v6)
{
	struct ps_listener l = {};
	struct ps_sock_caller o;
	struct ps_listen_key lk;
	struct ps_sock_key k = {};

	if (sk->protocol != PS_SOCK_IPPROTO_UDP || !sk->src_port ||
	    !current_owner(&o))
		return 1;
	k.netns_ino = o.netns_ino;
	k.proto = PS_SOCK_IPPROTO_UDP;
	k.local_port = bpf_htons(sk->src_port);
	if (v6) {
		k.family = PS_AF_INET6;
		k.local_addr.w[0] = sk->src_ip6[0];
		k.local_addr.w[1] = sk->src_ip6[1];
		k.local_addr.w[2] = sk->src_ip6[2];
		k.local_addr.w[3] = sk->src_ip6[3];
	} else {
		k.family = PS_AF_INET;
		k.local_addr.w[0] = sk->src_ip4;
	}
	listen_key_of(&k, &lk);
	l.exec = o.exec;
	l.tgid = o.tgid;
	l.cookie = bpf_get_socket_cookie(sk);
	if (bpf_map_update_elem(&listeners, &lk, &l, BPF_ANY) ||
	    bpf_map_update_elem(&udp_binds, &l.cookie, &lk, BPF_ANY))
		drop_count(PS_DROP_SOCKS_FULL);
	if (sock_records & PS_REC_LISTEN)
		sock_emit(PS_EV_LISTEN, &k, &o.exec, o.tgid, NULL, 0, o.exe);
	return 1;
}

SEC("cgroup/post_bind4")
int ps_bind4(struct bpf_sock *sk)
{
	return udp_bound(sk, false);
}

SEC("cgroup/post_bind6")
int ps_bind6(struct bpf_sock *sk)
{
	return udp_bound(sk, true);
}

/* The last reference to a bound UDP socket is gone: its port has no
 * receiver any more, unless another socket bound it since (its cookie
 * is in the entry then). */
SEC("cgroup/sock_release")
int ps_sock_release(struct bpf_sock *sk)
{
	struct ps_listen_key *lk;
	struct ps_listener *l;
	__u64 cookie;

	if (sk->protocol != PS_SOCK_IPPROTO_UDP)
		return 1;
	cookie = bpf_get_socket_cookie(sk);
	lk = bpf_map_lookup_elem(&udp_binds, &cookie);
	if (!lk)
		return 1;
	l = bpf_map_lookup_elem(&listeners, lk);
	if (l && l->cookie == cookie)
		bpf_map_delete_elem(&listeners, lk);
	bpf_map_delete_elem(&udp_binds, &cookie);
	return 1;
}

/* Connected UDP: the cgroup sendmsg hooks do not run for it, and at
 * connect() the source port is not bound yet. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(ps_sock_send, struct sock *sk, int ret, int flags)
{
	struct ps_sock_key k;

	if (ret <= 0 || sk->sk_protocol != PS_SOCK_IPPROTO_UDP)
		return 0;
	if (!sk->__sk_common.skc_dport)
		return 0; /* with an address: cgroup/sendmsg saw it */
	if (!sock_key_of(sk, &k, PS_SOCK_IPPROTO_UDP))
		return 0;
	udp_sent(&k, 0);
	return 0;
}
