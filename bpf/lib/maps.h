/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pinned maps of the podsentry contract. Every object that includes
 * this header declares them with LIBBPF_PIN_BY_NAME, so the daemon, which
 * opens each object with pin_root_path set to its bpffs folder, ends up
 * with one instance of each map shared by all programs, podsentry-cni and
 * user space.
 */
#ifndef PS_BPF_MAPS_H
#define PS_BPF_MAPS_H

#include "podsentry.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_PODS);
	__type(key, __u32); /* netns inode */
	__type(value, struct ps_pod);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pods SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_PODS);
	__type(key, __u32); /* host veth ifindex */
	__type(value, struct ps_pod_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pod_ifindex SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_IFINDEX_LOW);
	__type(key, __u32); /* host veth ifindex */
	__type(value, struct ps_pod_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pod_ifindex_low SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_POD_IPS);
	__type(key, struct ps_ip_key);
	__type(value, __u32); /* slot */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pod_ip SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PS_POD_STATS_SLOTS);
	__type(key, __u32); /* slot */
	__type(value, struct ps_pod_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pod_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_PROCS);
	__type(key, __u32); /* tgid */
	__type(value, struct ps_proc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PS_RINGBUF_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PS_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_FLOWS);
	__type(key, struct ps_flow_key4);
	__type(value, struct ps_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_FLOWS6);
	__type(key, struct ps_flow_key);
	__type(value, struct ps_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_DENY);
	__type(key, struct ps_deny_key);
	__type(value, struct ps_deny);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} deny SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PS_PERR_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} parse_errors SEC(".maps");

/* flow-process correlation (sock.bpf.c writes, the TC programs read) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_SOCKS);
	__type(key, struct ps_sock_key);
	__type(value, struct ps_sock_owner);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_LISTENERS);
	__type(key, struct ps_listen_key);
	__type(value, struct ps_listener);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} listeners SEC(".maps");

/* detection state the daemon writes and the socket programs read */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_PEERS);
	__type(key, struct ps_peer_key);
	__type(value, struct ps_peer);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PS_MAX_MARKS);
	__type(key, __u32); /* tgid */
	__type(value, struct ps_mark);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} marks SEC(".maps");

/* per CPU: the connections of one process to one peer end on every
 * CPU, and one shared entry would bounce between their caches (~1.5 µs
 * a connection on 2 vCPUs); allocated as used, not max_entries x CPUs */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, PS_MAX_AGG);
	__type(key, struct ps_agg_key);
	__type(value, struct ps_agg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flow_agg SEC(".maps");

/* UDP sockets bound by watched processes: cookie -> their listeners key
 * (cgroup/sock_release cannot read a socket's port) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PS_MAX_LISTENERS);
	__type(key, __u64);
	__type(value, struct ps_listen_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} udp_binds SEC(".maps");

/*
 * A key is looked up right after it is written, and the hash reads it a
 * 32-bit word at a time: a word the store buffer holds as separate byte
 * and half-word stores cannot be forwarded to that read, which then waits
 * for the stores to reach the cache (~15 ns per lookup here). So the keys
 * of per-packet lookups are written as whole words, made by these two.
 */

/* The 16-bit value with these bytes, in memory order. */
static __always_inline __u16 map_key_half(__u8 first, __u8 second)
{
	union {
		__u8 b[2];
		__u16 h;
	} u = {.b = {first, second}};

	return u.h;
}

/* The 32-bit word with these 16-bit halves, in memory order. */
static __always_inline __u32 map_key_word(__u16 first, __u16 second)
{
	union {
		__u16 h[2];
		__u32 w;
	} u = {.h = {first, second}};

	return u.w;
}

static __always_inline void parse_error_count(enum ps_parse_error reason)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&parse_errors, &key);

	if (n)
		*n += 1;
}

/* The daemon is woken only once a batch is queued: a wakeup per event
 * would cost a context switch per exec or flow. The daemon also polls
 * every PS_RB_POLL_MS, so a lone record waits at most that long. The
 * flag for a record of `size` bytes, given `queued` bytes in the ring
 * with it: wake once, when this record makes the queue cross the mark. */
static __always_inline __u64 events_wakeup(__u64 queued, __u64 size)
{
	return queued >= PS_RB_WAKEUP_BYTES && queued - size < PS_RB_WAKEUP_BYTES
		       ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Submit a reserved ring-buffer record (already counted as queued). */
static __always_inline void events_submit(void *rec, __u64 size)
{
	bpf_ringbuf_submit(rec, events_wakeup(bpf_ringbuf_query(&events,
					BPF_RB_AVAIL_DATA), size));
}

/* Copy a record of variable size into the ring buffer; 0 or -errno. */
static __always_inline long events_output(void *rec, __u64 size)
{
	return bpf_ringbuf_output(&events, rec, size, events_wakeup(
		bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size, size));
}

static __always_inline void drop_count(enum ps_drop_reason reason)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&drops, &key);

	if (n)
		*n += 1;
}

/* A record of `size` bytes reserved in the ring buffer with its header
 * filled (type, this CPU, ktime); NULL when the ring buffer is full,
 * counted under `lost` (PS_DROP_MAX: not counted). Sent with
 * events_submit. */
static __always_inline void *events_reserve(__u64 size, __u32 type,
					    __u64 ktime,
					    enum ps_drop_reason lost)
{
	struct ps_event_hdr *h = bpf_ringbuf_reserve(&events, size, 0);

	if (!h) {
		if (lost < PS_DROP_MAX)
			drop_count(lost);
		return NULL;
	}
	h->type = type;
	h->cpu = bpf_get_smp_processor_id();
	h->ktime = ktime;
	return h;
}

#endif
