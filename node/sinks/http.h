/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The metrics endpoint's HTTP/1.1 server: one path, GET and HEAD, run
 * from the daemon's event loop with no thread (its epoll descriptor is
 * in the daemon's). What a scraper needs and nothing more: persistent
 * connections and pipelined requests (RFC 9112), Content-Length bodies,
 * no TLS, no request bodies (a request with one is answered and its
 * connection closed).
 *
 * Bounds: HTTP_CONNS connections, HTTP_PER_PEER from one address, a
 * request head of at most HTTP_HEAD_MAX bytes (431 beyond), and a
 * connection that makes no progress for HTTP_IDLE_S seconds is closed.
 * Each is counted (struct http_counters).
 */
#ifndef PS_NODE_HTTP_H
#define PS_NODE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_CONNS 16
#define HTTP_PER_PEER 8
#define HTTP_HEAD_MAX 8192
#define HTTP_IDLE_S 10

/* The body of the one path, malloc'd (the server frees it), its length
 * in *len; NULL when out of memory (500). */
typedef char *(*http_render_fn)(void *arg, size_t *len);

struct http_counters {
	unsigned long long requests, refused, timeouts, bad;
};

struct http;

/* A request's head, as http_parse reads it. */
struct http_req {
	const char *method, *target; /* in the head parsed */
	size_t path_len;	     /* of target, up to its '?' */
	bool keep;		     /* the connection may go on after it */
	bool body;		     /* a body follows (Content-Length, chunked) */
	const char *why;	     /* why the head is not HTTP/1.x */
};

/* The head of one request: the n bytes at s, NUL-terminated where its
 * blank line was (s[n] == 0); s is cut up in place. 0, or -1 with r->why
 * for a head that is not HTTP/1.x (400). */
int http_parse(char *s, size_t n, struct http_req *r);

/* Serves path from listen_fd (bound and listening, non-blocking: the
 * server owns it now); name is for the error lines. NULL when out of
 * memory (listen_fd is closed then). */
struct http *http_open(int listen_fd, const char *name, const char *path,
		       const char *content_type, http_render_fn fn, void *arg);
/* For the daemon's epoll: readable when there is work for http_run. */
int http_fd(const struct http *h);
/* Accepts, reads, answers and writes what can be done now; closes the
 * connections that were idle too long. */
void http_run(struct http *h);
const struct http_counters *http_counters(const struct http *h);
void http_free(struct http *h);

#endif
