/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sockets in user space: the socket programs' events (connection
 * notices for detection, the opt-in connect, accept, listen and inherit
 * records), the sockets a later exec of their process reads (nc -e),
 * named on their flow's record, and the deletion of UDP entries of the
 * kernel's socks map that no datagram used for a while. Exited processes
 * are kept while their UDP sockets are.
 */
#ifndef PS_NODE_STATE_SOCKETS_H
#define PS_NODE_STATE_SOCKETS_H

#include <stddef.h>
#include <linux/types.h>

#include "podsentry.h"
#include "node/records/records.h"

struct sockets;

struct socket_stats {
	/* from the kernel's sock_counts */
	unsigned long long connects, connects_failed, accepts, udp;
	unsigned long long notices, quiet;
	/* here */
	unsigned long long listens, inherits, deleted_idle;
	unsigned long long open; /* UDP entries in the socks map, last sweep */
};

/* A record line to write (netns: its pod, 0 none). */
typedef void (*sock_line_fn)(void *arg, const char *line, size_t len,
			     __u32 netns);
/* A connection detection must see now (c->notice says why). */
typedef void (*sock_notice_fn)(void *arg, const struct conn_rec *c);
/* A TCP connect that failed: its flow may wait for it. */
typedef void (*sock_failed_fn)(void *arg, const struct ps_sock_event *e);

struct sockets_opts {
	struct record_ctx *rc;
	int socks_fd;	 /* the kernel's socks map */
	int counts_fd;	 /* sock_counts */
	__u32 records;	 /* enum ps_sock_records: records to write */
	sock_line_fn line;
	sock_notice_fn notice;
	sock_failed_fn failed;
	void *arg;
};

struct sockets *sockets_new(const struct sockets_opts *o);
void sockets_free(struct sockets *s);
/* A PS_EV_CONNECT/ACCEPT/LISTEN/INHERIT event; -EINVAL when malformed. */
int sockets_event(struct sockets *s, const void *data, size_t len);
/* Once a second: every 5 s the UDP entries' sweep. */
void sockets_tick(struct sockets *s, __u64 now);
/* The counters, with the kernel's read now. */
const struct socket_stats *sockets_stats(struct sockets *s);
/* The exec that reads the TCP socket at side `side` of flow k now, when
 * another exec of its process opened it; NULL otherwise. */
struct proc *sockets_holder(struct sockets *s, const struct ps_flow_key *k,
			    int side);

#endif
