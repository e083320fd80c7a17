// SPDX-License-Identifier: GPL-2.0-only
/*
 * The detection state file (--state-file): what detection must not
 * forget over a restart of the daemon.
 *
 *   {"version":2, "node":NAME, "saved":NS,
 *    "pods":{"ns/name":{"first_seen":NS,"last_seen":NS,"peers":[...]}},
 *    "alerts":[{"id","rule","pod","tree","target","netns","first","last",
 *               "count","record"}],
 *    "processes":[{"exec_id","parent","netns","binary","args","first",
 *                  "exec_into", and for footholds "pod","foothold",
 *                  "foothold_at","why","channel"}]}
 *
 * Times are realtime nanoseconds. The processes are the trees of the open
 * alerts and the footholds within the chain window, root to process, so
 * repeats after a restart count on the alert they belong to and a hop
 * after a restart is still lateral movement. Strings are written with jw:
 * bytes that are not text are kept (the "_escaped" form).
 *
 * Reading is strict: every member has its type, no member is unknown,
 * exec ids and rules parse. A file that fails is reported with the file,
 * the member and what is wrong, set aside as FILE.broken (nothing is
 * lost) and the daemon starts with an empty state. What is not a regular
 * file (a directory) is not touched: the daemon does not start. Version
 * 1 files (json-c objects, processes keyed by exec id) are read too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "cni/shared/util.h"
#include "node/detect/engine.h"
#include "node/sinks/files.h"

#define STATE_VERSION 2
#define STATE_MAX_BYTES (64u << 20)
#define POD_KEEP_NS (7ULL * 86400 * NS_PER_S) /* an unseen pod is forgotten */

/* ---- writing ---- */

static void time_w(const struct detect *d, struct jw *w, const char *key,
		   __u64 boot_ns)
{
	jw_int(w, key, (long long)boot_ns + d->o.rc->boot_to_real_ns);
}

static void id_w(const struct detect *d, struct jw *w, const char *key,
		 const struct ps_exec_id *id)
{
	char buf[96];

	det_exec_id_fmt(d, id, buf, sizeof(buf));
	jw_str(w, key, buf);
}

static void addr_w(struct jw *w, const char *key, __u8 family,
		   const union ps_addr *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, a->b, buf, sizeof(buf)))
		buf[0] = 0;
	jw_str(w, key, buf);
}

/* The pod a foothold belongs to: the one that lists it (a pod restored
 * from the file has no netns until it is met again), else the pod of
 * its netns. NULL: no pod to name, and a foothold is read back only
 * with its pod, so it is saved as a plain process. */
static struct dpod *foothold_pod(struct detect *d, const struct dproc *p)
{
	struct dpod *pod;
	int i;

	for (pod = d->pods; pod; pod = pod->next)
		for (i = 0; i < DET_FOOTHOLDS && pod->footholds[i].pid; i++)
			if (pod->footholds[i].pid == p->id.pid &&
			    pod->footholds[i].ktime == p->id.ktime)
				return pod;
	for (pod = d->pods; pod; pod = pod->next)
		if (pod->netns && pod->netns == p->netns)
			return pod;
	return NULL;
}

static void proc_w(struct detect *d, struct jw *w, struct dproc *p)
{
	struct dpod *pod;
	__u32 i = 0;

	jw_obj(w, NULL);
	id_w(d, w, "exec_id", &p->id);
	id_w(d, w, "parent", &p->parent);
	jw_uint(w, "netns", p->netns);
	jw_str(w, "binary", p->binary ? p->binary : "");
	jw_arr(w, "args");
	while (p->args && i < p->args_len) {
		size_t n = strnlen(p->args + i, p->args_len - i);

		jw_strn(w, NULL, p->args + i, n);
		i += n + 1;
	}
	jw_arr_end(w);
	jw_bool(w, "first", p->first);
	jw_bool(w, "exec_into", p->exec_into);
	pod = p->foothold >= 0 ? foothold_pod(d, p) : NULL;
	if (pod) {
		jw_str(w, "pod", pod->key);
		jw_str(w, "foothold", det_rule_names[p->foothold]);
		time_w(d, w, "foothold_at", p->foothold_ns);
		jw_str(w, "why", dproc_why_text(p));
		if (p->channel.known) {
			const struct dchannel *c = &p->channel;

			jw_obj(w, "channel");
			jw_str(w, "protocol", c->proto == IPPROTO_UDP ? "udp" : "tcp");
			addr_w(w, "peer_ip", c->family, &c->addr);
			jw_uint(w, "peer_port", c->port);
			addr_w(w, "local_ip", c->family, &c->laddr);
			jw_uint(w, "local_port", c->lport);
			time_w(d, w, "seen", c->ktime);
			jw_obj_end(w);
		}
	}
	jw_obj_end(w);
}

/* The processes saved: each once, a parent before its children. */
struct saved {
	struct dproc **v;
	int n, cap;
};

static bool saved_has(const struct saved *s, const struct dproc *p)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == p)
			return true;
	return false;
}

static void saved_chain(struct detect *d, struct saved *s, struct dproc *p)
{
	struct dproc *chain[64];
	int n = 0;

	for (; p && n < 64 && !saved_has(s, p); p = det_parent(d, p))
		chain[n++] = p;
	while (n-- > 0) {
		if (s->n == s->cap) {
			int cap = s->cap ? s->cap * 2 : 64;
			struct dproc **v = realloc(s->v, sizeof(*v) * cap);

			if (!v)
				return;
			s->v = v;
			s->cap = cap;
		}
		s->v[s->n++] = chain[n];
	}
}

static void state_w(struct detect *d, struct jw *w, __u64 now)
{
	struct saved s = {};
	struct dalert *a;
	struct dpod *pod;
	int i;

	jw_obj(w, NULL);
	jw_int(w, "version", STATE_VERSION);
	jw_str(w, "node", d->o.rc->node);
	time_w(d, w, "saved", now);
	jw_obj(w, "pods");
	for (pod = d->pods; pod; pod = pod->next) {
		if (now - pod->last_ns > POD_KEEP_NS)
			continue;
		/* a pod's name is any bytes: flagged inside when escaped */
		if (jw_obj_named(w, pod->key))
			jw_bool(w, "key_escaped", true);
		time_w(d, w, "first_seen", pod->first_ns);
		time_w(d, w, "last_seen", pod->last_ns);
		jw_arr(w, "peers");
		for (i = 0; i < pod->npeers; i++)
			jw_str(w, NULL, pod->peers[i]);
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_obj_end(w);
	jw_arr(w, "alerts");
	for (a = d->alerts; a; a = a->next) {
		jw_obj(w, NULL);
		jw_str(w, "id", a->id);
		jw_str(w, "rule", det_rule_names[a->rule]);
		jw_str(w, "pod", a->pod);
		id_w(d, w, "tree", &a->tree);
		jw_str(w, "target", a->target);
		jw_uint(w, "netns", a->netns);
		time_w(d, w, "first", a->first_ns);
		time_w(d, w, "last", a->last_ns);
		jw_uint(w, "count", a->count);
		if (a->record)
			jw_strn(w, "record", a->record, a->record_len);
		jw_obj_end(w);
		saved_chain(d, &s, det_proc(d, &a->tree));
	}
	jw_arr_end(w);
	for (pod = d->pods; pod; pod = pod->next)
		for (i = 0; i < DET_FOOTHOLDS && pod->footholds[i].pid; i++) {
			struct dproc *p = det_proc(d, &pod->footholds[i]);

			if (p && p->foothold >= 0 &&
			    now - p->foothold_ns <= d->cfg->chain_ns)
				saved_chain(d, &s, p);
		}
	jw_arr(w, "processes");
	for (i = 0; i < s.n; i++)
		proc_w(d, w, s.v[i]);
	jw_arr_end(w);
	jw_obj_end(w);
	free(s.v);
}

static int state_dir_make(const char *file)
{
	char dir[4096], *s;

	det_fmt(dir, sizeof(dir), "%s", file);
	s = strrchr(dir, '/');
	if (!s || s == dir)
		return 0;
	*s = 0;
	return dir_make(dir, 0755, SINK_PRIVATE_DIR_MODE);
}

int persist_save(struct detect *d)
{
	struct jw w = {};
	int err;

	if (!d->o.state_file)
		return 0;
	state_w(d, &w, clock_boot_ns());
	if (w.oom) {
		err = -ENOMEM;
	} else {
		jw_append(&w, "\n", 1);
		err = state_dir_make(d->o.state_file);
		/* 0600: the state names pods, their peers and command lines */
		if (!err)
			err = sink_file_replace(d->o.state_file, w.buf, w.len,
						SINK_PRIVATE_MODE);
	}
	jw_free(&w);
	if (err) {
		fprintf(stderr, "podsentryd: save state %s: %s\n", d->o.state_file,
			strerror(-err));
		d->c.state_errors++;
		return err;
	}
	d->dirty = false;
	return 0;
}

/* ---- reading ---- */

struct pctx {
	struct detect *d;
	int version;
	__u64 now;
	char where[600]; /* the member being read */
	char msg[800];
};

static bool bad(struct pctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool bad(struct pctx *c, const char *fmt, ...)
{
	char what[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	det_fmt(c->msg, sizeof(c->msg), "%s: %s", c->where[0] ? c->where : "(top)",
		what);
	return false;
}

static const char *type_name(enum json_type t)
{
	switch (t) {
	case json_type_boolean: return "a boolean";
	case json_type_int: return "an integer";
	case json_type_string: return "a string";
	case json_type_array: return "an array";
	case json_type_object: return "an object";
	default: return "a value";
	}
}

/* Member key of o (at path `at`) of type t; *out NULL when absent and
 * not required. c->where names it. */
static bool member(struct pctx *c, struct json_object *o, const char *at,
		   const char *key, enum json_type t, bool required,
		   struct json_object **out)
{
	det_fmt(c->where, sizeof(c->where), "%s%s%s", at, *at ? "." : "", key);
	*out = NULL;
	if (!json_object_object_get_ex(o, key, out) || !*out) {
		*out = NULL;
		return required ? bad(c, "missing") : true;
	}
	if (!json_object_is_type(*out, t))
		return bad(c, "not %s", type_name(t));
	return true;
}

static bool only(struct pctx *c, struct json_object *o, const char *at,
		 const char *const *keys)
{
	json_object_object_foreach(o, key, val) {
		size_t n = strlen(key);
		int i;

		/* a member, or the "_escaped" flag of one (jw writes it for a
		 * string that is not text) */
		if (n > 8 && !strcmp(key + n - 8, "_escaped"))
			n -= 8;
		for (i = 0; keys[i] && (strlen(keys[i]) != n || strncmp(keys[i], key, n)); i++)
			;
		(void)val;
		if (!keys[i]) {
			det_fmt(c->where, sizeof(c->where), "%s%s%s", at, *at ? "." : "",
				key);
			return bad(c, "not a member of the state");
		}
	}
	return true;
}

static bool uint_of(struct pctx *c, struct json_object *o, const char *at,
		    const char *key, bool required, unsigned long long max,
		    unsigned long long *v)
{
	struct json_object *m;
	long long x;

	*v = 0;
	if (!member(c, o, at, key, json_type_int, required, &m))
		return false;
	if (!m)
		return true;
	errno = 0;
	x = json_object_get_int64(m);
	if (x < 0 || errno || (unsigned long long)x > max)
		return bad(c, "%lld is out of range 0..%llu", x, max);
	*v = (unsigned long long)x;
	return true;
}

/* A realtime time into the boot clock, within [0, now]. */
static bool time_of(struct pctx *c, struct json_object *o, const char *at,
		    const char *key, bool required, __u64 *ns)
{
	unsigned long long v;
	long long boot;

	if (!uint_of(c, o, at, key, required, (unsigned long long)LLONG_MAX, &v))
		return false;
	boot = (long long)v - c->d->o.rc->boot_to_real_ns;
	*ns = boot < 0 ? 0 : (__u64)boot > c->now ? c->now : (__u64)boot;
	return true;
}

static bool bool_of(struct pctx *c, struct json_object *o, const char *at,
		    const char *key, bool *v)
{
	struct json_object *m;

	*v = false;
	if (!member(c, o, at, key, json_type_boolean, false, &m))
		return false;
	*v = m && json_object_get_boolean(m);
	return true;
}

/* The bytes a string member stands for (its "_escaped" flag read). *s
 * is allocated (NUL-terminated), or NULL when absent and not required. */
static bool bytes_of(struct pctx *c, struct json_object *o, const char *at,
		     const char *key, bool required, char **s, size_t *n)
{
	struct json_object *m;
	char flag[80];
	bool esc;
	long len;

	*s = NULL;
	*n = 0;
	det_fmt(flag, sizeof(flag), "%s_escaped", key);
	if (!bool_of(c, o, at, flag, &esc) ||
	    !member(c, o, at, key, json_type_string, required, &m))
		return false;
	if (!m)
		return true;
	len = json_object_get_string_len(m);
	*s = malloc(len + 1);
	if (!*s)
		return bad(c, "out of memory");
	if (esc)
		len = jw_unescape(json_object_get_string(m), len, *s);
	else
		memcpy(*s, json_object_get_string(m), len);
	if (len < 0) {
		free(*s);
		*s = NULL;
		return bad(c, "flagged escaped but not in the escaped form");
	}
	(*s)[len] = 0;
	*n = len;
	return true;
}

/* A string member into out (its "_escaped" flag read: the bytes it
 * stands for, up to a NUL). */
static bool str_of(struct pctx *c, struct json_object *o, const char *at,
		   const char *key, bool required, char *out, size_t size)
{
	struct json_object *m;
	char flag[80];
	bool esc;
	long len;

	out[0] = 0;
	det_fmt(flag, sizeof(flag), "%s_escaped", key);
	if (!bool_of(c, o, at, flag, &esc) ||
	    !member(c, o, at, key, json_type_string, required, &m))
		return false;
	if (!m)
		return true;
	len = json_object_get_string_len(m);
	if ((size_t)len >= size)
		return bad(c, "longer than %zu bytes", size - 1);
	if (esc)
		len = jw_unescape(json_object_get_string(m), len, out);
	else
		memcpy(out, json_object_get_string(m), len);
	if (len < 0) {
		out[0] = 0;
		return bad(c, "flagged escaped but not in the escaped form");
	}
	out[len] = 0;
	return true;
}

static bool id_of(struct pctx *c, struct json_object *o, const char *at,
		  const char *key, bool required, struct ps_exec_id *id)
{
	char buf[128];

	memset(id, 0, sizeof(*id));
	if (!str_of(c, o, at, key, required, buf, sizeof(buf)))
		return false;
	if (buf[0] && !det_exec_id_parse(buf, id))
		return bad(c, "\"%s\" is not an exec id (node:ktime:pid)", buf);
	return true;
}

static bool rule_of(struct pctx *c, struct json_object *o, const char *at,
		    const char *key, int *rule)
{
	char buf[64];

	if (!str_of(c, o, at, key, true, buf, sizeof(buf)))
		return false;
	*rule = det_rule_by_name(buf);
	return *rule >= 0 || bad(c, "\"%s\" is not a rule", buf);
}

/* The args array into NUL-terminated strings, one after another. */
static bool args_of(struct pctx *c, struct json_object *o, const char *at,
		    char **args, __u32 *args_len)
{
	struct json_object *arr;
	size_t i, total = 0, n;
	bool esc;
	char *buf;

	*args = NULL;
	*args_len = 0;
	if (!bool_of(c, o, at, "args_escaped", &esc) ||
	    !member(c, o, at, "args", json_type_array, false, &arr))
		return false;
	n = arr ? json_object_array_length(arr) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(a, json_type_string))
			return bad(c, "element %zu is not a string", i);
		total += json_object_get_string_len(a) + 1;
	}
	if (total > PS_ARGS_MAX * 4)
		return bad(c, "%zu bytes, more than a process has", total);
	buf = malloc(total + 1);
	if (!buf)
		return bad(c, "out of memory");
	total = 0;
	for (i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(arr, i);
		long len = json_object_get_string_len(a);

		if (esc)
			len = jw_unescape(json_object_get_string(a), len, buf + total);
		else
			memcpy(buf + total, json_object_get_string(a), len);
		if (len < 0) {
			free(buf);
			return bad(c, "element %zu is flagged escaped but not in the escaped form", i);
		}
		total += len;
		buf[total++] = 0;
	}
	*args = buf;
	*args_len = total;
	return true;
}

static bool pods_read(struct pctx *c, struct json_object *pods)
{
	/* "key": only its flag, key_escaped */
	static const char *const keys[] = { "first_seen", "last_seen", "peers", "key",
					    NULL };

	json_object_object_foreach(pods, key, o) {
		struct json_object *peers;
		struct dpod *pod;
		char at[DET_KEY + 16], name[DET_KEY], peer[DET_KEY + 32];
		__u64 first, last;
		bool key_esc, peers_esc;
		size_t i, n = strlen(key);
		long len;

		det_fmt(at, sizeof(at), "pods.\"%.*s\"", DET_KEY, key);
		det_fmt(c->where, sizeof(c->where), "%s", at);
		if (!json_object_is_type(o, json_type_object))
			return bad(c, "not an object");
		/* the name as it was: key_escaped says the key is in the
		 * escaped form */
		if (!only(c, o, at, keys) || !bool_of(c, o, at, "key_escaped", &key_esc) ||
		    !bool_of(c, o, at, "peers_escaped", &peers_esc))
			return false;
		if (json_object_object_get_ex(o, "key", NULL)) {
			det_fmt(c->where, sizeof(c->where), "%s.key", at);
			return bad(c, "not a member of the state");
		}
		det_fmt(c->where, sizeof(c->where), "%s", at);
		if (n >= DET_KEY || !n)
			return bad(c, "not a pod name (namespace/name)");
		len = key_esc ? jw_unescape(key, n, name) : (long)n;
		if (len < 0)
			return bad(c, "key flagged escaped but not in the escaped form");
		if (!key_esc)
			memcpy(name, key, n);
		name[len] = 0;
		if (!name[0] || strlen(name) != (size_t)len)
			return bad(c, "not a pod name (namespace/name)");
		if (!time_of(c, o, at, "first_seen", true, &first) ||
		    !time_of(c, o, at, "last_seen", c->version >= 2, &last) ||
		    !member(c, o, at, "peers", json_type_array, true, &peers))
			return false;
		for (i = 0; i < json_object_array_length(peers); i++) {
			struct json_object *e = json_object_array_get_idx(peers, i);

			if (!json_object_is_type(e, json_type_string))
				return bad(c, "element %zu is not a string", i);
			if ((size_t)json_object_get_string_len(e) >= sizeof(peer))
				return bad(c, "element %zu is longer than %zu bytes", i,
					   sizeof(peer) - 1);
		}
		pod = det_pod_restore(c->d, name);
		if (!pod)
			return bad(c, "out of memory");
		pod->first_ns = first;
		pod->last_ns = json_object_object_get_ex(o, "last_seen", NULL) ? last
									      : c->now;
		for (i = 0; i < json_object_array_length(peers); i++) {
			struct json_object *e = json_object_array_get_idx(peers, i);
			const char *t = json_object_get_string(e);

			len = json_object_get_string_len(e);
			if (peers_esc)
				len = jw_unescape(t, len, peer);
			else
				memcpy(peer, t, len);
			if (len < 0)
				return bad(c, "element %zu is flagged escaped but not in the escaped form",
					   i);
			peer[len] = 0;
			det_baseline_add(c->d, pod, peer);
		}
	}
	return true;
}

/* An alert's opening record: the JSON text of an alert record of that
 * id, as it was written (it goes out again as it is). */
static bool record_of(struct pctx *c, struct json_object *o, const char *at,
		      struct dalert *a)
{
	struct json_object *r = NULL, *al, *id;
	struct json_tokener *tok;
	bool ok = false;
	size_t n;
	char *s;

	if (!bytes_of(c, o, at, "record", false, &s, &n))
		return false;
	if (!s)
		return true;
	tok = json_tokener_new();
	if (tok)
		r = json_tokener_parse_ex(tok, s, (int)n);
	if (!tok)
		bad(c, "out of memory");
	else if (!r || json_tokener_get_parse_end(tok) != n)
		bad(c, "not one JSON text");
	else if (!json_object_object_get_ex(r, "alert", &al) ||
		 !json_object_object_get_ex(al, "id", &id) ||
		 !json_object_is_type(id, json_type_string) ||
		 strcmp(json_object_get_string(id), a->id))
		bad(c, "not an alert record of id \"%s\"", a->id);
	else
		ok = true;
	json_object_put(r);
	if (tok)
		json_tokener_free(tok);
	if (!ok) {
		free(s);
		return false;
	}
	a->record = s;
	a->record_len = n;
	return true;
}

static bool alerts_read(struct pctx *c, struct json_object *alerts)
{
	static const char *const keys[] = { "id", "rule", "pod", "tree", "target",
					    "netns", "first", "last", "count",
					    "record", NULL };
	size_t i;

	for (i = 0; i < json_object_array_length(alerts); i++) {
		struct json_object *o = json_object_array_get_idx(alerts, i);
		unsigned long long netns, count;
		struct dalert a = {}, *n;
		char at[32];

		det_fmt(at, sizeof(at), "alerts[%zu]", i);
		det_fmt(c->where, sizeof(c->where), "%s", at);
		if (!json_object_is_type(o, json_type_object))
			return bad(c, "not an object");
		if (!only(c, o, at, keys) ||
		    !str_of(c, o, at, "id", true, a.id, sizeof(a.id)) ||
		    !rule_of(c, o, at, "rule", &a.rule) ||
		    !str_of(c, o, at, "pod", true, a.pod, sizeof(a.pod)) ||
		    !id_of(c, o, at, "tree", true, &a.tree) ||
		    !str_of(c, o, at, "target", c->version >= 2, a.target,
			    sizeof(a.target)) ||
		    !uint_of(c, o, at, "netns", true, UINT32_MAX, &netns) ||
		    !time_of(c, o, at, "first", true, &a.first_ns) ||
		    !time_of(c, o, at, "last", true, &a.last_ns) ||
		    !uint_of(c, o, at, "count", true, UINT32_MAX, &count) ||
		    !record_of(c, o, at, &a))
			return false;
		a.netns = (__u32)netns;
		a.count = (__u32)count;
		n = malloc(sizeof(*n));
		if (!n) {
			free(a.record);
			return bad(c, "out of memory");
		}
		*n = a;
		n->next = c->d->alerts;
		c->d->alerts = n;
	}
	return true;
}

static bool addr_of(struct pctx *c, struct json_object *o, const char *at,
		    const char *key, __u8 *family, union ps_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 1];

	memset(a, 0, sizeof(*a));
	if (!str_of(c, o, at, key, true, buf, sizeof(buf)))
		return false;
	if (inet_pton(AF_INET, buf, a->b) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->b) == 1)
		*family = AF_INET6;
	else
		return bad(c, "\"%s\" is not an address", buf);
	return true;
}

static bool channel_of(struct pctx *c, struct json_object *o, const char *at,
		       struct dchannel *ch)
{
	static const char *const keys[] = { "protocol", "peer_ip", "peer_port",
					    "local_ip", "local_port", "seen", NULL };
	unsigned long long port, lport;
	char proto[8], here[700];
	__u8 lfamily = 0;

	det_fmt(here, sizeof(here), "%s.channel", at);
	if (!only(c, o, here, keys) ||
	    !str_of(c, o, here, "protocol", true, proto, sizeof(proto)) ||
	    !addr_of(c, o, here, "peer_ip", &ch->family, &ch->addr) ||
	    !uint_of(c, o, here, "peer_port", true, 65535, &port) ||
	    !addr_of(c, o, here, "local_ip", &lfamily, &ch->laddr) ||
	    !uint_of(c, o, here, "local_port", true, 65535, &lport) ||
	    !time_of(c, o, here, "seen", true, &ch->ktime))
		return false;
	if (strcmp(proto, "tcp") && strcmp(proto, "udp")) {
		det_fmt(c->where, sizeof(c->where), "%s.protocol", here);
		return bad(c, "\"%s\" is not tcp or udp", proto);
	}
	if (lfamily != ch->family) {
		det_fmt(c->where, sizeof(c->where), "%s.local_ip", here);
		return bad(c, "not of the peer's address family");
	}
	ch->proto = proto[0] == 'u' ? IPPROTO_UDP : IPPROTO_TCP;
	ch->port = (__u16)port;
	ch->lport = (__u16)lport;
	ch->known = true;
	return true;
}

/* One process: v2 members at o, or v1 ({parent, netns, first,
 * exec_into, brief{exec_id, pid, binary, args}} keyed by its exec id). */
static bool proc_read(struct pctx *c, struct json_object *o, const char *at,
		      const char *v1_id)
{
	static const char *const keys[] = {
		"exec_id", "parent", "netns", "binary", "binary_escaped", "args",
		"args_escaped", "first", "exec_into", "pod", "foothold",
		"foothold_at", "why", "channel", NULL };
	static const char *const v1_keys[] = { "exec_id", "parent", "netns", "first",
					       "exec_into", "brief", NULL };
	struct ps_exec_id id, parent;
	unsigned long long netns;
	struct json_object *src = o, *fh, *ch;
	char *binary = NULL, *args = NULL, here[700];
	struct dchannel channel = {};
	bool first, exec_into, ok = false;
	__u32 args_len = 0;
	size_t binary_len;
	struct dproc *p;

	det_fmt(here, sizeof(here), "%s", at);
	if (!only(c, o, at, v1_id ? v1_keys : keys))
		return false;
	if (v1_id) {
		det_fmt(c->where, sizeof(c->where), "%s", at);
		if (!det_exec_id_parse(v1_id, &id))
			return bad(c, "\"%s\" is not an exec id (node:ktime:pid)", v1_id);
		if (!member(c, o, at, "brief", json_type_object, true, &src))
			return false;
		det_fmt(here, sizeof(here), "%s.brief", at);
	} else if (!id_of(c, o, at, "exec_id", true, &id)) {
		return false;
	}
	if (!id.pid) {
		det_fmt(c->where, sizeof(c->where), "%s.exec_id", at);
		return bad(c, "pid 0 is not a process");
	}
	if (!id_of(c, o, at, "parent", true, &parent) ||
	    !uint_of(c, o, at, "netns", true, UINT32_MAX, &netns) ||
	    !bool_of(c, o, at, "first", &first) ||
	    !bool_of(c, o, at, "exec_into", &exec_into) ||
	    !bytes_of(c, src, here, "binary", !v1_id, &binary, &binary_len) ||
	    !args_of(c, src, here, &args, &args_len))
		goto out;
	p = det_proc_restore(c->d, &id, &parent, (__u32)netns, binary, args, args_len);
	if (!p) {
		bad(c, "out of memory");
		goto out;
	}
	p->first = first;
	p->exec_into = exec_into;
	if (!v1_id && !member(c, o, at, "foothold", json_type_string, false, &fh))
		goto out;
	if (!v1_id && fh) {
		char podkey[DET_KEY];
		struct dpod *pod = NULL;
		__u64 at_ns;
		int rule;

		if (!rule_of(c, o, at, "foothold", &rule) ||
		    !time_of(c, o, at, "foothold_at", true, &at_ns) ||
		    !str_of(c, o, at, "why", false, dproc_why(p), DET_WHY) ||
		    !str_of(c, o, at, "pod", true, podkey, sizeof(podkey)) ||
		    !member(c, o, at, "channel", json_type_object, false, &ch) ||
		    (ch && !channel_of(c, ch, at, &channel)))
			goto out;
		pod = det_pod_restore(c->d, podkey);
		if (!pod) {
			bad(c, "out of memory");
			goto out;
		}
		p->channel = channel;
		det_foothold_restore(c->d, pod, p, rule, at_ns);
	}
	ok = true;
out:
	free(binary);
	free(args);
	return ok;
}

static bool procs_read(struct pctx *c, struct json_object *procs)
{
	size_t i;

	if (c->version < 2) {
		json_object_object_foreach(procs, key, o) {
			char at[160];

			det_fmt(at, sizeof(at), "processes.\"%.120s\"", key);
			det_fmt(c->where, sizeof(c->where), "%s", at);
			if (!json_object_is_type(o, json_type_object))
				return bad(c, "not an object");
			if (!proc_read(c, o, at, key))
				return false;
		}
		return true;
	}
	for (i = 0; i < json_object_array_length(procs); i++) {
		struct json_object *o = json_object_array_get_idx(procs, i);
		char at[32];

		det_fmt(at, sizeof(at), "processes[%zu]", i);
		det_fmt(c->where, sizeof(c->where), "%s", at);
		if (!json_object_is_type(o, json_type_object))
			return bad(c, "not an object");
		if (!proc_read(c, o, at, NULL))
			return false;
	}
	return true;
}

static bool state_read(struct pctx *c, struct json_object *s)
{
	static const char *const keys[] = { "version", "node", "saved", "pods",
					    "alerts", "processes", NULL };
	struct json_object *pods, *alerts, *procs;
	unsigned long long version;
	char node[256];
	__u64 saved;

	c->where[0] = 0;
	if (!json_object_is_type(s, json_type_object))
		return bad(c, "not an object");
	if (!uint_of(c, s, "", "version", true, 1000, &version))
		return false;
	if (version < 1 || version > STATE_VERSION)
		return bad(c, "version %llu is not one this podsentryd reads (1..%d)",
			   version, STATE_VERSION);
	c->version = (int)version;
	if (!only(c, s, "", keys) ||
	    !str_of(c, s, "", "node", false, node, sizeof(node)) ||
	    !time_of(c, s, "", "saved", false, &saved) ||
	    !member(c, s, "", "pods", json_type_object, true, &pods) ||
	    !member(c, s, "", "alerts", json_type_array, true, &alerts) ||
	    !member(c, s, "", "processes",
		    version >= 2 ? json_type_array : json_type_object, true, &procs))
		return false;
	return pods_read(c, pods) && procs_read(c, procs) && alerts_read(c, alerts);
}

/* The file's text, NUL-terminated: NULL with errno (EISDIR, EFBIG, ...). */
static char *file_read(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t off = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st)) {
		goto fail;
	} else if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	} else if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	} else if (st.st_size > STATE_MAX_BYTES) {
		errno = EFBIG;
		goto fail;
	}
	buf = malloc(st.st_size + 1);
	if (!buf)
		goto fail;
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	close(fd);
	buf[off] = 0;
	*len = off;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* The restored state is dropped when the file turns out broken part-way:
 * a state is read whole or not at all. */
static void state_clear(struct detect *d)
{
	alerts_free(d);
	det_forget_all(d);
}

int persist_load(struct detect *d)
{
	const char *file = d->o.state_file;
	struct pctx c = { .d = d, .now = clock_boot_ns() };
	struct json_tokener *tok;
	struct json_object *s = NULL;
	char bad_path[4200], *text;
	size_t len = 0;
	int err;

	if (!file)
		return 0;
	text = file_read(file, &len);
	if (!text) {
		err = errno;
		if (err == ENOENT)
			return 0; /* a first start */
		if (err == EISDIR || err == EACCES || err == ELOOP || err == EINVAL) {
			fprintf(stderr, "podsentryd: --state-file %s: %s%s\n", file,
				strerror(err),
				err == EISDIR ? " (give a file path, not a folder)" :
				err == ELOOP ? " (a symbolic link is not followed)" :
				err == EINVAL ? " (not a regular file)" : "");
			return -err;
		}
		det_fmt(c.msg, sizeof(c.msg), "%s", strerror(err));
		goto broken;
	}
	tok = json_tokener_new();
	if (!tok) {
		free(text);
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	s = json_tokener_parse_ex(tok, text, (int)len);
	if (!s || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		/* byte numbers count from 1: the byte where it goes wrong */
		det_fmt(c.msg, sizeof(c.msg), "not JSON: %s at byte %zu",
			je == json_tokener_continue ? "unexpected end of data"
						    : json_tokener_error_desc(je),
			json_tokener_get_parse_end(tok) + 1);
		json_object_put(s);
		s = NULL;
	} else {
		size_t end = json_tokener_get_parse_end(tok);

		while (end < len && strchr(" \t\r\n", text[end]))
			end++;
		if (end < len) {
			det_fmt(c.msg, sizeof(c.msg), "bytes after the state at byte %zu",
				end + 1);
			json_object_put(s);
			s = NULL;
		}
	}
	json_tokener_free(tok);
	free(text);
	if (s && state_read(&c, s)) {
		json_object_put(s);
		d->dirty = false;
		return 0;
	}
	json_object_put(s);
	state_clear(d);
broken:
	det_fmt(bad_path, sizeof(bad_path), "%s.broken", file);
	if (rename(file, bad_path)) {
		err = errno;
		fprintf(stderr, "podsentryd: state file %s: %s; cannot set it aside as %s: %s\n",
			file, c.msg, bad_path, strerror(err));
		return -err;
	}
	fprintf(stderr, "podsentryd: state file %s: %s; set aside as %s, starting with an empty state\n",
		file, c.msg, bad_path);
	d->c.state_errors++;
	d->dirty = true;
	return 0;
}
