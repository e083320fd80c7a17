// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>

#include "podsentry.h"
#include "version.h" /* build/: PS_VERSION, PS_GIT_COMMIT, PS_BPF_BUILD_ID */
#include "cni/shared/util.h"
#include "node/detect/detect.h"
#include "node/kern/loader.h"
#include "node/records/jw.h"
#include "node/records/match.h"
#include "node/records/records.h"
#include "node/sinks/api.h"
#include "node/sinks/export.h"
#include "node/sinks/podlog.h"
#include "node/state/flows.h"
#include "node/state/pods.h"

#define API_REQUEST_MAX 8192
#define API_REQUEST_NS (10ULL * 1000000000ULL) /* to send the request */
#define API_POD_COUNTS 4096 /* pods whose flows and alerts are counted */
#define API_LISTEN_ID UINT32_MAX

enum client_state {
	C_FREE,
	C_REQUEST, /* reading the request line */
	C_REPLAY,  /* sending ring lines from cursor on */
	C_LIVE,	   /* following: each new line as it comes */
	C_DONE,	   /* the answer is queued: closed once it is written */
};

struct client {
	int fd;
	enum client_state state;
	char req[API_REQUEST_MAX];
	size_t reqlen;
	__u64 connected_ns;
	struct rec_filter filter;
	bool any;    /* the filter matches every record */
	bool follow;
	bool reading; /* EPOLLIN wanted (not after the client's EOF) */
	bool waiting; /* the socket was full: EPOLLOUT wanted */
	__u64 cursor, end; /* replay: the next ring line, where it stops */
	char *out;	   /* backlog: bytes [off, len) */
	size_t off, len, cap;
	unsigned long long lost, lost_total;
};

struct ring_line {
	char *buf;
	size_t len;
};

struct pod_count {
	__u32 netns; /* 0: free */
	unsigned long long flows, alerts;
};

struct api {
	char *path;
	ino_t ino; /* of the socket made, removed at the end if still it */
	int listen_fd, ep;
	struct api_src src;
	struct client c[API_MAX_CLIENTS];
	/* the ring of recent lines: seq tail .. head-1, their bytes one
	 * after the other in ring_buf (from the oldest's, wrapping at its
	 * end), the next at ring_pos */
	struct ring_line ring[API_RING_LINES];
	__u64 head, tail;
	size_t ring_bytes, ring_pos;
	char *ring_buf;
	struct pod_count pods[API_POD_COUNTS];
	struct rec_fields f; /* the fields of the line at hand */
	struct jw w;	     /* answers */
	__u64 started_ns;
	unsigned long long refused, served, dropped, ring_unkept;
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __s64 real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- clients: the backlog and its writes ---- */

static void client_events(struct api *a, struct client *c)
{
	struct epoll_event ev = {
		.events = (c->reading ? EPOLLIN : 0) | (c->waiting ? EPOLLOUT : 0),
		.data.u32 = c - a->c,
	};

	epoll_ctl(a->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void client_close(struct api *a, struct client *c)
{
	if (c->state == C_FREE)
		return;
	epoll_ctl(a->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Room for n more bytes within the bound (the buffer grows to it). */
static bool client_room(struct client *c, size_t n)
{
	size_t cap;
	char *b;

	if (c->len - c->off + n > API_BACKLOG)
		return false;
	if (c->off && c->len + n > c->cap) {
		memmove(c->out, c->out + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len + n <= c->cap)
		return true;
	cap = c->cap ? c->cap : 16384;
	while (cap < c->len + n)
		cap *= 2;
	if (cap > API_BACKLOG)
		cap = API_BACKLOG;
	b = realloc(c->out, cap);
	if (!b)
		return false;
	c->out = b;
	c->cap = cap;
	return true;
}

static void put_raw(struct client *c, const char *s, size_t n)
{
	memcpy(c->out + c->len, s, n);
	c->len += n;
	c->out[c->len++] = '\n';
}

/* {"time","node","type":"lost","lost":{reason,count,total},"count"}: what
 * this client missed since it was last told */
static int lost_line(struct api *a, struct client *c, char *buf, size_t size)
{
	char t[64] = "";
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm))
		snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec);
	return snprintf(buf, size,
			"{\"time\":\"%s\",\"type\":\"lost\",\"lost\":{\"reason\":\"api_client_backlog\",\"count\":%llu,\"total\":%llu},\"count\":%llu}",
			t, c->lost, c->lost_total, c->lost);
}

/* A line for the client: queued, or dropped and counted when its
 * backlog is full. What it lost is told first, once there is room. */
static void client_put(struct api *a, struct client *c, const char *s, size_t n)
{
	char lost[256];
	int ln = 0;

	if (c->lost)
		ln = lost_line(a, c, lost, sizeof(lost));
	if (!client_room(c, n + 1 + (ln ? ln + 1 : 0))) {
		c->lost++;
		c->lost_total++;
		a->dropped++;
		return;
	}
	if (ln) {
		put_raw(c, lost, ln);
		c->lost = 0;
	}
	put_raw(c, s, n);
}

/* An answer line of the server's own (never dropped: status and the
 * like are small, and come before anything else). */
static void client_answer(struct client *c, const char *s, size_t n)
{
	if (client_room(c, n + 1))
		put_raw(c, s, n);
}

static void client_error(struct api *a, struct client *c, const char *why)
{
	struct jw *w = &a->w;

	jw_reset(w);
	jw_obj(w, NULL);
	jw_str(w, "type", "error");
	jw_str(w, "error", why);
	jw_obj_end(w);
	client_answer(c, w->buf, w->len);
	c->state = C_DONE;
}

/* The last line of an answer (after what the client lost, if it was not
 * told yet). */
static void client_end(struct api *a, struct client *c)
{
	static const char end[] = "{\"type\":\"end\"}";
	char lost[256];
	int ln;

	if (c->lost) {
		ln = lost_line(a, c, lost, sizeof(lost));
		if (client_room(c, ln + 1)) {
			put_raw(c, lost, ln);
			c->lost = 0;
		}
	}
	client_answer(c, end, sizeof(end) - 1);
	c->state = C_DONE;
}

static bool client_matches(struct api *a, struct client *c, const char *s,
			   size_t n)
{
	if (c->any)
		return true;
	return !rec_fields_parse(s, n, &a->f) && rec_filter_match(&c->filter, &a->f);
}

/* Ring lines from the cursor on, while the backlog has room for them:
 * a replay goes as fast as the client reads, and loses nothing unless
 * the ring overtakes it. */
static void replay_fill(struct api *a, struct client *c)
{
	while (c->state == C_REPLAY) {
		__u64 limit = c->follow ? a->head : (c->end < a->head ? c->end : a->head);
		struct ring_line *l;

		if (c->cursor < a->tail)
			c->cursor = a->tail;
		if (c->cursor >= limit) {
			if (c->follow)
				c->state = C_LIVE;
			else
				client_end(a, c);
			return;
		}
		l = &a->ring[c->cursor % API_RING_LINES];
		if (c->len > c->off && c->len - c->off + l->len + 1 > API_BACKLOG / 2)
			return;
		if (client_matches(a, c, l->buf, l->len))
			client_put(a, c, l->buf, l->len);
		c->cursor++;
	}
}

/* Write the backlog as far as the socket takes it. */
static void client_write(struct api *a, struct client *c)
{
	char lost[256];
	int ln;

	for (;;) {
		while (c->off < c->len) {
			ssize_t n = send(c->fd, c->out + c->off, c->len - c->off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n > 0) {
				c->off += n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				if (!c->waiting) {
					c->waiting = true;
					client_events(a, c);
				}
				return;
			}
			client_close(a, c); /* the client went */
			return;
		}
		c->off = c->len = 0;
		if (c->lost && c->state == C_LIVE) {
			ln = lost_line(a, c, lost, sizeof(lost));
			if (client_room(c, ln + 1)) {
				put_raw(c, lost, ln);
				c->lost = 0;
				continue;
			}
		}
		if (c->state == C_REPLAY) {
			replay_fill(a, c);
			if (c->len)
				continue;
		}
		break;
	}
	if (c->waiting) {
		c->waiting = false;
		client_events(a, c);
	}
	if (c->state == C_DONE)
		client_close(a, c);
}

/* ---- the answers ---- */

static void time_w(struct api *a, struct jw *w, const char *key, __u64 ns)
{
	char buf[64];

	if (!a->src.rc)
		return;
	record_time_fmt(a->src.rc, ns, buf, sizeof(buf));
	jw_str(w, key, buf);
}

static struct pod_count *pod_count(struct api *a, __u32 netns, bool add)
{
	unsigned int i, h = (netns * 2654435761U) % API_POD_COUNTS;

	for (i = 0; i < API_POD_COUNTS; i++) {
		struct pod_count *p = &a->pods[(h + i) % API_POD_COUNTS];

		if (p->netns == netns)
			return p;
		if (!p->netns) {
			if (!add)
				return NULL;
			p->netns = netns;
			return p;
		}
	}
	return NULL;
}

static void status_programs(struct api *a, struct jw *w)
{
	struct loader_prog progs[LOADER_MAX_PROGS];
	int n = a->src.loader ? loader_programs(a->src.loader, progs, LOADER_MAX_PROGS)
			      : 0, i, ok = 0;

	jw_arr(w, "programs");
	for (i = 0; i < n; i++) {
		jw_obj(w, NULL);
		jw_str(w, "name", progs[i].name);
		jw_str(w, "kind", progs[i].kind);
		jw_bool(w, "ok", progs[i].ok);
		jw_obj_end(w);
		ok += progs[i].ok;
	}
	jw_arr_end(w);
	jw_uint(w, "programs_ok", ok);
	jw_uint(w, "programs_total", n);
	jw_bool(w, "ok", n > 0 && ok == n);
}

static void status_maps(struct api *a, struct jw *w)
{
	static const char *const names[LOADER_NFILL] = LOADER_FILL_MAPS;
	unsigned long used;
	unsigned int i;
	__u32 size;

	if (!a->src.loader)
		return;
	jw_arr(w, "maps");
	for (i = 0; i < LOADER_NFILL; i++) {
		__u32 max = 0;
		long long n = loader_map_entries(loader_map_fd(a->src.loader, names[i]),
						 &max);

		if (n < 0)
			continue;
		jw_obj(w, NULL);
		jw_str(w, "name", names[i]);
		jw_int(w, "entries", n);
		jw_uint(w, "max_entries", max);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	if (!loader_ringbuf_use(a->src.loader, &used, &size)) {
		jw_obj(w, "ringbuf");
		jw_uint(w, "used", used);
		jw_uint(w, "size", size);
		jw_obj_end(w);
	}
}

static void sink_w(struct jw *w, const char *key, const struct sink_counters *c)
{
	jw_obj(w, key);
	jw_uint(w, "records", c->lines);
	jw_uint(w, "bytes", c->bytes);
	jw_uint(w, "dropped", c->dropped);
	jw_uint(w, "write_failures", c->episodes);
	jw_bool(w, "failing", c->failing);
	jw_obj_end(w);
}

static void count_pod(void *arg, const struct pod_info *pi)
{
	(*(unsigned long long *)arg)++;
}

static void count_alert(void *arg, const struct detect_alert_view *v)
{
	(*(unsigned long long *)arg)++;
}

static void answer_status(struct api *a, struct client *c)
{
	static const char *const drop_names[PS_DROP_MAX] = PS_DROP_REASON_NAMES;
	struct jw *w = &a->w;
	unsigned long long total = 0, npods = 0, nalerts = 0, follow = 0, n = 0;
	struct sink_counters sc;
	unsigned int k;

	jw_reset(w);
	jw_obj(w, NULL);
	jw_str(w, "type", "status");
	jw_str(w, "version", PS_VERSION);
	jw_str(w, "commit", PS_GIT_COMMIT);
	jw_str(w, "bpf_build_id", PS_BPF_BUILD_ID);
	if (a->src.rc && a->src.rc->node)
		jw_str(w, "node", a->src.rc->node);
	jw_uint(w, "pid", getpid());
	jw_uint(w, "uptime_s", (mono_ns() - a->started_ns) / 1000000000ULL);
	status_programs(a, w);
	status_maps(a, w);
	jw_obj(w, "lost");
	for (k = 0; k < PS_DROP_MAX && a->src.drops; k++) {
		total += a->src.drops[k];
		if (a->src.drops[k])
			jw_uint(w, drop_names[k] ? drop_names[k] : "unknown",
				a->src.drops[k]);
	}
	jw_obj_end(w);
	jw_uint(w, "lost_total", total);
	if (a->src.out) {
		sc = exporter_counters(a->src.out);
		sink_w(w, "export", &sc);
	}
	if (a->src.podlog) {
		sc = podlog_counters(a->src.podlog);
		sink_w(w, "pod_logs", &sc);
	}
	jw_uint(w, "unwritten", a->src.unwritten ? *a->src.unwritten : 0);
	if (a->src.flows) {
		const struct flow_stats *f = flows_stats(a->src.flows);
		unsigned long long ended = f->with_process + f->without_process;

		jw_obj(w, "flows");
		jw_uint(w, "ended", ended);
		jw_uint(w, "with_process", f->with_process);
		jw_obj_end(w);
	}
	if (a->src.pods)
		pods_each(a->src.pods, count_pod, &npods);
	detect_alerts_each(a->src.detect, count_alert, &nalerts);
	jw_uint(w, "pods", npods);
	jw_uint(w, "alerts_open", nalerts);
	for (k = 0; k < API_MAX_CLIENTS; k++) {
		n += a->c[k].state != C_FREE;
		follow += a->c[k].state == C_LIVE ||
			  (a->c[k].state == C_REPLAY && a->c[k].follow);
	}
	jw_obj(w, "api");
	jw_str(w, "socket", a->path);
	jw_uint(w, "clients", n);
	jw_uint(w, "following", follow);
	jw_uint(w, "max_clients", API_MAX_CLIENTS);
	jw_uint(w, "refused", a->refused);
	jw_uint(w, "served", a->served);
	jw_uint(w, "dropped", a->dropped);
	jw_uint(w, "ring_lines", a->head - a->tail);
	jw_uint(w, "ring_bytes", a->ring_bytes);
	jw_uint(w, "ring_max_lines", API_RING_LINES);
	jw_uint(w, "ring_max_bytes", API_RING_BYTES);
	jw_uint(w, "ring_unkept", a->ring_unkept);
	jw_obj_end(w);
	jw_obj_end(w);
	client_answer(c, w->buf, w->len);
	client_end(a, c);
}

struct each_ctx {
	struct api *a;
	struct client *c;
};

static void pod_line(void *arg, const struct pod_info *pi)
{
	struct each_ctx *x = arg;
	struct api *a = x->a;
	struct pod_count *pc = pod_count(a, pi->netns_ino, false);
	struct jw *w = &a->w;

	jw_reset(w);
	jw_obj(w, NULL);
	jw_str(w, "type", "pod");
	jw_obj(w, "pod");
	jw_str(w, "namespace", pi->namespace);
	jw_str(w, "name", pi->name);
	jw_str(w, "container_id", pi->container_id);
	jw_str(w, "uid", pi->uid);
	jw_obj_end(w);
	jw_uint(w, "netns", pi->netns_ino);
	jw_uint(w, "slot", pi->slot);
	jw_str(w, "veth", pi->host_ifname);
	jw_bool(w, "pending", pi->pending);
	jw_uint(w, "flows", pc ? pc->flows : 0);
	jw_uint(w, "alerts", pc ? pc->alerts : 0);
	jw_obj_end(w);
	client_answer(x->c, w->buf, w->len);
}

static void alert_line(void *arg, const struct detect_alert_view *v)
{
	struct each_ctx *x = arg;
	struct api *a = x->a;
	struct jw *w = &a->w;

	jw_reset(w);
	jw_obj(w, NULL);
	jw_str(w, "type", "open_alert");
	jw_str(w, "id", v->id);
	jw_str(w, "rule", v->rule);
	jw_str(w, "severity", v->severity);
	jw_str(w, "pod", v->pod);
	if (v->target[0])
		jw_str(w, "target", v->target);
	jw_uint(w, "count", v->count);
	time_w(a, w, "first", v->first_ns);
	time_w(a, w, "last", v->last_ns);
	if (v->record)
		jw_raw(w, "record", v->record, v->record_len);
	jw_obj_end(w);
	client_answer(x->c, w->buf, w->len);
}

/* The members each op takes. */
static bool request_member_ok(const char *op, const char *key)
{
	static const char *const observe[] = {
		"op", "follow", "since", "types", "namespace", "pod", "process",
		"rule", "severity",
	};
	size_t i;

	if (!strcmp(key, "op"))
		return true;
	if (strcmp(op, "observe"))
		return false;
	for (i = 0; i < sizeof(observe) / sizeof(observe[0]); i++)
		if (!strcmp(key, observe[i]))
			return true;
	return false;
}

static void request(struct api *a, struct client *c, const char *line, size_t n)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req = tok ? json_tokener_parse_ex(tok, line, n) : NULL;
	struct json_object *v;
	char why[300];
	const char *op;
	struct each_ctx x = { a, c };

	if (tok && json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(req);
		req = NULL;
	}
	json_tokener_free(tok);
	a->served++;
	if (!req || !json_object_is_type(req, json_type_object)) {
		client_error(a, c, "the request is not one JSON object on a line");
		goto out;
	}
	if (!json_object_object_get_ex(req, "op", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		client_error(a, c, "the request has no \"op\" (observe, status, pods or alerts)");
		goto out;
	}
	op = json_object_get_string(v);
	if (strcmp(op, "observe") && strcmp(op, "status") && strcmp(op, "pods") &&
	    strcmp(op, "alerts")) {
		snprintf(why, sizeof(why), "unknown op \"%.64s\" (observe, status, pods or alerts)",
			 op);
		client_error(a, c, why);
		goto out;
	}
	json_object_object_foreach(req, key, val) {
		(void)val;
		if (!request_member_ok(op, key)) {
			snprintf(why, sizeof(why), "%s: unknown member \"%.64s\"", op, key);
			client_error(a, c, why);
			goto out;
		}
	}
	if (!strcmp(op, "status")) {
		answer_status(a, c);
	} else if (!strcmp(op, "pods")) {
		if (a->src.pods)
			pods_each(a->src.pods, pod_line, &x);
		client_end(a, c);
	} else if (!strcmp(op, "alerts")) {
		detect_alerts_each(a->src.detect, alert_line, &x);
		client_end(a, c);
	} else {
		if (rec_filter_from_request(&c->filter, req, real_ns(), why, sizeof(why))) {
			client_error(a, c, why);
			goto out;
		}
		c->any = rec_filter_empty(&c->filter);
		c->follow = json_object_object_get_ex(req, "follow", &v) &&
			    json_object_get_boolean(v);
		/* a follower starts now, unless it asked for the recent past */
		c->cursor = c->follow && !c->filter.since_ns ? a->head : a->tail;
		c->end = a->head;
		c->state = C_REPLAY;
		replay_fill(a, c);
	}
out:
	json_object_put(req);
	client_write(a, c);
}

/* ---- the socket ---- */

static void client_read(struct api *a, struct client *c)
{
	char junk[4096], *nl;
	ssize_t n;

	for (;;) {
		if (c->state != C_REQUEST) {
			n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
		} else {
			n = recv(c->fd, c->req + c->reqlen, sizeof(c->req) - c->reqlen,
				 MSG_DONTWAIT);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* the client's end: nothing more comes; what it asked
			 * for is still sent (a request without its newline
			 * counts) */
			if (c->state == C_REQUEST && c->reqlen) {
				request(a, c, c->req, c->reqlen);
				if (c->state == C_FREE)
					return;
			} else if (c->state == C_REQUEST || n < 0) {
				client_close(a, c);
				return;
			}
			c->reading = false;
			client_events(a, c);
			return;
		}
		if (c->state != C_REQUEST)
			continue; /* more after the request: ignored */
		nl = memchr(c->req + c->reqlen, '\n', n);
		c->reqlen += n;
		if (nl) {
			request(a, c, c->req, nl - c->req);
			if (c->state == C_FREE)
				return;
			continue;
		}
		if (c->reqlen == sizeof(c->req)) {
			client_error(a, c, "the request line is longer than 8192 bytes");
			client_write(a, c);
			return;
		}
	}
}

static void accept_all(struct api *a)
{
	static const char full[] =
		"{\"type\":\"error\",\"error\":\"too many clients (16): try again later\"}\n";

	for (;;) {
		int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c = NULL;
		struct epoll_event ev;
		int i;

		if (fd < 0)
			return;
		for (i = 0; i < API_MAX_CLIENTS && !c; i++)
			if (a->c[i].state == C_FREE)
				c = &a->c[i];
		if (!c) {
			a->refused++;
			/* told in one line, when its socket takes it */
			(void)!send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->state = C_REQUEST;
		c->reading = true;
		c->connected_ns = mono_ns();
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = c - a->c };
		if (epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			memset(c, 0, sizeof(*c));
			c->fd = -1;
		}
	}
}

void api_run(struct api *a)
{
	struct epoll_event evs[API_MAX_CLIENTS + 1];
	int n, i;

	if (!a)
		return;
	n = epoll_wait(a->ep, evs, API_MAX_CLIENTS + 1, 0);
	for (i = 0; i < n; i++) {
		struct client *c;

		if (evs[i].data.u32 == API_LISTEN_ID) {
			accept_all(a);
			continue;
		}
		c = &a->c[evs[i].data.u32];
		if (c->state == C_FREE)
			continue;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			client_read(a, c);
		if (c->state != C_FREE && (evs[i].events & (EPOLLOUT | EPOLLERR)))
			client_write(a, c);
		if (c->state != C_FREE && (evs[i].events & EPOLLHUP) && !c->reading)
			client_close(a, c); /* both ends shut */
	}
}

void api_tick(struct api *a)
{
	__u64 now = mono_ns();
	int i;

	if (!a)
		return;
	for (i = 0; i < API_MAX_CLIENTS; i++)
		if (a->c[i].state == C_REQUEST && now - a->c[i].connected_ns > API_REQUEST_NS)
			client_close(a, &a->c[i]);
}

/* ---- the records ---- */

static void ring_drop_oldest(struct api *a)
{
	struct ring_line *l = &a->ring[a->tail % API_RING_LINES];
	int i;

	/* a replay the ring overtakes: what it would have sent is lost */
	for (i = 0; i < API_MAX_CLIENTS; i++) {
		struct client *c = &a->c[i];

		if (c->state == C_REPLAY && c->cursor == a->tail) {
			if (client_matches(a, c, l->buf, l->len)) {
				c->lost++;
				c->lost_total++;
				a->dropped++;
			}
			c->cursor++;
		}
	}
	a->ring_bytes -= l->len;
	l->buf = NULL;
	l->len = 0;
	a->tail++;
}

static void ring_keep(struct api *a, const char *line, size_t len)
{
	size_t at = a->ring_pos;
	struct ring_line *l;

	if (len > API_RING_BYTES) {
		a->ring_unkept++;
		return;
	}
	if (at + len > API_RING_BYTES) {
		/* the line goes at the start; the oldest lines, those from
		 * here to the end, go first */
		while (a->head > a->tail &&
		       a->ring[a->tail % API_RING_LINES].buf >= a->ring_buf + at)
			ring_drop_oldest(a);
		at = 0;
	}
	/* then those the line would overwrite: the oldest is the first
	 * at or after `at` */
	while (a->head > a->tail) {
		const char *old = a->ring[a->tail % API_RING_LINES].buf;

		if (a->head - a->tail < API_RING_LINES &&
		    (old < a->ring_buf + at || old >= a->ring_buf + at + len))
			break;
		ring_drop_oldest(a);
	}
	memcpy(a->ring_buf + at, line, len);
	a->ring_pos = at + len;
	l = &a->ring[a->head % API_RING_LINES];
	l->buf = a->ring_buf + at;
	l->len = len;
	a->ring_bytes += len;
	a->head++;
}

/* The value of the first "type":"..." (a record's own: it comes before
 * any nested object, and a '"' inside a string is always escaped). */
static bool line_type_is(const char *line, size_t len, const char *type)
{
	static const char pat[] = "\"type\":\"";
	const char *p = memmem(line, len, pat, sizeof(pat) - 1);
	size_t n = strlen(type);

	if (!p)
		return false;
	p += sizeof(pat) - 1;
	return (size_t)(line + len - p) > n && !memcmp(p, type, n) && p[n] == '"';
}

/* Alerts are few: parsed and counted for their pod (detection keeps
 * each open alert's record for "alerts"). */
static void alert_seen(struct api *a, const char *line, size_t len, __u32 netns)
{
	struct pod_count *p;

	if (rec_fields_parse(line, len, &a->f) || !a->f.alert_id[0])
		return;
	if (!strcmp(a->f.status, "open") && netns && (p = pod_count(a, netns, true)))
		p->alerts++;
}

/* A flow record's connections, counted for its pods. */
static void flow_seen(struct api *a, const char *line, size_t len, __u32 netns_a,
		      __u32 netns_b)
{
	unsigned long long n = rec_line_connections(line, len);
	struct pod_count *p;

	if (!n)
		return;
	if (netns_a && (p = pod_count(a, netns_a, true)))
		p->flows += n;
	if (netns_b && netns_b != netns_a && (p = pod_count(a, netns_b, true)))
		p->flows += n;
}

void api_record(struct api *a, const char *line, size_t len, __u32 netns_a,
		__u32 netns_b)
{
	bool parsed = false, ok = false;
	int i;

	if (!a)
		return;
	ring_keep(a, line, len);
	if (line_type_is(line, len, "flow"))
		flow_seen(a, line, len, netns_a, netns_b);
	else if (line_type_is(line, len, "alert"))
		alert_seen(a, line, len, netns_a);
	for (i = 0; i < API_MAX_CLIENTS; i++) {
		struct client *c = &a->c[i];

		if (c->state != C_LIVE)
			continue;
		if (!c->any) {
			if (!parsed) {
				ok = !rec_fields_parse(line, len, &a->f);
				parsed = true;
			}
			if (!ok || !rec_filter_match(&c->filter, &a->f))
				continue;
		}
		client_put(a, c, line, len);
	}
}

void api_flush(struct api *a)
{
	int i;

	if (!a)
		return;
	for (i = 0; i < API_MAX_CLIENTS; i++) {
		struct client *c = &a->c[i];

		/* a client whose socket was full is written when it reads */
		if (c->state != C_FREE && c->state != C_REQUEST && !c->waiting &&
		    (c->len > c->off || c->lost || c->state == C_REPLAY))
			client_write(a, c);
	}
}

/* ---- setup ---- */

/* Is someone serving path? A socket nobody answers is stale. */
static int socket_in_use(const char *path, const struct sockaddr_un *sa)
{
	struct stat sb;
	int fd, r;

	if (lstat(path, &sb))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!r)
		return -EADDRINUSE;
	unlink(path); /* stale */
	return 0;
}

struct api *api_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = API_LISTEN_ID };
	char dir[PATH_MAX], *slash;
	struct api *a;
	struct stat sb;
	mode_t um;
	int err, i;

	if (strlen(path) >= sizeof(sa.sun_path) || path[0] != '/') {
		fprintf(stderr, "podsentryd: --socket %s: %s\n", path,
			path[0] != '/' ? "not an absolute path"
				       : "longer than a UNIX socket path can be (107 bytes)");
		return NULL;
	}
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash > dir) {
		*slash = 0;
		err = dir_make(dir, 0755, 0750);
		if (err) {
			fprintf(stderr, "podsentryd: --socket %s: folder %s: %s\n", path, dir,
				strerror(-err));
			return NULL;
		}
	}
	err = socket_in_use(path, &sa);
	if (err) {
		fprintf(stderr, "podsentryd: --socket %s: %s\n", path,
			err == -EADDRINUSE ? "another podsentryd answers there" :
			err == -EEXIST ? "exists and is not a socket" : strerror(-err));
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(path)) ||
	    !(a->ring_buf = malloc(API_RING_BYTES))) {
		if (a)
			free(a->path);
		free(a);
		fprintf(stderr, "podsentryd: --socket %s: out of memory\n", path);
		return NULL;
	}
	for (i = 0; i < API_MAX_CLIENTS; i++)
		a->c[i].fd = -1;
	a->started_ns = mono_ns();
	a->ep = epoll_create1(EPOLL_CLOEXEC);
	a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->ep < 0 || a->listen_fd < 0) {
		fprintf(stderr, "podsentryd: --socket %s: %s\n", path, strerror(errno));
		goto fail;
	}
	/* 0600 from the start: no moment where others could connect */
	um = umask(0177);
	err = bind(a->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(um);
	if (err) {
		fprintf(stderr, "podsentryd: --socket %s: bind: %s\n", path, strerror(-err));
		goto fail;
	}
	if (chmod(path, 0600) || lstat(path, &sb) || listen(a->listen_fd, 32) ||
	    epoll_ctl(a->ep, EPOLL_CTL_ADD, a->listen_fd, &ev)) {
		fprintf(stderr, "podsentryd: --socket %s: %s\n", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	a->ino = sb.st_ino;
	return a;
fail:
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	if (a->ep >= 0)
		close(a->ep);
	free(a->ring_buf);
	free(a->path);
	free(a);
	return NULL;
}

void api_sources(struct api *a, const struct api_src *src)
{
	if (a)
		a->src = *src;
}

int api_fd(const struct api *a)
{
	return a ? a->ep : -1;
}

void api_free(struct api *a)
{
	struct stat sb;
	unsigned int i;

	if (!a)
		return;
	for (i = 0; i < API_MAX_CLIENTS; i++)
		client_close(a, &a->c[i]);
	close(a->listen_fd);
	close(a->ep);
	/* the socket is removed when it is still the one made here */
	if (!lstat(a->path, &sb) && S_ISSOCK(sb.st_mode) && sb.st_ino == a->ino)
		unlink(a->path);
	free(a->ring_buf);
	jw_free(&a->w);
	free(a->path);
	free(a);
}
