/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Prometheus endpoint (--metrics ADDR:PORT): GET /metrics in the text
 * exposition format (0.0.4). http.c serves it from the daemon's own
 * loop, with no thread: its epoll descriptor sits in the daemon's epoll
 * set, and metrics_run() is called when it is ready and once a second (for
 * timeouts). A scrape is rendered there and then from the live counters,
 * so nothing is shared across threads, no lock is needed, and the
 * seccomp allow-list needs no thread calls for it.
 *
 * Counters come from where they are kept: the records passing through
 * the sinks (per type; connections per pod; alerts per rule and
 * severity), the kernel's drop counters, the outputs' counters, the
 * flow and socket stages' stats, the pinned maps (entries, read at most
 * every METRICS_MAPS_NS), the ring buffer's positions, /proc/self, and
 * podsentry-cni's state files (attached and pending pods, read at most
 * every METRICS_STATE_NS). Label values are bounded: a pod past
 * max_pods named pods (a gone pod's place is taken first) is counted
 * under pod="_other", a record type or an alert rule past their tables
 * under "_other".
 */
#ifndef PS_NODE_SINKS_METRICS_H
#define PS_NODE_SINKS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/types.h>

struct metrics;
struct record_ctx;
struct loader;
struct flow_table;
struct sockets;
struct exporter;
struct podlog;

#define METRICS_PORT_DEFAULT 9464
#define METRICS_MAX_PODS_DEFAULT 512
#define METRICS_MAX_PODS_LIMIT 100000

/* "ADDR:PORT": an IPv4 address, or an IPv6 one in brackets ([::1]:9464),
 * and a port from 1 to 65535. 0, or -EINVAL with why[len] saying what
 * is wrong. */
int metrics_addr_parse(const char *s, struct sockaddr_storage *sa,
		       socklen_t *salen, char *why, size_t len);

/* Listen on the address (before privileges are dropped); NULL with a
 * one-line message on stderr naming the address and the cause. */
struct metrics *metrics_open(const char *addr, unsigned int max_pods);
void metrics_free(struct metrics *m);

/* Where the counters are read at a scrape; every pointer may be NULL. */
struct metrics_src {
	struct record_ctx *rc;
	struct loader *loader;	 /* pinned maps, the ring buffer */
	const struct flow_table *flows;
	struct sockets *sockets;
	const struct exporter *out;
	const struct podlog *podlog;
	const __u64 *drops;	 /* the drop counters, PS_DROP_MAX totals */
	const unsigned long long *unwritten; /* records not built */
	const char *state_dir;	 /* podsentry-cni's state files */
};

void metrics_sources(struct metrics *m, const struct metrics_src *src);

/* The descriptor to poll for input (an epoll fd), -1 without metrics. */
int metrics_fd(const struct metrics *m);
/* Serve what is ready (accept, read, answer, time out); no waiting. */
void metrics_run(struct metrics *m);

/* One record line on its way to the outputs (netns_a, netns_b: the pods
 * it is about, as sinks_write has them). */
void metrics_record(struct metrics *m, const char *line, size_t len,
		    __u32 netns_a, __u32 netns_b);

/* The exposition text now (malloc'd, *len bytes), NULL without memory. */
char *metrics_render(struct metrics *m, size_t *len);

#endif
