/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The local API (--socket PATH, a UNIX stream socket, mode 0600): what
 * `podsentry` asks podsentryd. A client sends one JSON request line and
 * gets JSON lines back:
 *
 *   {"op":"observe","follow":true,"since":"5m","types":["flow","alert"],
 *    "namespace":"shop","pod":"web","process":"wget",
 *    "rule":"lateral-movement","severity":"high"}
 *      the records that match (filters run here, node/records/match.h):
 *      without follow, those of the ring of recent lines, then
 *      {"type":"end"}; with follow, from now on (after the ring's that
 *      match "since", when given), until the client goes.
 *   {"op":"status"}  {"op":"pods"}  {"op":"alerts"}
 *      one "status" line; one "pod" line per watched pod; one
 *      "open_alert" line per open alert (with its record); then "end".
 *   a bad request: {"type":"error","error":"why"}, and the end.
 *
 * It is a sink: every record line the export gets passes here. Writes
 * are non-blocking and every client has a bounded backlog: when it is
 * full, lines are dropped for that client alone and counted, and it is
 * told with a "lost" line (reason "api_client_backlog") once there is
 * room. So a client that stops reading never holds the daemon or the
 * other outputs back. The API's descriptors are behind one epoll
 * descriptor that sits in the daemon's loop, as the metrics' do.
 */
#ifndef PS_NODE_SINKS_API_H
#define PS_NODE_SINKS_API_H

#include <stddef.h>
#include <linux/types.h>

#define API_SOCKET_DEFAULT "/run/podsentry/podsentryd.sock"
#define API_MAX_CLIENTS 16
#define API_BACKLOG (1U << 20)	   /* bytes queued for one client */
#define API_RING_LINES 4096	   /* recent lines kept for replay */
#define API_RING_BYTES (2U << 20)

struct api;
struct record_ctx;
struct loader;
struct pods;
struct detect;
struct flow_table;
struct sockets;
struct exporter;
struct podlog;

/* Listen on path (before privileges are dropped): its folder is made
 * 0750 when missing, a stale socket (nobody answers) is replaced, the
 * socket is mode 0600. NULL with a one-line message on stderr. */
struct api *api_open(const char *path);
/* Closes every client and removes the socket. */
void api_free(struct api *a);

/* What status, pods and alerts read; every pointer may be NULL. */
struct api_src {
	struct record_ctx *rc;
	struct loader *loader;
	struct pods *pods;
	struct detect *detect;
	const struct flow_table *flows;
	const struct exporter *out;
	const struct podlog *podlog;
	const __u64 *drops; /* the drop counters, PS_DROP_MAX totals */
	const unsigned long long *unwritten;
};
void api_sources(struct api *a, const struct api_src *src);

/* The descriptor to poll (an epoll fd), -1 without the API. */
int api_fd(const struct api *a);
/* Serve what is ready: accept, read requests, write; no waiting. */
void api_run(struct api *a);
/* Once a second: requests that never came in time are closed. */
void api_tick(struct api *a);

/* A record line (no newline) on its way to the outputs; netns_a, b:
 * the pods it is about, as sinks_write has them. */
void api_record(struct api *a, const char *line, size_t len, __u32 netns_a,
		__u32 netns_b);
/* Write what the clients have queued (as far as they read). */
void api_flush(struct api *a);

#endif
