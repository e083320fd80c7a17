// SPDX-License-Identifier: GPL-2.0-only
/* The metrics endpoint's HTTP/1.1 server (http.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "node/sinks/http.h"

#define HTTP_LISTEN_ID HTTP_CONNS
/* after the last answer of a connection: what the peer still sends is
 * read and dropped before the close, so that the close sends no RST
 * that could take the answer with it (at most this much, this long) */
#define HTTP_DRAIN_MAX (256U << 10)
#define HTTP_DRAIN_S 2

struct conn {
	int fd; /* -1: a free slot */
	struct sockaddr_storage peer;
	char *in; /* HTTP_HEAD_MAX bytes */
	size_t in_len;
	char *out; /* the answer being written */
	size_t out_len, out_off;
	bool last;     /* the answer being written is the connection's last */
	bool draining; /* answered for the last time: input is dropped */
	bool eof;      /* the peer sends no more */
	size_t drained;
	time_t seen; /* the last progress, CLOCK_MONOTONIC s */
};

struct http {
	int ep, listen_fd;
	char name[128], path[64], type[96];
	http_render_fn fn;
	void *arg;
	bool accept_logged;
	struct conn c[HTTP_CONNS];
	struct http_counters n;
};

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void conn_close(struct http *h, struct conn *c)
{
	epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void conn_events(struct http *h, struct conn *c)
{
	struct epoll_event ev = {
		.events = c->out ? EPOLLOUT : EPOLLIN,
		.data.u32 = (uint32_t)(c - h->c),
	};

	epoll_ctl(h->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static bool same_peer(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return true;
}

/* A slot for a connection from peer: NULL when the server is full or
 * the peer has its share. */
static struct conn *conn_slot(struct http *h, const struct sockaddr_storage *peer)
{
	struct conn *free_slot = NULL;
	int i, same = 0;

	for (i = 0; i < HTTP_CONNS; i++) {
		if (h->c[i].fd < 0) {
			if (!free_slot)
				free_slot = &h->c[i];
		} else if (same_peer(&h->c[i].peer, peer)) {
			same++;
		}
	}
	return same < HTTP_PER_PEER ? free_slot : NULL;
}

static void accept_all(struct http *h)
{
	for (;;) {
		struct sockaddr_storage sa = {};
		socklen_t len = sizeof(sa);
		int fd = accept4(h->listen_fd, (struct sockaddr *)&sa, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev;
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				h->n.refused++;
				if (!h->accept_logged)
					fprintf(stderr, "podsentryd: metrics %s: accept: %s\n",
						h->name, strerror(errno));
				h->accept_logged = true;
			}
			return;
		}
		c = conn_slot(h, &sa);
		if (!c) {
			h->n.refused++;
			close(fd);
			continue;
		}
		c->in = malloc(HTTP_HEAD_MAX);
		ev = (struct epoll_event){ .events = EPOLLIN,
					   .data.u32 = (uint32_t)(c - h->c) };
		if (!c->in || epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &ev)) {
			h->n.refused++;
			free(c->in);
			c->in = NULL;
			close(fd);
			continue;
		}
		c->fd = fd;
		c->peer = sa;
		c->seen = mono_s();
	}
}

/* The answer to one request, in c->out; head_only: HEAD (the headers
 * of the body, not the body). */
static void answer(struct http *h, struct conn *c, int status,
		   const char *reason, const char *type, const char *body,
		   size_t len, bool head_only)
{
	char head[384];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "%s%s\r\n",
		     status, reason, type, len,
		     status == 405 ? "Allow: GET, HEAD\r\n" : "",
		     c->last ? "Connection: close\r\n" : "");
	if (head_only)
		len = 0;
	c->out = malloc((size_t)n + len);
	if (!c->out) {
		c->last = true; /* nothing to say: the connection ends */
		return;
	}
	memcpy(c->out, head, (size_t)n);
	memcpy(c->out + n, body, len);
	c->out_len = (size_t)n + len;
	c->out_off = 0;
	h->n.requests++;
}

static void answer_text(struct http *h, struct conn *c, int status,
			const char *reason, const char *text, bool head_only)
{
	answer(h, c, status, reason, "text/plain; charset=utf-8", text,
	       strlen(text), head_only);
}

/* The value of a header line "name: value" when its name is name. */
static const char *header_is(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) || line[k] != ':')
		return NULL;
	line += k + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* Whether a comma-separated header value lists token. */
static bool value_has(const char *v, const char *token)
{
	size_t k = strlen(token);

	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (!strncasecmp(v, token, k) &&
		    (!v[k] || v[k] == ',' || v[k] == ' ' || v[k] == '\t'))
			return true;
		while (*v && *v != ',')
			v++;
	}
	return false;
}

/* The length of the RFC 9110 token at s (tchar: letters, digits and
 * !#$%&'*+-.^_`|~). */
static size_t token_len(const char *s)
{
	size_t i = 0;

	while (s[i] && ((s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' &&
		(s[i] | 0x20) <= 'z') || strchr("!#$%&'*+-.^_`|~", s[i])))
		i++;
	return i;
}

/* Whether the n bytes at s are all visible ASCII (a request target). */
static bool visible(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int http_parse(char *s, size_t n, struct http_req *r)
{
	char *eol, *sp1, *sp2, *line;

	memset(r, 0, sizeof(*r));
	while (n >= 2 && s[0] == '\r' && s[1] == '\n') { /* RFC 9112 2.2 */
		s += 2;
		n -= 2;
	}
	eol = strstr(s, "\r\n");
	if (!eol)
		eol = s + strlen(s);
	*eol = 0;
	sp1 = strchr(s, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || sp1 == s || sp2 == sp1 + 1 ||
	    token_len(s) != (size_t)(sp1 - s) || !visible(sp1 + 1, sp2 - sp1 - 1) ||
	    (strcmp(sp2 + 1, "HTTP/1.1") && strcmp(sp2 + 1, "HTTP/1.0"))) {
		r->why = "not an HTTP/1.x request line";
		return -1;
	}
	r->keep = !strcmp(sp2 + 1, "HTTP/1.1");
	for (line = eol + 2; line < s + n && *line; line = eol + 2) {
		const char *v;

		eol = strstr(line, "\r\n");
		if (!eol)
			eol = line + strlen(line);
		*eol = 0;
		if (!token_len(line) || line[token_len(line)] != ':') {
			r->why = "a header line is not name: value";
			return -1;
		}
		if ((v = header_is(line, eol - line, "Connection"))) {
			if (value_has(v, "close"))
				r->keep = false;
			else if (value_has(v, "keep-alive"))
				r->keep = true;
		} else if (((v = header_is(line, eol - line, "Content-Length")) &&
			    strspn(v, "0") != strlen(v)) ||
			   header_is(line, eol - line, "Transfer-Encoding")) {
			r->body = true;
		}
	}
	*sp1 = 0;
	*sp2 = 0;
	r->method = s;
	r->target = sp1 + 1;
	r->path_len = strcspn(r->target, "?");
	return 0;
}

/* Answers the request whose head is the n bytes at s (NUL-terminated
 * where its blank line was). */
static void request(struct http *h, struct conn *c, char *s, size_t n)
{
	static const char not_found[] = "podsentryd: the metrics are at %s\n";
	struct http_req r;
	char msg[128];
	bool head;

	if (http_parse(s, n, &r)) {
		h->n.bad++;
		c->last = true;
		snprintf(msg, sizeof(msg), "podsentryd: %s\n", r.why);
		answer_text(h, c, 400, "Bad Request", msg, false);
		return;
	}
	/* a body is not read: the connection ends after the answer */
	c->last = !r.keep || r.body;
	head = !strcmp(r.method, "HEAD");
	if (strcmp(r.method, "GET") && !head) {
		c->last = true;
		answer_text(h, c, 405, "Method Not Allowed",
			    "podsentryd: /metrics takes GET or HEAD\n", false);
		return;
	}
	if (r.path_len != strlen(h->path) || strncmp(r.target, h->path, r.path_len)) {
		snprintf(msg, sizeof(msg), not_found, h->path);
		answer_text(h, c, 404, "Not Found", msg, head);
		return;
	}
	{
		size_t blen = 0;
		char *body = h->fn(h->arg, &blen);

		if (!body) {
			answer_text(h, c, 500, "Internal Server Error",
				    "podsentryd: out of memory\n", head);
			return;
		}
		answer(h, c, 200, "OK", h->type, body, blen, head);
		free(body);
	}
}

/* The next whole request of c->in answered and taken off; false when
 * its head is not whole yet. */
static bool next_request(struct http *h, struct conn *c)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	size_t n;

	if (!end) {
		if (c->in_len < HTTP_HEAD_MAX)
			return false;
		h->n.bad++;
		c->last = true;
		c->in_len = 0;
		answer_text(h, c, 431, "Request Header Fields Too Large",
			    "podsentryd: the request head is over 8 KiB\n", false);
		return true;
	}
	n = (size_t)(end - c->in) + 4;
	*end = 0;
	request(h, c, c->in, n - 4);
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	return true;
}

/* Writes what it can of c->out; false when c was closed. */
static bool write_out(struct http *h, struct conn *c)
{
	while (c->out && c->out_off < c->out_len) {
		ssize_t r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_events(h, c);
			return true;
		}
		if (r <= 0) {
			conn_close(h, c);
			return false;
		}
		c->out_off += (size_t)r;
		c->seen = mono_s();
	}
	free(c->out);
	c->out = NULL;
	if (c->last && !c->draining) {
		shutdown(c->fd, SHUT_WR);
		c->draining = true;
		c->seen = mono_s();
	}
	conn_events(h, c);
	return true;
}

/* Reads what the peer sent; false when c was closed. */
static bool read_in(struct http *h, struct conn *c)
{
	char drop[4096];

	for (;;) {
		char *to = c->draining ? drop : c->in + c->in_len;
		size_t room = c->draining ? sizeof(drop) : HTTP_HEAD_MAX - c->in_len;
		ssize_t r;

		if (!room)
			return true;
		r = read(c->fd, to, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (r < 0 || (r == 0 && c->draining) ||
		    (c->draining && (c->drained += (size_t)r) > HTTP_DRAIN_MAX)) {
			conn_close(h, c);
			return false;
		}
		if (r == 0) {
			c->eof = true;
			return true;
		}
		if (!c->draining) {
			c->in_len += (size_t)r;
			c->seen = mono_s();
		}
	}
}

static void conn_run(struct http *h, struct conn *c, uint32_t events)
{
	if (events & EPOLLERR) {
		conn_close(h, c);
		return;
	}
	if (c->out && !write_out(h, c))
		return;
	if (c->out || !read_in(h, c) || c->draining)
		return;
	/* answered one at a time, in order (pipelined requests wait in
	 * c->in while an answer is being written) */
	while (!c->out && !c->draining && next_request(h, c))
		if (!write_out(h, c))
			return;
	if (!c->out && !c->draining && c->eof)
		conn_close(h, c); /* a head the peer will not finish */
}

void http_run(struct http *h)
{
	struct epoll_event evs[HTTP_CONNS + 1];
	time_t now;
	int n, i;

	if (!h)
		return;
	n = epoll_wait(h->ep, evs, HTTP_CONNS + 1, 0);
	for (i = 0; i < n; i++) {
		uint32_t id = evs[i].data.u32;

		if (id == HTTP_LISTEN_ID)
			accept_all(h);
		else if (id < HTTP_CONNS && h->c[id].fd >= 0)
			conn_run(h, &h->c[id], evs[i].events);
	}
	now = mono_s();
	for (i = 0; i < HTTP_CONNS; i++) {
		struct conn *c = &h->c[i];

		if (c->fd >= 0 &&
		    now - c->seen >= (c->draining ? HTTP_DRAIN_S : HTTP_IDLE_S)) {
			/* an idle persistent connection ends as it should */
			if (!c->draining && (c->in_len || c->out))
				h->n.timeouts++;
			conn_close(h, c);
		}
	}
}

struct http *http_open(int listen_fd, const char *name, const char *path,
		       const char *content_type, http_render_fn fn, void *arg)
{
	struct http *h = calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = HTTP_LISTEN_ID };
	int i;

	if (!h) {
		close(listen_fd);
		return NULL;
	}
	h->listen_fd = listen_fd;
	h->fn = fn;
	h->arg = arg;
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->path, sizeof(h->path), "%s", path);
	snprintf(h->type, sizeof(h->type), "%s", content_type);
	for (i = 0; i < HTTP_CONNS; i++)
		h->c[i].fd = -1;
	h->ep = epoll_create1(EPOLL_CLOEXEC);
	if (h->ep < 0 || epoll_ctl(h->ep, EPOLL_CTL_ADD, listen_fd, &ev)) {
		http_free(h);
		return NULL;
	}
	return h;
}

int http_fd(const struct http *h)
{
	return h ? h->ep : -1;
}

const struct http_counters *http_counters(const struct http *h)
{
	static const struct http_counters none;

	return h ? &h->n : &none;
}

void http_free(struct http *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < HTTP_CONNS; i++)
		if (h->c[i].fd >= 0)
			conn_close(h, &h->c[i]);
	if (h->ep >= 0)
		close(h->ep);
	close(h->listen_fd);
	free(h);
}
