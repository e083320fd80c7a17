// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "node/client/render.h"
#include "node/records/match.h"

#define C_RESET "\033[0m"
#define C_DIM "\033[2m"
#define C_RED "\033[1;31m"
#define C_YELLOW "\033[1;33m"
#define C_CYAN "\033[36m"

__s64 render_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- members ---- */

static struct json_object *get(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key) || !json_object_is_type(o, json_type_object))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

const char *render_get_str(struct json_object *o, const char *path, const char *def)
{
	struct json_object *v = get(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
							     : def;
}

long long render_get_int(struct json_object *o, const char *path, long long def)
{
	struct json_object *v = get(o, path);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

bool render_get_bool(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* ---- safe text ---- */

/* The length of the UTF-8 character at s, 0 when none starts there, and
 * its code point. */
static size_t utf8_at(const unsigned char *s, unsigned int *cp)
{
	size_t n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, *cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, *cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, *cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (*cp < 0x800 || (*cp >= 0xd800 && *cp < 0xe000))) ||
	    (n == 4 && (*cp < 0x10000 || *cp > 0x10ffff)))
		return 0;
	return n;
}

/* s with every control character (C0, DEL, C1) and every byte that is
 * not UTF-8 as \xNN, at most max bytes of it (cut with "…"). */
static void text(FILE *f, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t out = 0;

	while (*p) {
		unsigned int cp;
		size_t n = utf8_at(p, &cp);

		if (out >= max) {
			fputs("…", f);
			return;
		}
		if (!n || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			fprintf(f, "\\x%02x", *p);
			p++;
			out += 4;
			continue;
		}
		fwrite(p, 1, n, f);
		p += n;
		out += n;
	}
}

char *render_text_dup(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	text(f, s, (size_t)-1);
	fclose(f);
	return buf;
}

size_t render_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void paint(const struct render *rd, FILE *f, const char *color)
{
	if (rd->color)
		fputs(color, f);
}

/* ---- one record on one line ---- */

static void when(const struct render *rd, FILE *f, struct json_object *rec)
{
	const char *t = render_get_str(rec, "time", "");
	__s64 ns;

	paint(rd, f, C_DIM);
	if (!rfc3339_parse(t, strlen(t), &ns)) {
		time_t s = ns / 1000000000LL;
		struct tm tm;
		char buf[32];

		gmtime_r(&s, &tm);
		strftime(buf, sizeof(buf), "%b %d %H:%M:%S", &tm);
		fprintf(f, "%s.%03lld", buf, (long long)(ns % 1000000000LL) / 1000000);
	} else {
		text(f, t[0] ? t : "-", 40);
	}
	paint(rd, f, C_RESET);
}

static void pod_name(FILE *f, struct json_object *o, const char *path)
{
	struct json_object *p = get(o, path);
	const char *ns = render_get_str(p, "namespace", NULL);
	const char *name = render_get_str(p, "name", NULL);

	if (!name) {
		fputs("-", f);
		return;
	}
	if (ns && ns[0]) {
		text(f, ns, 253);
		fputc('/', f);
	}
	text(f, name, 253);
}

static void proc_name(FILE *f, struct json_object *proc)
{
	const char *bin = render_get_str(proc, "binary", NULL), *base;

	if (!bin) {
		fputs("-", f);
		return;
	}
	base = strrchr(bin, '/');
	text(f, base && base[1] ? base + 1 : bin, 64);
	if (render_get_int(proc, "pid", -1) >= 0)
		fprintf(f, "(%lld)", render_get_int(proc, "pid", 0));
}

static void args(FILE *f, struct json_object *proc)
{
	struct json_object *a = get(proc, "args");
	size_t i, n, used = 0;

	if (!a || !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	for (i = 0; i < n && used < 200; i++) {
		struct json_object *s = json_object_array_get_idx(a, i);

		if (!json_object_is_type(s, json_type_string))
			continue;
		fputc(' ', f);
		text(f, json_object_get_string(s), 200 - used);
		used += json_object_get_string_len(s) + 1;
	}
	if (i < n)
		fputs(" …", f);
}

static void bytes(FILE *f, long long b)
{
	if (b < 1024)
		fprintf(f, "%lld B", b);
	else if (b < 1024 * 1024)
		fprintf(f, "%.1f KiB", b / 1024.0);
	else if (b < 1024LL * 1024 * 1024)
		fprintf(f, "%.1f MiB", b / 1048576.0);
	else
		fprintf(f, "%.1f GiB", b / 1073741824.0);
}

/* An end of a flow or socket: ns/name:port when it is a pod, else
 * address:port (port left out when it has none). */
static void endpoint(FILE *f, struct json_object *end, bool port)
{
	long long p = render_get_int(end, "port", -1);
	const char *ip = render_get_str(end, "ip", NULL);

	if (get(end, "pod.name"))
		pod_name(f, end, "pod");
	else if (ip && strchr(ip, ':'))
		fprintf(f, "[%s]", ip);
	else
		fputs(ip ? ip : "?", f);
	if (port && p >= 0)
		fprintf(f, ":%lld", p);
}

static void flow_line(const struct render *rd, FILE *f, struct json_object *rec)
{
	struct json_object *fl = get(rec, "flow");
	bool ingress = !strcmp(render_get_str(fl, "direction", ""), "ingress");
	const char *state = render_get_str(fl, "state", NULL);
	const char *verdict = render_get_str(fl, "verdict", "");
	bool agg = render_get_bool(fl, "aggregate");

	fputs("  ", f);
	if (!get(rec, "pod") && !get(rec, "process"))
		/* a flow of no pod (to a group address): its sender */
		endpoint(f, get(fl, "src"), true);
	else
		proc_name(f, get(rec, "process"));
	paint(rd, f, C_CYAN);
	if (ingress) {
		fprintf(f, " :%lld <- ", render_get_int(fl, "dst.port", 0));
		endpoint(f, get(fl, "src"), false);
	} else {
		fputs(" -> ", f);
		endpoint(f, get(fl, "dst"), true);
	}
	paint(rd, f, C_RESET);
	fprintf(f, " %s", render_get_str(fl, "protocol", "?"));
	if (agg)
		fprintf(f, " x%lld", render_get_int(fl, "connections", 0));
	fputs("  out ", f);
	bytes(f, render_get_int(fl, "bytes_out", 0));
	fputs(" in ", f);
	bytes(f, render_get_int(fl, "bytes_in", 0));
	fputs("  ", f);
	if (!render_get_bool(fl, "final"))
		state = "update";
	if (state && (!strcmp(state, "refused") || !strcmp(state, "failed")))
		paint(rd, f, C_YELLOW);
	text(f, agg && !state ? "aggregate" : state ? state : "-", 32);
	paint(rd, f, C_RESET);
	if (verdict[0]) {
		fputc(' ', f);
		if (strcmp(verdict, "forwarded"))
			paint(rd, f, C_RED);
		text(f, verdict, 32);
		paint(rd, f, C_RESET);
	}
}

static void socket_line(const struct render *rd, FILE *f, struct json_object *rec)
{
	struct json_object *s = get(rec, "socket");

	fputs("  ", f);
	proc_name(f, get(rec, "process"));
	if (get(s, "src")) {
		fputc(' ', f);
		endpoint(f, get(s, "src"), true);
	}
	if (get(s, "dst")) {
		fputs(" -> ", f);
		endpoint(f, get(s, "dst"), true);
	}
	fprintf(f, " %s", render_get_str(s, "protocol", "?"));
	if (render_get_str(s, "state", NULL)) {
		fputc(' ', f);
		text(f, render_get_str(s, "state", ""), 32);
	}
}

static const char *severity_color(const char *sev)
{
	int l = severity_level(sev);

	return l >= 3 ? C_RED : C_YELLOW;
}

void render_record(const struct render *rd, FILE *f, struct json_object *rec)
{
	const char *type = render_get_str(rec, "type", "?");

	when(rd, f, rec);
	fputs("  ", f);
	pod_name(f, rec, "pod");
	fputs("  ", f);
	if (!strcmp(type, "flow")) {
		fputs("flow", f);
		flow_line(rd, f, rec);
	} else if (!strcmp(type, "process_exec")) {
		fputs("exec  ", f);
		proc_name(f, get(rec, "process"));
		args(f, get(rec, "process"));
	} else if (!strcmp(type, "process_exit")) {
		fputs("exit  ", f);
		proc_name(f, get(rec, "process"));
		if (render_get_int(rec, "signal", 0))
			fprintf(f, " signal %s",
				render_get_str(rec, "signal_name", "?"));
		else
			fprintf(f, " code %lld", render_get_int(rec, "exit_code", 0));
	} else if (!strcmp(type, "alert")) {
		const char *sev = render_get_str(rec, "alert.severity", "?");
		bool closed = !strcmp(render_get_str(rec, "alert.status", ""), "closed");

		paint(rd, f, closed ? C_DIM : severity_color(sev));
		fputs(closed ? "alert closed " : "ALERT ", f);
		text(f, sev, 16);
		fputc(' ', f);
		text(f, render_get_str(rec, "alert.rule", "?"), 64);
		paint(rd, f, C_RESET);
		if (closed)
			fprintf(f, " (%lld times)", render_get_int(rec, "alert.count", 0));
		fputs("  ", f);
		text(f, render_get_str(rec, "alert.summary", ""), 400);
	} else if (!strcmp(type, "lost")) {
		paint(rd, f, C_YELLOW);
		fputs("lost  ", f);
		text(f, render_get_str(rec, "lost.reason", "?"), 64);
		fprintf(f, " %lld (total %lld)", render_get_int(rec, "lost.count", 0),
			render_get_int(rec, "lost.total", 0));
		if (!strcmp(render_get_str(rec, "lost.reason", ""), "api_client_backlog"))
			fputs(": this client read too slowly, the daemon dropped them", f);
		paint(rd, f, C_RESET);
	} else if (!strcmp(type, "stats")) {
		fprintf(f, "stats  flows ended %lld, records exported %lld, dropped %lld",
			render_get_int(rec, "stats.flows.ended", 0),
			render_get_int(rec, "stats.export.records", 0),
			render_get_int(rec, "stats.export.dropped", 0));
	} else if (get(rec, "socket")) {
		text(f, type, 32);
		socket_line(rd, f, rec);
	} else {
		text(f, type, 32);
	}
	fputc('\n', f);
}

/* ---- an open alert, as a block ---- */

static void chain_entry(FILE *f, struct json_object *p, size_t i, bool last)
{
	fprintf(f, "    %zu.", i);
	args(f, p);
	if (!get(p, "args")) {
		fputc(' ', f);
		text(f, render_get_str(p, "binary", "?"), 200);
	}
	fprintf(f, "  (pid %lld", render_get_int(p, "pid", 0));
	if (render_get_bool(p, "container_first"))
		fputs(", the container's first process", f);
	if (render_get_bool(p, "exec_into_pod"))
		fputs(", entered the pod from outside", f);
	if (last)
		fputs(", the alert's process", f);
	fputs(")\n", f);
}

static void connection(FILE *f, struct json_object *c)
{
	fputs("    ", f);
	text(f, render_get_str(c, "protocol", "?"), 8);
	fputc(' ', f);
	endpoint(f, get(c, "src"), true);
	fputs(" -> ", f);
	endpoint(f, get(c, "dst"), true);
	if (render_get_bool(c, "channel"))
		fputs(" (the foothold's channel)", f);
	if (render_get_str(c, "state", NULL)) {
		fputc(' ', f);
		text(f, render_get_str(c, "state", ""), 16);
	}
	fputc('\n', f);
}

void render_alert_block(const struct render *rd, FILE *f, struct json_object *a)
{
	struct json_object *rec = get(a, "record"), *anc, *conns;
	const char *sev = render_get_str(a, "severity", "?");
	size_t i, n;

	paint(rd, f, severity_color(sev));
	text(f, sev, 16);
	fputc(' ', f);
	text(f, render_get_str(a, "rule", "?"), 64);
	paint(rd, f, C_RESET);
	fputs("  ", f);
	text(f, render_get_str(a, "pod", "?"), 520);
	if (render_get_str(a, "target", NULL)) {
		fputs(" -> ", f);
		text(f, render_get_str(a, "target", ""), 520);
	}
	if (render_get_str(rec, "alert.mitre", NULL))
		fprintf(f, "  (%s)", render_get_str(rec, "alert.mitre", ""));
	fprintf(f, "\n  id %s, %lld time%s, first ", render_get_str(a, "id", "?"),
		render_get_int(a, "count", 0), render_get_int(a, "count", 0) == 1 ? "" : "s");
	text(f, render_get_str(a, "first", "?"), 40);
	fputs(", last ", f);
	text(f, render_get_str(a, "last", "?"), 40);
	fputc('\n', f);
	if (!rec) {
		fputs("  (its record is not in the daemon's memory: it was opened before the daemon started)\n",
		      f);
		return;
	}
	fputs("  ", f);
	text(f, render_get_str(rec, "alert.summary", ""), 2000);
	fputc('\n', f);
	anc = get(rec, "ancestry");
	if (anc && json_object_is_type(anc, json_type_array) &&
	    (n = json_object_array_length(anc))) {
		fputs("  chain:\n", f);
		for (i = n; i > 0; i--)
			chain_entry(f, json_object_array_get_idx(anc, i - 1), n - i + 1, i == 1);
	}
	if (get(rec, "evidence.foothold")) {
		fputs("  foothold: ", f);
		text(f, render_get_str(rec, "evidence.foothold.rule", "?"), 64);
		if (render_get_str(rec, "evidence.foothold.why", NULL)) {
			fputs(", ", f);
			text(f, render_get_str(rec, "evidence.foothold.why", ""), 300);
		}
		if (render_get_str(rec, "evidence.foothold.remote", NULL)) {
			fputs(", channel ", f);
			text(f, render_get_str(rec, "evidence.foothold.remote", ""), 64);
		}
		fputc('\n', f);
	}
	conns = get(rec, "evidence.connections");
	if (conns && json_object_is_type(conns, json_type_array) &&
	    (n = json_object_array_length(conns))) {
		fputs("  connections:\n", f);
		for (i = 0; i < n; i++)
			connection(f, json_object_array_get_idx(conns, i));
	}
}

/* ---- status ---- */

void render_status(FILE *f, struct json_object *st)
{
	struct json_object *progs = get(st, "programs"), *maps = get(st, "maps"), *lost;
	long long up = render_get_int(st, "uptime_s", 0);
	size_t i, n;

	fprintf(f, "podsentryd %s (commit %s, bpf %s) on node ",
		render_get_str(st, "version", "?"), render_get_str(st, "commit", "?"),
		render_get_str(st, "bpf_build_id", "?"));
	text(f, render_get_str(st, "node", "?"), 64);
	fprintf(f, ", pid %lld, up %lldd%02lldh%02lldm%02llds\n", render_get_int(st, "pid", 0),
		up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);
	fprintf(f, "programs:    %lld of %lld in place", render_get_int(st, "programs_ok", 0),
		render_get_int(st, "programs_total", 0));
	n = progs && json_object_is_type(progs, json_type_array) ? json_object_array_length(progs) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(progs, i);

		fprintf(f, "%s%s %s%s", i ? ", " : " (", render_get_str(p, "name", "?"),
			render_get_str(p, "kind", "?"), render_get_bool(p, "ok") ? "" : " NOT IN PLACE");
	}
	fputs(n ? ")\n" : "\n", f);
	n = maps && json_object_is_type(maps, json_type_array) ? json_object_array_length(maps) : 0;
	fputs("maps:       ", f);
	for (i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(maps, i);

		fprintf(f, " %s %lld/%lld", render_get_str(m, "name", "?"),
			render_get_int(m, "entries", 0), render_get_int(m, "max_entries", 0));
	}
	fputc('\n', f);
	if (get(st, "ringbuf")) {
		fputs("ring buffer: ", f);
		bytes(f, render_get_int(st, "ringbuf.used", 0));
		fputs(" of ", f);
		bytes(f, render_get_int(st, "ringbuf.size", 0));
		fputs(" not read yet\n", f);
	}
	fprintf(f, "lost:        %lld events", render_get_int(st, "lost_total", 0));
	lost = get(st, "lost");
	if (lost && json_object_is_type(lost, json_type_object)) {
		bool first = true;

		json_object_object_foreach(lost, k, v) {
			fprintf(f, "%s%s %lld", first ? " (" : ", ", k, (long long)json_object_get_int64(v));
			first = false;
		}
		if (!first)
			fputc(')', f);
	}
	fputc('\n', f);
	fprintf(f, "export:      %lld records, ", render_get_int(st, "export.records", 0));
	bytes(f, render_get_int(st, "export.bytes", 0));
	fprintf(f, ", %lld dropped%s\n", render_get_int(st, "export.dropped", 0),
		render_get_bool(st, "export.failing") ? ", WRITES FAILING" : "");
	if (get(st, "pod_logs"))
		fprintf(f, "pod logs:    %lld records, %lld dropped%s\n",
			render_get_int(st, "pod_logs.records", 0),
			render_get_int(st, "pod_logs.dropped", 0),
			render_get_bool(st, "pod_logs.failing") ? ", WRITES FAILING" : "");
	fprintf(f, "flows:       %lld ended, %lld with their processes\n",
		render_get_int(st, "flows.ended", 0), render_get_int(st, "flows.with_process", 0));
	fprintf(f, "pods:        %lld watched, %lld open alerts\n", render_get_int(st, "pods", 0),
		render_get_int(st, "alerts_open", 0));
	fprintf(f, "api:         %lld of %lld clients (%lld following), %lld lines dropped for slow clients, recent %lld lines (",
		render_get_int(st, "api.clients", 0), render_get_int(st, "api.max_clients", 0),
		render_get_int(st, "api.following", 0), render_get_int(st, "api.dropped", 0),
		render_get_int(st, "api.ring_lines", 0));
	bytes(f, render_get_int(st, "api.ring_bytes", 0));
	fputs(")\n", f);
}

bool render_status_ok(struct json_object *st, const char *socket)
{
	struct json_object *progs = get(st, "programs");
	size_t i, n;
	bool first = true;

	if (render_get_bool(st, "ok"))
		return true;
	fprintf(stderr, "podsentry: podsentryd at %s: %lld of %lld programs in place", socket,
		render_get_int(st, "programs_ok", 0), render_get_int(st, "programs_total", 0));
	n = progs && json_object_is_type(progs, json_type_array) ? json_object_array_length(progs) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(progs, i);

		if (render_get_bool(p, "ok"))
			continue;
		fprintf(stderr, "%s%s (%s)", first ? "; not: " : ", ",
			render_get_str(p, "name", "?"), render_get_str(p, "kind", "?"));
		first = false;
	}
	fputc('\n', stderr);
	return false;
}
