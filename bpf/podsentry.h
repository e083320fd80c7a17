/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one ABI between podsentry's BPF programs, podsentry-cni and
 * podsentryd: limits, pinned map keys and values, ring-buffer events and
 * drop reasons. Included by BPF code (after vmlinux.h) and by user space
 * (after <linux/types.h>). Every struct has fixed-width members and an
 * explicit layout; user space asserts the sizes it relies on.
 */
#ifndef PODSENTRY_ABI_H
#define PODSENTRY_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h> /* user space; BPF code has vmlinux.h */
#endif

/* ---- limits (overridable so tests can shrink them) ---- */
#ifndef PS_MAX_PODS
#define PS_MAX_PODS 4096
#endif
#ifndef PS_MAX_POD_IPS
#define PS_MAX_POD_IPS (PS_MAX_PODS * 4)
#endif
#ifndef PS_MAX_PROCS
#define PS_MAX_PROCS 65536
#endif
#ifndef PS_RINGBUF_BYTES
#define PS_RINGBUF_BYTES (2U << 20)
#endif
#ifndef PS_MAX_FLOWS
#define PS_MAX_FLOWS 131072 /* flows4 LRU; user space may resize before load */
#endif
#ifndef PS_MAX_FLOWS6
#define PS_MAX_FLOWS6 65536 /* flows6 LRU */
#endif
#ifndef PS_MAX_CONNECTING
/* connects in progress followed (sock.bpf.c connecting); user space may
 * resize before load */
#define PS_MAX_CONNECTING 32768
#endif
#ifndef PS_MAX_DENY
#define PS_MAX_DENY 16384
#endif
/* flow.bpf.c rodata flow_update_ns: FLOW_UPDATE interval, 0 = none */
#define PS_FLOW_UPDATE_NS_DEFAULT (30ULL * 1000000000ULL)
#define PS_RB_WAKEUP_BYTES (64U << 10) /* wake the daemon per 64 KiB queued */
#define PS_RB_POLL_MS 100		/* and poll at least this often */
#define PS_BINARY_MAX 256 /* bytes of bprm->filename kept, NUL included */
#define PS_ARGS_MAX 512	  /* bytes of the argument vector kept */
#define PS_CWD_MAX 256	  /* bytes of cwd components kept */
#define PS_CWD_DEPTH 16	  /* path components walked for cwd */
#define PS_COMM_LEN 16

/* ---- pinned names (relative to the bpffs folder, default below) ---- */
#define PS_BPFFS_DEFAULT "/sys/fs/bpf/podsentry"
#define PS_STATE_DIR_DEFAULT "/run/podsentry"
#define PS_PIN_PODS "pods"
#define PS_PIN_POD_IFINDEX "pod_ifindex"
#define PS_PIN_POD_IFINDEX_LOW "pod_ifindex_low"
#define PS_PIN_POD_IP "pod_ip"
#define PS_PIN_POD_STATS "pod_stats"
#define PS_PIN_PROCS "procs"
#define PS_PIN_EVENTS "events"
#define PS_PIN_DROPS "drops"
#define PS_PIN_FLOWS4 "flows4"
#define PS_PIN_FLOWS6 "flows6"
#define PS_PIN_DENY "deny"
#define PS_PIN_PARSE_ERRORS "parse_errors"
#define PS_PIN_PROG_TC_INGRESS "prog_tc_ingress" /* from the pod */
#define PS_PIN_PROG_TC_EGRESS "prog_tc_egress"	 /* to the pod */
#define PS_PIN_PROG_XDP "prog_xdp"

/* TC filter identity on a host veth: podsentry owns this handle and
 * priority on clsact ingress and egress, so attach replaces and detach
 * removes exactly its own filter. */
#define PS_TC_HANDLE 0x5053 /* "PS" */
#define PS_TC_PRIORITY 0x5053

/* ---- pods: netns inode -> pod slot ---- */
enum ps_pod_flags {
	PS_POD_MONITOR = 1U << 0, /* report processes and flows */
	PS_POD_ENFORCE = 1U << 1, /* podsentry may deny or drop */
	PS_POD_XDP = 1U << 2,	  /* XDP program attached */
};

struct ps_pod {
	__u32 slot;  /* small integer naming the pod on this node */
	__u32 flags; /* enum ps_pod_flags */
};

/* pod_ifindex: host veth ifindex -> pod. pod_ifindex_low holds the same
 * for ifindex below PS_IFINDEX_LOW, as an array indexed by ifindex (an
 * inlined lookup, ~10 ns less a packet than the hash); an entry with
 * netns_ino 0 is no pod. The CNI plugin writes both and clears both;
 * the TC and XDP programs read the array for a low ifindex and the hash
 * for the rest (ifindex grows as veths come and go). */
struct ps_pod_iface {
	__u32 slot;
	__u32 netns_ino;
};

#define PS_IFINDEX_LOW 65536

/* pod_ip: pod address -> slot */
struct ps_ip_key {
	__u32 family; /* AF_INET or AF_INET6 */
	__u8 addr[16]; /* IPv4 in the first 4 bytes, rest zero */
};

/* pod_stats (per-CPU array indexed by slot -> counters), written by the
 * TC and XDP programs. "in"/"out" are relative to the pod. Slots start at
 * 1, so the array has one more element than there can be pods; slot 0 and
 * the slots of pods not registered hold zeros. An array element cannot be
 * deleted: podsentry-cni zeroes a slot's values on every CPU where it
 * frees the slot, and before a new pod takes a slot used before. A slot
 * beyond the array counts as PS_DROP_POD_STATS_FULL. */
#define PS_POD_STATS_SLOTS (PS_MAX_PODS + 1)

struct ps_pod_stats {
	__u64 packets_out;
	__u64 bytes_out;
	__u64 packets_in;
	__u64 bytes_in;
	__u64 xdp_packets;
	__u64 xdp_dropped;
};

/* ---- procs: tgid -> the exec it runs ----
 * An exec id is (ktime of the exec in boot-clock ns, tgid that exec'd).
 * A forked child that has not exec'd runs its parent's image, so it
 * carries the parent's exec id and PS_PROC_CLONE; its exec's parent is
 * the exec it came from. */
struct ps_exec_id {
	__u64 ktime;
	__u32 pid;
	__u32 pad;
};

enum ps_proc_flags {
	PS_PROC_CLONE = 1U << 0,    /* forked, not (yet) exec'd */
	PS_PROC_REPORTED = 1U << 1, /* its exec was sent to user space */
	PS_PROC_PROCFS = 1U << 2,   /* seeded from /proc by the daemon */
	PS_PROC_NEWNET = 1U << 3,   /* a clone made in a netns of its own */
	PS_PROC_NET = 1U << 4,	    /* this image used a socket the socket
				     * programs saw, here or in a fork of
				     * it (set once, by them) */
};

struct ps_proc {
	struct ps_exec_id exec;
	struct ps_exec_id parent;
	__u32 netns_ino;
	__u32 flags; /* enum ps_proc_flags */
	__u64 exe;   /* the executable: ps_exe_id of its inode, 0 unknown */
};

/* The identity of an executable file: its inode number and device, as
 * one word (what a peer is learned for: another binary is not known). */
static inline __u64 ps_exe_id(__u64 ino, __u32 dev)
{
	return ino ^ ((__u64)dev << 40);
}

/* ---- ring-buffer events ---- */
enum ps_event_type {
	PS_EV_EXEC = 1,
	PS_EV_EXIT = 2,
	/* 3 was a flow start: flows are reported at their end */
	PS_EV_FLOW_END = 4,    /* struct ps_flow_event, reason FIN or RST */
	PS_EV_FLOW_UPDATE = 5, /* struct ps_flow_event, reason PERIODIC */
	PS_EV_CONNECT = 6, /* struct ps_sock_event: TCP connect done/failed, UDP */
	PS_EV_ACCEPT = 7,  /* struct ps_sock_event: passive TCP established */
	PS_EV_LISTEN = 8,  /* struct ps_sock_event: TCP listen, UDP bind */
	PS_EV_INHERIT = 9, /* struct ps_sock_event: read by another exec */
	PS_EV_NET_USE = 10, /* struct ps_exit_event, exit_code 0: a fork of an
			     * image whose exec has ended used a socket */
};

enum ps_exec_flags {
	PS_EXEC_ARGS_TRUNC = 1U << 0,	/* argument vector longer than kept */
	PS_EXEC_BINARY_TRUNC = 1U << 1, /* filename longer than kept */
	PS_EXEC_CWD_TRUNC = 1U << 2,	/* cwd deeper or longer than kept */
	PS_EXEC_PARENT_UNKNOWN = 1U << 3, /* no procs entry for the parent */
	PS_EXEC_PARENT_OTHER_NETNS = 1U << 4, /* came from another netns:
					       * setns() since its fork, a
					       * clone into a new netns */
	PS_EXEC_STDIO_NET = 1U << 5,   /* stdin and stdout: a connected
					* network socket */
	PS_EXEC_PARENT_NET = 1U << 6,  /* the parent holds a connected network
					* socket (parent_sock) */
	PS_EXEC_MARKED = 1U << 7,      /* the tree was marked (marks map) */
	PS_EXEC_EXE_TRUNC = 1U << 8,   /* exe deeper or longer than kept */
	PS_EXEC_REPLACED_NET = 1U << 9, /* an exec without fork, and the image
					 * it replaced used a socket */
};

struct ps_event_hdr {
	__u32 type; /* enum ps_event_type */
	__u32 cpu;
	__u64 ktime; /* boot-clock ns */
};

/* An IPv4 or IPv6 address. */
union ps_addr {
	__u8 b[16];
	__be32 w[4]; /* IPv4 in w[0], the rest zero */
};

/* What a descriptor of a new image is, read from the task's file table
 * at exec (not from /proc later: the kernel's own copy, at the moment it
 * matters). */
enum ps_fd_kind {
	PS_FD_NONE = 0,	  /* not open */
	PS_FD_FILE = 1,	  /* a regular file */
	PS_FD_DIR = 2,
	PS_FD_PIPE = 3,	  /* a pipe or FIFO */
	PS_FD_SOCKET = 4,
	PS_FD_TTY = 5,	  /* a terminal: console, virtual or serial tty */
	PS_FD_PTY = 6,	  /* a pseudo-terminal (/dev/pts/N, /dev/ptmx) */
	PS_FD_CHAR = 7,	  /* another character device (/dev/null...) */
	PS_FD_OTHER = 8,  /* a block device, an anonymous inode (eventfd...) */
};

#define PS_FD_KIND_NAMES                                                       \
	{                                                                      \
		[PS_FD_NONE] = "none", [PS_FD_FILE] = "file",                  \
		[PS_FD_DIR] = "dir", [PS_FD_PIPE] = "pipe",                    \
		[PS_FD_SOCKET] = "socket", [PS_FD_TTY] = "tty",                \
		[PS_FD_PTY] = "pty", [PS_FD_CHAR] = "char",                    \
		[PS_FD_OTHER] = "other",                                       \
	}

struct ps_fd_fact {
	__u8 kind;	/* enum ps_fd_kind */
	__u8 fd;	/* the descriptor */
	__u8 family;	/* sockets: AF_UNIX 1, AF_INET 2, AF_INET6 10... */
	__u8 type;	/* sockets: SOCK_STREAM 1, SOCK_DGRAM 2 */
	__u8 proto;	/* sockets: IPPROTO_TCP, IPPROTO_UDP... */
	__u8 state;	/* sockets: the TCP state (1 established) */
	__be16 rport;	/* network sockets: the peer's port (0: none) */
	__be16 lport;
	__u16 pad;
	__u32 ino;	/* the inode: two descriptors of one socket or pipe */
	union ps_addr raddr; /* network sockets: the peer (IPv4 in w[0]) */
	union ps_addr laddr;
};

/* The parent's descriptors looked at for a network socket it holds (the
 * shell talks to it through a pty or pipe: pty.spawn, socat). */
#define PS_PARENT_FDS 16

struct ps_exec_event {
	struct ps_event_hdr hdr;
	struct ps_exec_id exec;
	struct ps_exec_id parent;
	__u32 tgid;
	__u32 ppid; /* real parent tgid */
	__u32 uid;
	__u32 gid;
	__u32 netns_ino;
	__u32 parent_netns_ino;
	__u64 cgroup_id;
	__u32 flags; /* enum ps_exec_flags */
	__u16 args_len; /* bytes used in args, NUL-separated */
	__u16 cwd_len;	/* bytes used in cwd: components leaf first */
	__u16 exe_len;	/* bytes used in exe: components leaf first */
	__u16 pad2;
	struct ps_fd_fact stdio[3];	/* fds 0, 1, 2 of the new image */
	struct ps_fd_fact parent_sock;	/* PS_EXEC_PARENT_NET: the parent's
					 * first connected network socket */
	char comm[PS_COMM_LEN];
	char binary[PS_BINARY_MAX];
	/* args_len bytes of arguments, then cwd_len bytes of cwd, then
	 * exe_len bytes of the path of the file the new image runs
	 * (bprm->file: for a script, its interpreter), walked like cwd. The
	 * record in the ring buffer ends there: it is PS_EXEC_EVENT_LEN(e)
	 * bytes long, not sizeof. */
	char args[PS_ARGS_MAX + 2 * PS_CWD_MAX];
};

#define PS_EXEC_EVENT_MIN __builtin_offsetof(struct ps_exec_event, args)
#define PS_EXEC_EVENT_LEN(e)                                                   \
	(PS_EXEC_EVENT_MIN + (e)->args_len + (e)->cwd_len + (e)->exe_len)

struct ps_exit_event {
	struct ps_event_hdr hdr;
	struct ps_exec_id exec;
	__u32 tgid;
	__u32 netns_ino;
	__u32 exit_code; /* task->exit_code: status << 8 | signal */
	__u32 flags;	 /* enum ps_exit_flags */
};

enum ps_exit_flags {
	/* the image used a socket (PS_PROC_NET): its flows may end after
	 * it and name it, the daemon keeps it for them; the others it may
	 * let go first */
	PS_EXIT_NET = 1U << 0,
};

/* ---- flows4, flows6: LRU hashes, flow key -> struct ps_flow ----
 * One entry per connection on the node, whichever pods' veths it
 * crosses. The key is canonical: side 0 is the end with the lower
 * (address, port) in memory order, so a packet finds its entry from its
 * own headers on any veth, and both ends of a connection between two pods
 * of the node share one entry. IPv4 flows are in flows4 under struct
 * ps_flow_key4 (16 bytes hashed per packet instead of 40), the others in
 * flows6 under struct ps_flow_key. Events carry struct ps_flow_key for
 * both.
 *
 * Each packet is counted once on the node: at TC ingress of the host
 * veth of the pod that sent it, or, when no pod of the node sent it (the
 * host, another node, the outside), at TC egress of the host veth of the
 * pod it goes to. A packet that TC egress sees coming from another pod's
 * host veth (skb->ingress_ifindex) was counted there and is skipped. XDP
 * counts the packets it drops (verdict DROP), which TC never sees. A
 * connection through a DNAT (a Kubernetes Service address) has other
 * tuples on either side of the translation: it is one flow per side. */
struct ps_flow_key {
	union ps_addr addr[2]; /* side 0, side 1 */
	__be16 port[2];	       /* TCP/UDP/SCTP ports; ICMP: see below */
	__u8 family;	       /* AF_INET (2) or AF_INET6 (10) */
	__u8 proto;	       /* IPPROTO_*: the last header of the IP chain */
	__u16 pad;	       /* zero */
};

struct ps_flow_key4 {
	__be32 addr[2];
	__be16 port[2];
	__u8 family; /* AF_INET */
	__u8 proto;
	__u16 pad;
};

/* The flows4 key of k: 1, or 0 when k is not IPv4 (a flows6 key). */
static inline int ps_flow_key4_of(const struct ps_flow_key *k,
				   struct ps_flow_key4 *k4)
{
	if (k->family != 2)
		return 0;
	k4->addr[0] = k->addr[0].w[0];
	k4->addr[1] = k->addr[1].w[0];
	k4->port[0] = k->port[0];
	k4->port[1] = k->port[1];
	k4->family = k->family;
	k4->proto = k->proto;
	k4->pad = 0;
	return 1;
}

/* Whether (a, pa) sorts before (b, pb): addresses compared as words in
 * memory order, then ports. Any fixed order does; this one is cheap. */
static inline int ps_flow_side_lower(const __be32 *a, __be16 pa,
				     const __be32 *b, __be16 pb, int words)
{
	int i;

	for (i = 0; i < words; i++)
		if (a[i] != b[i])
			return a[i] < b[i];
	return pa < pb;
}

/* ICMP and ICMPv6 have no ports: both port fields hold the echo
 * identifier of an echo request or reply, or type << 8 | code (as one
 * big-endian 16-bit value) of any other message. Other protocols without
 * ports have zero ports. Later IP fragments count in the flow of their
 * first fragment; without one they count as PS_PERR_FRAG_ORPHAN. TCP
 * flows end in the kernel (RST, or the ACK of the last FIN); every other
 * flow ends by the daemon's idle sweep of the tables. */

enum ps_flow_state {
	PS_FLOW_NEW = 1,	 /* TCP: no SYN/ACK yet; other: one way only */
	PS_FLOW_ESTABLISHED = 2, /* TCP: SYN both ways, or picked up midway */
	PS_FLOW_CLOSING = 3,	 /* TCP: FIN one way */
	PS_FLOW_FIN_BOTH = 4,	 /* TCP: FIN both ways, not both acked */
	PS_FLOW_CLOSED = 5,	 /* TCP: each FIN acknowledged, or RST */
};

enum ps_flow_verdict {
	PS_VERDICT_PASS = 0,
	PS_VERDICT_DROP = 1,
};

/* TCP flag bits as in byte 13 of the TCP header */
#define PS_TCP_FIN 0x01
#define PS_TCP_SYN 0x02
#define PS_TCP_RST 0x04
#define PS_TCP_PSH 0x08
#define PS_TCP_ACK 0x10
#define PS_TCP_URG 0x20
#define PS_TCP_ECE 0x40
#define PS_TCP_CWR 0x80

/* What one end of a flow sent, and who it is. `slot` is the pod of this
 * node at that end (0: none, or not known yet); `exec`/`tgid` the process
 * whose socket it is, stamped by the socket programs when a TCP
 * connection is established (both ends), and by the TC programs from the
 * socks and listeners maps for UDP (zero until known). */
struct ps_flow_end {
	__u64 packets; /* GSO packets count as their segments */
	__u64 bytes;   /* IP packet length, headers included */
	struct ps_exec_id exec;
	__u32 tgid;
	__u16 slot;
	__u8 tcp_flags; /* OR of the flags this end sent */
	__u8 pad;
};

enum ps_flow_flags {
	PS_FLOWF_UPDATED = 1U << 0,  /* a FLOW_UPDATE was sent: a long flow */
	PS_FLOWF_END_LOST = 1U << 1, /* closed, its END event did not fit the
				      * ring buffer: the daemon's sweep
				      * reports it */
};

/* Times are boot-clock ns. first_seen is precise (and tells connections
 * on one tuple apart); the per-packet clock is the coarse one, so
 * last_seen and last_report have tick resolution (1/CONFIG_HZ: 4 ms at
 * HZ=250), except the precise time of the packet that ends a TCP flow. */
struct ps_flow {
	/* what every packet reads or writes first, together */
	__u64 last_seen;
	__u64 last_report; /* start, or the last FLOW_UPDATE */
	__u64 state;	/* enum ps_flow_state; 64 bits: changed by cmpxchg */
	union {
		struct {
			__u8 opener;  /* 1 + the side that opened it; 0:
				       * unknown (TCP picked up without its
				       * SYN) */
			__u8 verdict; /* enum ps_flow_verdict of the last
				       * packet */
			__u8 flags;   /* enum ps_flow_flags */
			__u8 fin_acked; /* TCP: 1 << side for each side
					 * whose FIN the other acknowledged */
			__u32 pad;
		};
		/* the above as one word: fin_acked changes by cmpxchg of
		 * it, so of two CPUs acknowledging the two FINs at once
		 * exactly one sees both */
		__u64 meta;
	};
	__u64 first_seen;
	struct ps_flow_end end[2]; /* side 0, side 1 of the key */
	__u32 fin_ack[2]; /* TCP: the acknowledgement number that acks
			   * each side's FIN (its sequence number + 1) */
};

enum ps_flow_reason {
	PS_FLOW_R_PERIODIC = 1, /* FLOW_UPDATE: flow_update_ns elapsed */
	PS_FLOW_R_FIN = 2,	/* FLOW_END: FIN both ways and the last ACK */
	PS_FLOW_R_RST = 3,	/* FLOW_END: RST */
	PS_FLOW_R_EVICTED = 4,	/* user space: left the table without an end */
	PS_FLOW_R_IDLE = 5,	/* user space: idle timeout of the sweep */
};

#define PS_FLOW_REASON_NAMES                                                   \
	{                                                                      \
		[0] = "unknown", [PS_FLOW_R_PERIODIC] = "periodic",            \
		[PS_FLOW_R_FIN] = "fin", [PS_FLOW_R_RST] = "rst",              \
		[PS_FLOW_R_EVICTED] = "evicted", [PS_FLOW_R_IDLE] = "idle",    \
	}

/* PS_EV_FLOW_END, PS_EV_FLOW_UPDATE: the entry as it was after the
 * packet that caused the event. */
struct ps_flow_event {
	struct ps_event_hdr hdr;
	struct ps_flow_key key;
	__u32 reason; /* enum ps_flow_reason */
	__u32 pad;
	struct ps_flow flow;
};

/* ---- flow_agg: hash, struct ps_agg_key -> struct ps_agg ----
 * With --flow-aggregate, a TCP connection that ends before its first
 * FLOW_UPDATE is folded here instead of being sent: one entry per (pod,
 * process exec, peer address, destination port, protocol, direction),
 * seen from the pod's side. The daemon reads and deletes the table every
 * aggregation interval. A connection that does not fit (table full, or
 * its pod's process not known) is sent as an END event as usual. */
#ifndef PS_MAX_AGG
#define PS_MAX_AGG 16384
#endif

enum ps_agg_dir {
	PS_AGG_EGRESS = 1,  /* the pod opened the connections */
	PS_AGG_INGRESS = 2, /* the peer opened them */
};

struct ps_agg_key {
	struct ps_exec_id exec; /* the pod's process */
	union ps_addr peer;
	__u16 slot;	 /* the pod */
	__be16 port;	 /* destination port */
	__u8 family;
	__u8 proto;
	__u8 dir;	 /* enum ps_agg_dir */
	__u8 pad;
};

struct ps_agg {
	__u64 connections; /* folded */
	__u64 started;	   /* of them, started since flow.bpf.c's agg_since */
	__u64 completed;   /* ended by FIN */
	__u64 reset;	   /* ended by RST */
	__u64 first;	   /* boot ns: first start */
	__u64 last;	   /* boot ns: last end */
	__u64 packets[2];  /* [0] sent by the pod, [1] by the peer */
	__u64 bytes[2];
	struct ps_exec_id peer_exec; /* the peer's process, last one seen */
	__u32 peer_tgid;
	__u32 tgid;	/* the pod's process, last one seen */
	__u16 peer_slot; /* the peer's pod, 0: none */
	__u8 tcp_flags[2];
	__u8 pad[4];
};

/* ---- deny: hash, struct ps_deny_key -> struct ps_deny ----
 * Looked up by the XDP program for what a pod sends (XDP on the host veth
 * sees the pod's transmit side): the destination is the peer. A key with
 * port 0 covers every port of that address and protocol. */
struct ps_deny_key {
	__u32 slot;
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 proto;  /* IPPROTO_* */
	__be16 port; /* destination port, 0 = any */
	union ps_addr addr; /* destination address */
};

enum ps_deny_action {
	PS_DENY_NONE = 0, /* entry present but inactive */
	PS_DENY_DROP = 1,
};

struct ps_deny {
	__u32 action; /* enum ps_deny_action */
	__u32 pad;
};

_Static_assert(sizeof(struct ps_fd_fact) == 48, "ps_fd_fact layout");
_Static_assert(sizeof(struct ps_flow_key) == 40, "ps_flow_key layout");
_Static_assert(sizeof(struct ps_flow_key4) == 16, "ps_flow_key4 layout");
_Static_assert(sizeof(struct ps_flow_end) == 40, "ps_flow_end layout");
_Static_assert(sizeof(struct ps_flow) == 128, "ps_flow layout");
_Static_assert(sizeof(struct ps_flow_event) == 192, "ps_flow_event layout");
_Static_assert(sizeof(struct ps_agg_key) == 40, "ps_agg_key layout");
_Static_assert(sizeof(struct ps_agg) == 112, "ps_agg layout");
_Static_assert(sizeof(struct ps_deny_key) == 24, "ps_deny_key layout");

/* ---- parse_errors: per-CPU array of counters, indexed by reason ----
 * A packet of a watched pod that could not be parsed far enough to find
 * its flow; it is counted here and passed unchanged. */
enum ps_parse_error {
	PS_PERR_NONE = 0,	  /* never counted */
	PS_PERR_ETH_TRUNC = 1,	  /* shorter than an Ethernet header */
	PS_PERR_VLAN_TRUNC = 2,	  /* VLAN tag cut short */
	PS_PERR_VLAN_DEPTH = 3,	  /* more VLAN tags than PS_MAX_VLAN */
	PS_PERR_IPV4_TRUNC = 4,	  /* shorter than the fixed IPv4 header */
	PS_PERR_IPV4_VERSION = 5, /* version field is not 4 */
	PS_PERR_IPV4_IHL = 6,	  /* IHL below 5 */
	PS_PERR_IPV4_OPT_TRUNC = 7, /* options cut short */
	PS_PERR_IPV4_LEN = 8,	  /* total length below the header length */
	PS_PERR_IPV6_TRUNC = 9,	  /* shorter than the fixed IPv6 header */
	PS_PERR_IPV6_VERSION = 10, /* version field is not 6 */
	PS_PERR_IPV6_EXT_TRUNC = 11, /* extension header cut short */
	PS_PERR_IPV6_EXT_DEPTH = 12, /* more than PS_MAX_IPV6_EXT headers,
				      * or 2 KiB of them */
	PS_PERR_TCP_TRUNC = 13,
	PS_PERR_TCP_DOFF = 14, /* TCP data offset below 5 */
	PS_PERR_UDP_TRUNC = 15,
	PS_PERR_ICMP_TRUNC = 16,
	PS_PERR_ICMPV6_TRUNC = 17,
	PS_PERR_SCTP_TRUNC = 18,
	PS_PERR_FRAG_ORPHAN = 19, /* later IP fragment, first one not seen */
	PS_PERR_MAX,
};

#define PS_PARSE_ERROR_NAMES                                                   \
	{                                                                      \
		[PS_PERR_NONE] = "none",                                       \
		[PS_PERR_ETH_TRUNC] = "eth_truncated",                         \
		[PS_PERR_VLAN_TRUNC] = "vlan_truncated",                       \
		[PS_PERR_VLAN_DEPTH] = "vlan_too_deep",                        \
		[PS_PERR_IPV4_TRUNC] = "ipv4_truncated",                       \
		[PS_PERR_IPV4_VERSION] = "ipv4_bad_version",                   \
		[PS_PERR_IPV4_IHL] = "ipv4_bad_ihl",                           \
		[PS_PERR_IPV4_OPT_TRUNC] = "ipv4_options_truncated",           \
		[PS_PERR_IPV4_LEN] = "ipv4_bad_total_length",                  \
		[PS_PERR_IPV6_TRUNC] = "ipv6_truncated",                       \
		[PS_PERR_IPV6_VERSION] = "ipv6_bad_version",                   \
		[PS_PERR_IPV6_EXT_TRUNC] = "ipv6_exthdr_truncated",            \
		[PS_PERR_IPV6_EXT_DEPTH] = "ipv6_exthdr_too_deep",             \
		[PS_PERR_TCP_TRUNC] = "tcp_truncated",                         \
		[PS_PERR_TCP_DOFF] = "tcp_bad_data_offset",                    \
		[PS_PERR_UDP_TRUNC] = "udp_truncated",                         \
		[PS_PERR_ICMP_TRUNC] = "icmp_truncated",                       \
		[PS_PERR_ICMPV6_TRUNC] = "icmpv6_truncated",                   \
		[PS_PERR_SCTP_TRUNC] = "sctp_truncated",                       \
		[PS_PERR_FRAG_ORPHAN] = "fragment_without_first",              \
	}

/* ---- drops: per-CPU array of counters, indexed by reason ---- */
enum ps_drop_reason {
	PS_DROP_RB_EXEC = 0,	  /* ring buffer full: exec event lost */
	PS_DROP_RB_EXIT = 1,	  /* ring buffer full: exit (or net use) lost */
	PS_DROP_PROCS_FULL = 2,	  /* procs map update failed */
	PS_DROP_READ_FAIL = 3,	  /* a kernel read failed (args, binary) */
	PS_DROP_POD_STATS_FULL = 4, /* slot beyond the pod_stats array */
	PS_DROP_RB_FLOW = 5,	  /* ring buffer full: flow event lost */
	PS_DROP_FLOWS_FULL = 6,	  /* flows insert failed: packet not in a flow */
	PS_DROP_FLOW_EVICTED = 7, /* a flow insert made the LRU evict a flow */
	PS_DROP_RB_SOCK = 8,	  /* ring buffer full: socket event lost */
	PS_DROP_SOCKS_FULL = 9,	  /* socks/listeners update failed */
	PS_DROP_SOCK_NO_PROC = 10, /* socket of a process procs does not know */
	PS_DROP_CONNECTS_FULL = 11, /* connecting table full: the connect is
				     * not named */
	PS_DROP_MARKS_FULL = 12,   /* a marked tree's child could not be marked */
	PS_DROP_AGG_FULL = 13,	   /* flow_agg full: connection sent alone */
	PS_DROP_FLOW_UNNAMED = 14, /* an established TCP socket found no flow
				    * entry to name (its flow was not seen or
				    * was evicted) */
	PS_DROP_MAX,
};

#define PS_DROP_REASON_NAMES                                                   \
	{                                                                      \
		[PS_DROP_RB_EXEC] = "ringbuf_exec",                            \
		[PS_DROP_RB_EXIT] = "ringbuf_exit",                            \
		[PS_DROP_PROCS_FULL] = "procs_full",                           \
		[PS_DROP_READ_FAIL] = "kernel_read",                           \
		[PS_DROP_POD_STATS_FULL] = "pod_stats_full",                   \
		[PS_DROP_RB_FLOW] = "ringbuf_flow",                            \
		[PS_DROP_FLOWS_FULL] = "flows_full",                           \
		[PS_DROP_FLOW_EVICTED] = "flow_evicted",                       \
		[PS_DROP_RB_SOCK] = "ringbuf_sock",                            \
		[PS_DROP_SOCKS_FULL] = "socks_full",                           \
		[PS_DROP_SOCK_NO_PROC] = "sock_without_process",               \
		[PS_DROP_CONNECTS_FULL] = "connects_full",                     \
		[PS_DROP_MARKS_FULL] = "marks_full",                           \
		[PS_DROP_AGG_FULL] = "flow_agg_full",                          \
		[PS_DROP_FLOW_UNNAMED] = "flow_not_found",                     \
	}

/* ---- sockets (sock.bpf.c) ----
 * A TCP socket of a watched process names its flow when the connection
 * is established: the socket program stamps the exec of the connecting
 * process (kept by socket cookie from connect()) or of the
 * listening one (listeners map) into its end of the flow entry.
 * UDP has no establishment: socks, an LRU hash struct ps_sock_key ->
 * struct ps_sock_owner, holds the exec that sent to a destination
 * (written by cgroup/sendmsg and sock_send_length), and the TC programs
 * look it up when a UDP flow starts; a UDP port bound by a watched
 * process is in listeners, for the flows of datagrams from peers it
 * never sent to. The socks key is the flow seen from the process, with
 * its netns inode: the local address is zero (an unbound socket's source
 * is chosen after the hooks run). The daemon deletes UDP entries unused
 * for PS_SOCK_UDP_IDLE_NS. */
#ifndef PS_MAX_SOCKS
#define PS_MAX_SOCKS 65536
#endif
#ifndef PS_MAX_LISTENERS
#define PS_MAX_LISTENERS 8192
#endif
#define PS_SOCK_UDP_IDLE_NS (120ULL * 1000000000ULL) /* UDP entry unused */
#define PS_PIN_SOCKS "socks"
#define PS_PIN_LISTENERS "listeners"
#define PS_PIN_UDP_BINDS "udp_binds"
#define PS_PIN_PEERS "peers"
#define PS_PIN_MARKS "marks"
#define PS_PIN_FLOW_AGG "flow_agg"

struct ps_sock_key {
	__u32 netns_ino;   /* the process's (pod's) netns */
	__u8 family;	   /* AF_INET or AF_INET6 (v4-mapped v6 is AF_INET) */
	__u8 proto;	   /* IPPROTO_TCP or IPPROTO_UDP */
	__be16 local_port; /* the process's side */
	__be16 remote_port;
	__u16 pad;	   /* zero */
	union ps_addr local_addr; /* zero for UDP */
	union ps_addr remote_addr;
};

enum ps_sock_flags {
	PS_SOCK_CONNECT = 1U << 0, /* the owner connected (or sent, UDP) */
	PS_SOCK_ACCEPT = 1U << 1,  /* the owner listens: passive open */
	PS_SOCK_FAILED = 1U << 2,  /* TCP connect that never got established */
	PS_SOCK_UDP_SENDTO = 1U << 3, /* UDP datagram with an address */
	PS_SOCK_INHERITED = 1U << 4, /* another exec of the process holds it */
	/* why a CONNECT event was sent (a notice for detection), besides
	 * PS_SOCK_FAILED: */
	PS_SOCK_NEW_PEER = 1U << 5, /* not in the pod's peers map */
	PS_SOCK_MARKED = 1U << 6,   /* made by a marked process tree */
	PS_SOCK_RECORD = 1U << 7,   /* connect records are on (--records) */
	PS_SOCK_REFUSED = 1U << 8,  /* FAILED by an RST answer (ECONNREFUSED),
				     * not by a timeout or a close */
};

#define PS_SOCK_NOTICE (PS_SOCK_FAILED | PS_SOCK_NEW_PEER | PS_SOCK_MARKED)

struct ps_sock_owner {
	struct ps_exec_id exec; /* the sending exec */
	__u32 tgid;
	__u32 flags;	 /* enum ps_sock_flags */
	__u64 seen;	 /* boot ns: written, or last send (1 s steps) */
	__u64 pad;
};

/* The socks key of the end `side` of flow k, the end of the pod in
 * netns: 0 when the protocol has no socks entries (only UDP has). */
static inline int ps_sock_key_of_flow(const struct ps_flow_key *k, int side,
				      __u32 netns, struct ps_sock_key *sk)
{
	if (k->proto != 17)
		return 0;
	sk->netns_ino = netns;
	sk->family = k->family;
	sk->proto = k->proto;
	sk->local_port = k->port[side];
	sk->remote_port = k->port[!side];
	sk->pad = 0;
	__builtin_memset(&sk->local_addr, 0, sizeof(sk->local_addr));
	sk->remote_addr = k->addr[!side];
	return 1;
}

/* listeners: hash, (netns, proto, port) -> the listening process */
struct ps_listen_key {
	__u32 netns_ino;
	__u8 proto;
	__u8 pad;
	__be16 port;
};

struct ps_listener {
	struct ps_exec_id exec;
	__u32 tgid;
	__u32 pad;
	__u64 cookie; /* UDP: the bound socket's cookie; TCP: 0 */
};

/* PS_EV_CONNECT, PS_EV_ACCEPT, PS_EV_LISTEN, PS_EV_INHERIT. `key` is
 * seen from the process (local = its side; LISTEN: the listening address,
 * remote zero). INHERIT: `exec` opened the socket, `holder` is the exec
 * of the same process that reads it now (after execve, e.g. nc -e).
 * CONNECT is sent when connect records are on, and always as a notice
 * (flags & PS_SOCK_NOTICE) for a connection detection must see now. */
struct ps_sock_event {
	struct ps_event_hdr hdr;
	struct ps_sock_key key;
	__u32 tgid;
	struct ps_exec_id exec;
	struct ps_exec_id holder; /* INHERIT only, else zero */
	__u32 flags;		  /* enum ps_sock_flags */
	__u32 pad;
	__u64 exe;		  /* CONNECT: the caller's executable */
};

/* ---- peers: LRU hash, struct ps_peer_key -> struct ps_peer ----
 * What a pod is known to talk to, written by the daemon: the baseline
 * it learned (LEARNED), and destinations it reported lately (QUIET until
 * `until`). A connection to a known peer costs no event; any other is a
 * notice. Keyed by the pod's netns, as the socket programs see it, and
 * by the binary that connects: another binary talking to a learned peer
 * is news (for a sensitive service it is an alert). */
#ifndef PS_MAX_PEERS
#define PS_MAX_PEERS 65536
#endif

struct ps_peer_key {
	__u32 netns_ino;
	__u8 family;
	__u8 proto;
	__be16 port; /* destination port */
	union ps_addr addr;
	__u64 exe;   /* the binary that connects (ps_exe_id) */
};

enum ps_peer_flags {
	PS_PEER_LEARNED = 1U << 0, /* in the pod's baseline */
	PS_PEER_QUIET = 1U << 1,   /* reported: no notice until `until` */
};

struct ps_peer {
	__u32 flags; /* enum ps_peer_flags */
	__u32 pad;
	__u64 until; /* boot ns, PS_PEER_QUIET */
};

/* ---- marks: hash, tgid -> struct ps_mark ----
 * Process trees detection follows in real time: every connection of a
 * marked process is a notice. Marks are set by the exec program (stdio
 * on a network socket) and by the daemon (a foothold found in user
 * space), inherited by every child at fork in the kernel (a tree cannot
 * outrun the daemon by forking) and removed at exit. A hash, not an LRU:
 * a fork storm must not evict marks; a full map is counted. */
#ifndef PS_MAX_MARKS
#define PS_MAX_MARKS 16384
#endif

enum ps_mark_flags {
	PS_MARK_STDIO = 1U << 0,    /* an exec with stdio on a network socket */
	PS_MARK_FOOTHOLD = 1U << 1, /* the daemon found a foothold */
};

struct ps_mark {
	struct ps_exec_id root; /* the exec that was marked first */
	__u32 flags;		/* enum ps_mark_flags */
	__u32 pad;
};

/* Socket records the daemon asked for (--records), sock.bpf.c rodata
 * `sock_records`: their events are sent; notices always are. */
enum ps_sock_records {
	PS_REC_CONNECT = 1U << 0,
	PS_REC_ACCEPT = 1U << 1,
	PS_REC_LISTEN = 1U << 2,
	PS_REC_INHERIT = 1U << 3,
};

/* sock_counts (sock.bpf.c, per-CPU array): what the socket programs saw,
 * for the daemon's stats record; a notice not sent is QUIET. */
enum ps_sock_count {
	PS_SC_CONNECT = 0,	  /* TCP connects established */
	PS_SC_CONNECT_FAILED = 1, /* TCP connects that failed */
	PS_SC_ACCEPT = 2,	  /* TCP connections accepted */
	PS_SC_UDP = 3,		  /* UDP destinations of an exec */
	PS_SC_NOTICE = 4,	  /* connections sent to detection */
	PS_SC_QUIET = 5,	  /* connections to known peers: nothing sent */
	PS_SC_MAX,
};

_Static_assert(sizeof(struct ps_sock_key) == 44, "ps_sock_key layout");
_Static_assert(sizeof(struct ps_sock_owner) == 40, "ps_sock_owner layout");
_Static_assert(sizeof(struct ps_sock_event) == 112, "ps_sock_event layout");
_Static_assert(sizeof(struct ps_peer_key) == 32, "ps_peer_key layout");
_Static_assert(sizeof(struct ps_mark) == 24, "ps_mark layout");

/* ---- runtime configuration of process.bpf.c (rodata) ---- */
enum ps_scope {
	PS_SCOPE_PODS = 0, /* only netns in the pods map */
	PS_SCOPE_ALL = 1,  /* every process on the host */
};

#endif /* PODSENTRY_ABI_H */
