// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "podsentry.h"
#include "cni/shared/state.h"
#include "cni/shared/text.h"
#include "version.h" /* build/: PS_VERSION, PS_GIT_COMMIT, PS_BPF_BUILD_ID */
#include "node/kern/loader.h"
#include "node/records/match.h"
#include "node/records/records.h"
#include "node/sinks/export.h"
#include "node/sinks/http.h"
#include "node/sinks/metrics.h"
#include "node/sinks/podlog.h"
#include "node/state/flows.h"
#include "node/state/pods.h"
#include "node/state/sockets.h"

#define METRICS_MAPS_NS (5ULL * 1000000000ULL)
#define METRICS_STATE_NS (5ULL * 1000000000ULL)
#define METRICS_GONE_SCAN_NS (1ULL * 1000000000ULL)
#define METRICS_TYPES 32
#define METRICS_ALERT_KEYS 64
#define METRICS_NAME_MAX 64 /* a record type, a rule or a severity */

/* The maps whose fill is shown (hash maps: entries / max_entries). */
static const char *const fill_maps[LOADER_NFILL] = LOADER_FILL_MAPS;
#define FILL_MAPS LOADER_NFILL

static const char *const drop_names[PS_DROP_MAX] = PS_DROP_REASON_NAMES;

/* Why podsentry-cni left a pod pending, from the start of its message
 * (cni/shared: "pin ...", "netns ...", "map ...", "attach ..."). */
static const struct {
	const char *prefix, *reason;
} pending_kinds[] = {
	{ "pin ", "pins_missing" },
	{ "netns ", "netns" },
	{ "peer of ", "host_link" },
	{ "map ", "register" },
	{ "create clsact", "attach" },
	{ "attach ", "attach" },
	{ "xdp on ", "attach" },
};
#define PENDING_REASONS 6 /* the distinct reasons above, and "other" */
static const char *const pending_reasons[PENDING_REASONS] = {
	"pins_missing", "netns", "host_link", "register", "attach", "other",
};

struct name_count {
	char name[METRICS_NAME_MAX];
	unsigned long long n;
};

struct alert_count {
	char rule[METRICS_NAME_MAX], severity[METRICS_NAME_MAX];
	unsigned long long n;
};

struct pod_count {
	char *namespace, *name; /* NULL: the place is free */
	__u32 netns;		/* the pod's netns when last counted */
	unsigned long long flows;
};

struct map_fill {
	int fd;
	__u32 max_entries;
	long long entries; /* -1: could not be counted */
};

struct metrics {
	struct http *http;
	int listen_fd;
	char addr[128];
	struct metrics_src src;
	/* from the records */
	struct name_count types[METRICS_TYPES];
	unsigned long long types_other;
	struct alert_count alerts[METRICS_ALERT_KEYS];
	unsigned long long alerts_other;
	struct pod_count *pods;
	unsigned int max_pods;
	unsigned long long pods_other;
	__u64 gone_scan;
	/* read at most every METRICS_MAPS_NS */
	struct map_fill maps[FILL_MAPS];
	__u64 maps_read;
	/* podsentry-cni's state files, every METRICS_STATE_NS */
	long long cni_attached, cni_unreadable;
	long long cni_pending[PENDING_REASONS];
	bool cni_dir_error;
	__u64 state_read;
	long long boot_time; /* unix time of boot, s */
	unsigned long long scrapes;
};

/* ---- --metrics ADDR:PORT ---- */

int metrics_addr_parse(const char *s, struct sockaddr_storage *sa,
		       socklen_t *salen, char *why, size_t len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port, *colon;
	unsigned long p;
	size_t hlen;
	char *end;

	memset(sa, 0, sizeof(*sa));
	if (s[0] == '[') {
		colon = strstr(s, "]:");
		if (!colon) {
			snprintf(why, len, "an IPv6 address is written [ADDR]:PORT");
			return -EINVAL;
		}
		hlen = colon - s - 1;
		port = colon + 2;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(why, len, "not ADDR:PORT (e.g. 127.0.0.1:%d)",
				 METRICS_PORT_DEFAULT);
			return -EINVAL;
		}
		hlen = colon - s;
		port = colon + 1;
	}
	if (!hlen || hlen >= sizeof(host)) {
		snprintf(why, len, "the address is missing or too long");
		return -EINVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = 0;
	errno = 0;
	p = strtoul(port, &end, 10);
	if (port[0] < '0' || port[0] > '9' || *end || errno || p < 1 ||
	    p > 65535) {
		snprintf(why, len, "port \"%s\" is not a number from 1 to 65535",
			 port);
		return -EINVAL;
	}
	if (s[-1] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
			snprintf(why, len, "\"%s\" is not an IPv6 address", host);
			return -EINVAL;
		}
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(p);
		*salen = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)sa;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
			snprintf(why, len,
				 "\"%s\" is not an IPv4 address (IPv6: [ADDR]:PORT)",
				 host);
			return -EINVAL;
		}
		a4->sin_family = AF_INET;
		a4->sin_port = htons(p);
		*salen = sizeof(*a4);
	}
	return 0;
}

/* ---- counting the records ---- */

/* The value of the first "key":"..." of a record line (the key is one
 * of the data model's, and a '"' inside a string is always escaped, so
 * the pattern cannot start inside a string); false when absent or not
 * a short plain name. */
static bool line_name(const char *line, size_t len, const char *pat,
		      char *out, size_t outlen)
{
	const char *p = memmem(line, len, pat, strlen(pat)), *e, *q;

	if (!p)
		return false;
	p += strlen(pat);
	e = memchr(p, '"', line + len - p);
	if (!e || e == p || (size_t)(e - p) >= outlen)
		return false;
	for (q = p; q < e; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
		      *q == '_' || *q == '-'))
			return false;
	memcpy(out, p, e - p);
	out[e - p] = 0;
	return true;
}

static void type_count(struct metrics *m, const char *type)
{
	int i;

	for (i = 0; i < METRICS_TYPES && m->types[i].name[0]; i++)
		if (!strcmp(m->types[i].name, type)) {
			m->types[i].n++;
			return;
		}
	if (i == METRICS_TYPES) {
		m->types_other++;
		return;
	}
	snprintf(m->types[i].name, sizeof(m->types[i].name), "%s", type);
	m->types[i].n = 1;
}

static const char *json_str(struct json_object *o, const char *a,
			    const char *b)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, a, &v) ||
	    !json_object_object_get_ex(v, b, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Alerts are few: the line is parsed. An alert is counted when it opens
 * (a record with status "closed" is the same alert again). */
static void alert_count(struct metrics *m, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = tok ? json_tokener_parse_ex(tok, line, len) : NULL;
	const char *rule, *sev, *status;
	int i;

	json_tokener_free(tok);
	if (!o)
		return;
	rule = json_str(o, "alert", "rule");
	sev = json_str(o, "alert", "severity");
	status = json_str(o, "alert", "status");
	if (!rule || !sev || (status && strcmp(status, "open"))) {
		json_object_put(o);
		return;
	}
	for (i = 0; i < METRICS_ALERT_KEYS && m->alerts[i].rule[0]; i++)
		if (!strcmp(m->alerts[i].rule, rule) &&
		    !strcmp(m->alerts[i].severity, sev))
			break;
	if (i == METRICS_ALERT_KEYS || strlen(rule) >= METRICS_NAME_MAX ||
	    strlen(sev) >= METRICS_NAME_MAX) {
		m->alerts_other++;
	} else {
		if (!m->alerts[i].rule[0]) {
			strcpy(m->alerts[i].rule, rule);
			strcpy(m->alerts[i].severity, sev);
		}
		m->alerts[i].n++;
	}
	json_object_put(o);
}

static void pod_free(struct pod_count *p)
{
	free(p->namespace);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

/* Free the places of pods that are gone (their series end); at most
 * once a second, when a new pod finds the table full. */
static bool pods_make_room(struct metrics *m)
{
	__u64 now = clock_boot_coarse_ns();
	bool freed = false;
	unsigned int i;

	if (!m->src.rc || now - m->gone_scan < METRICS_GONE_SCAN_NS)
		return false;
	m->gone_scan = now;
	for (i = 0; i < m->max_pods; i++)
		if (m->pods[i].name && !record_pod_known(m->src.rc, m->pods[i].netns)) {
			pod_free(&m->pods[i]);
			freed = true;
		}
	return freed;
}

static struct pod_count *pod_find(struct metrics *m, __u32 netns,
				  const char *ns, const char *name)
{
	struct pod_count *free_at = NULL;
	unsigned int i;

	for (i = 0; i < m->max_pods; i++) {
		struct pod_count *p = &m->pods[i];

		if (p->name && p->netns == netns && !strcmp(p->name, name) &&
		    !strcmp(p->namespace, ns))
			return p;
	}
	for (i = 0; i < m->max_pods; i++) {
		struct pod_count *p = &m->pods[i];

		if (!p->name) {
			if (!free_at)
				free_at = p;
			continue;
		}
		if (!strcmp(p->name, name) && !strcmp(p->namespace, ns)) {
			p->netns = netns; /* the pod again, in a new netns */
			return p;
		}
	}
	if (!free_at && pods_make_room(m))
		for (i = 0; i < m->max_pods && !free_at; i++)
			if (!m->pods[i].name)
				free_at = &m->pods[i];
	if (!free_at)
		return NULL;
	free_at->namespace = strdup(ns);
	free_at->name = strdup(name);
	if (!free_at->namespace || !free_at->name) {
		pod_free(free_at);
		return NULL;
	}
	free_at->netns = netns;
	return free_at;
}

static void pod_flows(struct metrics *m, __u32 netns, unsigned long long n)
{
	const struct pod_info *pi;
	struct pod_count *p;

	if (!netns || !m->src.rc)
		return;
	pi = m->src.rc->pods ? pods_by_netns(m->src.rc->pods, netns) : NULL;
	if (!pi && !record_pod_known(m->src.rc, netns))
		return; /* not a pod */
	p = pod_find(m, netns, pi ? pi->namespace : "", pi ? pi->name : "_unnamed");
	if (p)
		p->flows += n;
	else
		m->pods_other += n;
}

void metrics_record(struct metrics *m, const char *line, size_t len,
		    __u32 netns_a, __u32 netns_b)
{
	char type[METRICS_NAME_MAX];
	unsigned long long n;

	if (!m)
		return;
	if (!line_name(line, len, "\"type\":\"", type, sizeof(type))) {
		m->types_other++;
		return;
	}
	type_count(m, type);
	if (!strcmp(type, "alert")) {
		alert_count(m, line, len);
	} else if (!strcmp(type, "flow")) {
		n = rec_line_connections(line, len);
		if (!n)
			return;
		pod_flows(m, netns_a, n);
		if (netns_b != netns_a)
			pod_flows(m, netns_b, n);
	}
}

/* ---- the exposition text ---- */

struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void text_printf(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 16384;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *b = realloc(t->buf, cap);
		if (!b) {
			t->oom = true;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

/* A label value: text kept, '\\', '"' and newline escaped as the format
 * says, and every other control byte and every byte that is not part of
 * valid UTF-8 written as the text \xNN (as the records' escaped form). */
static void label_value(struct text *t, const char *s)
{
	size_t n = strlen(s), i = 0, k;
	unsigned int cp;

	while (i < n) {
		unsigned char c = s[i];

		if (c == '\\' || c == '"') {
			text_printf(t, "\\%c", c);
			i++;
		} else if (c == '\n') {
			text_printf(t, "\\n");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			text_printf(t, "\\\\x%02x", c);
			i++;
		} else if (c < 0x80) {
			text_printf(t, "%c", c);
			i++;
		} else if ((k = utf8_seq(s + i, n - i, &cp)) && cp >= 0xa0) {
			text_printf(t, "%.*s", (int)k, s + i);
			i += k;
		} else {
			text_printf(t, "\\\\x%02x", c);
			i++;
		}
	}
}

static void help(struct text *t, const char *name, const char *type,
		 const char *what)
{
	text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, what, name, type);
}

static void metric1(struct text *t, const char *name, const char *type,
		    const char *what, unsigned long long v)
{
	help(t, name, type, what);
	text_printf(t, "%s %llu\n", name, v);
}

static void render_records(struct metrics *m, struct text *t)
{
	unsigned int i;

	help(t, "podsentry_records_total", "counter",
	     "Records made and passed to the outputs, by type.");
	for (i = 0; i < METRICS_TYPES && m->types[i].name[0]; i++)
		text_printf(t, "podsentry_records_total{type=\"%s\"} %llu\n",
			    m->types[i].name, m->types[i].n);
	text_printf(t, "podsentry_records_total{type=\"_other\"} %llu\n",
		    m->types_other);

	help(t, "podsentry_flows_total", "counter",
	     "Connections of a pod of the node (an aggregate record counts its connections; a pod-to-pod connection counts for both pods).");
	for (i = 0; i < m->max_pods; i++) {
		if (!m->pods[i].name)
			continue;
		text_printf(t, "podsentry_flows_total{namespace=\"");
		label_value(t, m->pods[i].namespace);
		text_printf(t, "\",pod=\"");
		label_value(t, m->pods[i].name);
		text_printf(t, "\"} %llu\n", m->pods[i].flows);
	}
	text_printf(t, "podsentry_flows_total{namespace=\"\",pod=\"_other\"} %llu\n",
		    m->pods_other);

	help(t, "podsentry_alerts_total", "counter",
	     "Alerts opened, by rule and severity.");
	for (i = 0; i < METRICS_ALERT_KEYS && m->alerts[i].rule[0]; i++) {
		text_printf(t, "podsentry_alerts_total{rule=\"");
		label_value(t, m->alerts[i].rule);
		text_printf(t, "\",severity=\"");
		label_value(t, m->alerts[i].severity);
		text_printf(t, "\"} %llu\n", m->alerts[i].n);
	}
	text_printf(t, "podsentry_alerts_total{rule=\"_other\",severity=\"\"} %llu\n",
		    m->alerts_other);
}

/* One family after the other, each with its outputs (the format wants
 * a family's samples together, after its HELP and TYPE). */
static void output_counters(struct text *t, struct metrics *m)
{
	static const struct {
		const char *name, *what;
	} fam[] = {
		{ "podsentry_output_records_total", "Record lines written, by output." },
		{ "podsentry_output_dropped_records_total",
		  "Record lines a failing write dropped, by output." },
		{ "podsentry_output_write_failures_total",
		  "Times writing an output started failing, by output." },
	};
	struct sink_counters c[2];
	const char *name[2];
	unsigned int i, j, n = 0;

	if (m->src.out) {
		c[n] = exporter_counters(m->src.out);
		name[n++] = "export";
	}
	if (m->src.podlog) {
		c[n] = podlog_counters(m->src.podlog);
		name[n++] = "pod_logs";
	}
	for (i = 0; i < 3; i++) {
		help(t, fam[i].name, "counter", fam[i].what);
		for (j = 0; j < n; j++)
			text_printf(t, "%s{output=\"%s\"} %llu\n", fam[i].name, name[j],
				    i == 0 ? c[j].lines : i == 1 ? c[j].dropped
								 : c[j].episodes);
	}
}

static void render_lost(struct metrics *m, struct text *t)
{
	struct sink_counters c;
	unsigned int k;

	help(t, "podsentry_lost_events_total", "counter",
	     "What the kernel could not record, by reason (the drops map).");
	for (k = 0; k < PS_DROP_MAX; k++)
		text_printf(t, "podsentry_lost_events_total{reason=\"%s\"} %llu\n",
			    drop_names[k] ? drop_names[k] : "unknown",
			    m->src.drops ? (unsigned long long)m->src.drops[k] : 0);
	metric1(t, "podsentry_records_unwritten_total", "counter",
		"Records not built for want of memory.",
		m->src.unwritten ? *m->src.unwritten : 0);

	output_counters(t, m);
	if (m->src.out) {
		c = exporter_counters(m->src.out);
		metric1(t, "podsentry_export_bytes_total", "counter",
			"Bytes written to the export.", c.bytes);
	}
}

static void render_stats(struct metrics *m, struct text *t)
{
	const struct flow_stats *f = m->src.flows ? flows_stats(m->src.flows) : NULL;
	const struct socket_stats *s = m->src.sockets ? sockets_stats(m->src.sockets)
						      : NULL;
	unsigned long long total;

	if (f) {
		total = f->with_process + f->without_process;
		metric1(t, "podsentry_flows_ended_total", "counter",
			"Final flow records (the stats record's flows.ended).", total);
		metric1(t, "podsentry_flows_with_process_total", "counter",
			"Final flow records with every pod end named by its process.",
			f->with_process);
		help(t, "podsentry_flow_attribution_ratio", "gauge",
		     "Share of ended flows with every pod end named (stats.flows.attribution).");
		text_printf(t, "podsentry_flow_attribution_ratio %.6g\n",
			    total ? (double)f->with_process / total : 1.0);
		metric1(t, "podsentry_flow_updates_total", "counter",
			"Periodic records of long flows.", f->updates);
		metric1(t, "podsentry_flows_idle_total", "counter",
			"Flows ended by the idle timeout.", f->idle);
		metric1(t, "podsentry_flows_evicted_total", "counter",
			"Long flows the kernel's LRU evicted (reported from their last update).",
			f->evicted);
		metric1(t, "podsentry_flows_aggregated_total", "counter",
			"Connections folded into aggregate records.", f->aggregated);
	}
	if (s) {
		metric1(t, "podsentry_socket_connects_total", "counter",
			"Connects seen by the socket programs.", s->connects);
		metric1(t, "podsentry_socket_connects_failed_total", "counter",
			"Connects that failed.", s->connects_failed);
		metric1(t, "podsentry_socket_accepts_total", "counter",
			"Accepts seen by the socket programs.", s->accepts);
		metric1(t, "podsentry_socket_notices_total", "counter",
			"Connection notices the kernel sent to detection.", s->notices);
		metric1(t, "podsentry_socket_quiet_total", "counter",
			"Connections the kernel decided not to send (learned peers).",
			s->quiet);
	}
}

static void maps_read(struct metrics *m)
{
	__u64 now = clock_boot_coarse_ns();
	unsigned int i;

	if (m->maps_read && now - m->maps_read < METRICS_MAPS_NS)
		return;
	m->maps_read = now;
	for (i = 0; i < FILL_MAPS; i++) {
		struct map_fill *f = &m->maps[i];

		f->entries = loader_map_entries(f->fd, &f->max_entries);
	}
}

static void render_maps(struct metrics *m, struct text *t)
{
	unsigned long used;
	unsigned int i;
	__u32 size;

	if (!m->src.loader)
		return;
	maps_read(m);
	help(t, "podsentry_map_entries", "gauge",
	     "Entries in a pinned BPF map (counted at most every 5 s).");
	for (i = 0; i < FILL_MAPS; i++)
		if (m->maps[i].entries >= 0)
			text_printf(t, "podsentry_map_entries{map=\"%s\"} %lld\n",
				    fill_maps[i], m->maps[i].entries);
	help(t, "podsentry_map_max_entries", "gauge",
	     "Size of a pinned BPF map (max_entries).");
	for (i = 0; i < FILL_MAPS; i++)
		if (m->maps[i].entries >= 0)
			text_printf(t, "podsentry_map_max_entries{map=\"%s\"} %u\n",
				    fill_maps[i], m->maps[i].max_entries);
	help(t, "podsentry_map_evictions_total", "counter",
	     "Entries the kernel's LRU evicted to make room (flows4 and flows6).");
	text_printf(t, "podsentry_map_evictions_total{map=\"flows\"} %llu\n",
		    m->src.drops ? (unsigned long long)m->src.drops[PS_DROP_FLOW_EVICTED]
				 : 0);
	if (!loader_ringbuf_use(m->src.loader, &used, &size)) {
		metric1(t, "podsentry_ringbuf_used_bytes", "gauge",
			"Bytes in the events ring buffer not read yet.", used);
		metric1(t, "podsentry_ringbuf_size_bytes", "gauge",
			"Size of the events ring buffer.", size);
	}
}

/* /proc/self: CPU seconds, memory, start time, descriptors (the names
 * every Prometheus client library uses). */
static void render_process(struct metrics *m, struct text *t)
{
	unsigned long long utime, stime, start, vsize, size, resident;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char buf[1024], *p;
	struct dirent *de;
	long long nfd = 0;
	FILE *f;
	DIR *d;

	f = fopen("/proc/self/stat", "re");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = 0;
		fclose(f);
		p = strrchr(buf, ')');
		/* fields 3 (state) on; utime is 14, stime 15, starttime 22,
		 * vsize 23 */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu",
				&utime, &stime, &start, &vsize) == 4 && tck > 0) {
			help(t, "process_cpu_seconds_total", "counter",
			     "User and system CPU time spent, in seconds.");
			text_printf(t, "process_cpu_seconds_total %.2f\n",
				    (double)(utime + stime) / tck);
			metric1(t, "process_virtual_memory_bytes", "gauge",
				"Virtual memory size in bytes.", vsize);
			if (m->boot_time) {
				help(t, "process_start_time_seconds", "gauge",
				     "Start time of the process since the Unix epoch, in seconds.");
				text_printf(t, "process_start_time_seconds %.2f\n",
					    m->boot_time + (double)start / tck);
			}
		}
	}
	f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%llu %llu", &size, &resident) == 2)
			metric1(t, "process_resident_memory_bytes", "gauge",
				"Resident memory size in bytes.",
				resident * (unsigned long long)page);
		fclose(f);
	}
	d = opendir("/proc/self/fd");
	if (d) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				nfd++;
		closedir(d);
		metric1(t, "process_open_fds", "gauge",
			"Number of open file descriptors.", nfd - 1);
	}
}

static const char *pending_reason(const char *why)
{
	size_t i;

	if (!strncmp(why, "pending: ", 9))
		why += 9;
	for (i = 0; i < sizeof(pending_kinds) / sizeof(pending_kinds[0]); i++)
		if (!strncmp(why, pending_kinds[i].prefix, strlen(pending_kinds[i].prefix)))
			return pending_kinds[i].reason;
	return "other";
}

/* The state files, as podsentry-cni wrote them (names as state.c: not
 * hidden, "<id>:<ifname>.json"). */
static void cni_read(struct metrics *m)
{
	__u64 now = clock_boot_coarse_ns();
	struct pod_state *st;
	char path[PATH_MAX], why[STATE_ERR_LEN];
	struct dirent *de;
	const char *r;
	DIR *d;
	int i;

	if (m->state_read && now - m->state_read < METRICS_STATE_NS)
		return;
	m->state_read = now;
	m->cni_attached = m->cni_unreadable = 0;
	memset(m->cni_pending, 0, sizeof(m->cni_pending));
	m->cni_dir_error = false;
	d = opendir(m->src.state_dir);
	if (!d) {
		m->cni_dir_error = errno != ENOENT;
		return;
	}
	st = malloc(sizeof(*st));
	while (st && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || n <= 5 || strcmp(de->d_name + n - 5, ".json") ||
		    !strchr(de->d_name, ':'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", m->src.state_dir, de->d_name);
		if (state_load(path, st, why)) {
			m->cni_unreadable++;
			continue;
		}
		if (!st->pending) {
			m->cni_attached++;
			continue;
		}
		r = pending_reason(st->pending_reason);
		for (i = 0; i < PENDING_REASONS; i++)
			if (!strcmp(pending_reasons[i], r))
				m->cni_pending[i]++;
	}
	free(st);
	closedir(d);
}

static void render_cni(struct metrics *m, struct text *t)
{
	int i;

	if (!m->src.state_dir)
		return;
	cni_read(m);
	help(t, "podsentry_cni_attachments", "gauge",
	     "podsentry-cni's attachments (state files): attached, pending by reason, unreadable.");
	text_printf(t, "podsentry_cni_attachments{state=\"attached\",reason=\"\"} %lld\n",
		    m->cni_attached);
	for (i = 0; i < PENDING_REASONS; i++)
		text_printf(t, "podsentry_cni_attachments{state=\"pending\",reason=\"%s\"} %lld\n",
			    pending_reasons[i], m->cni_pending[i]);
	text_printf(t, "podsentry_cni_attachments{state=\"unreadable\",reason=\"\"} %lld\n",
		    m->cni_unreadable);
	metric1(t, "podsentry_cni_state_dir_errors", "gauge",
		"1 when the state folder could not be read at the last look.",
		m->cni_dir_error);
}

char *metrics_render(struct metrics *m, size_t *len)
{
	struct text t = {};

	help(&t, "podsentry_build_info", "gauge", "The running podsentryd's version.");
	text_printf(&t, "podsentry_build_info{version=\"%s\",commit=\"%s\",bpf_build_id=\"%s\"} 1\n",
		    PS_VERSION, PS_GIT_COMMIT, PS_BPF_BUILD_ID);
	render_records(m, &t);
	render_lost(m, &t);
	render_stats(m, &t);
	render_maps(m, &t);
	render_process(m, &t);
	render_cni(m, &t);
	metric1(&t, "podsentry_metrics_scrapes_total", "counter",
		"Scrapes of this endpoint.", ++m->scrapes);
	{
		const struct http_counters *hc = http_counters(m->http);

		help(&t, "podsentry_metrics_http_errors_total", "counter",
		     "Connections to this endpoint refused over its bounds, ended idle in the middle of a request, and requests that are not HTTP.");
		text_printf(&t, "podsentry_metrics_http_errors_total{reason=\"refused\"} %llu\n"
			    "podsentry_metrics_http_errors_total{reason=\"timeout\"} %llu\n"
			    "podsentry_metrics_http_errors_total{reason=\"bad_request\"} %llu\n",
			    hc->refused, hc->timeouts, hc->bad);
	}
	if (t.oom) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}

/* ---- the HTTP side (http.c) ---- */

static char *render(void *arg, size_t *len)
{
	return metrics_render(arg, len);
}

/* A busy port or a bad address gets its own error line. */
static int listen_on(const char *addr, struct sockaddr_storage *sa,
		     socklen_t salen)
{
	int fd, one = 1;

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		fprintf(stderr, "podsentryd: --metrics %s: socket: %s\n", addr,
			strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)sa, salen) || listen(fd, 64)) {
		fprintf(stderr, "podsentryd: --metrics %s: %s: %s\n", addr,
			errno == EADDRINUSE ? "the port is in use" :
			errno == EADDRNOTAVAIL ? "no such local address" : "bind",
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static long long boot_time(void)
{
	char line[256];
	long long bt = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

struct metrics *metrics_open(const char *addr, unsigned int max_pods)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	char why[160];
	struct metrics *m;
	unsigned int i;

	if (metrics_addr_parse(addr, &sa, &salen, why, sizeof(why))) {
		fprintf(stderr, "podsentryd: --metrics: \"%s\": %s\n", addr, why);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->pods = calloc(max_pods ? max_pods : 1, sizeof(*m->pods)))) {
		free(m);
		fprintf(stderr, "podsentryd: --metrics %s: out of memory\n", addr);
		return NULL;
	}
	m->max_pods = max_pods;
	m->listen_fd = -1;
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	for (i = 0; i < FILL_MAPS; i++)
		m->maps[i].fd = -1;
	m->boot_time = boot_time();
	m->listen_fd = listen_on(addr, &sa, salen);
	if (m->listen_fd < 0) {
		metrics_free(m);
		return NULL;
	}
	m->http = http_open(m->listen_fd, addr, "/metrics",
			    "text/plain; version=0.0.4; charset=utf-8", render, m);
	m->listen_fd = -1; /* the server's now */
	if (!m->http) {
		fprintf(stderr, "podsentryd: --metrics %s: the HTTP server did not start: %s\n",
			addr, strerror(errno));
		metrics_free(m);
		return NULL;
	}
	return m;
}

void metrics_sources(struct metrics *m, const struct metrics_src *src)
{
	unsigned int i;

	if (!m)
		return;
	m->src = *src;
	if (!src->loader)
		return;
	for (i = 0; i < FILL_MAPS; i++)
		m->maps[i].fd = loader_map_fd(src->loader, fill_maps[i]);
}

int metrics_fd(const struct metrics *m)
{
	return m ? http_fd(m->http) : -1;
}

void metrics_run(struct metrics *m)
{
	if (m)
		http_run(m->http);
}

void metrics_free(struct metrics *m)
{
	unsigned int i;

	if (!m)
		return;
	http_free(m->http);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	for (i = 0; i < m->max_pods; i++)
		pod_free(&m->pods[i]);
	free(m->pods);
	free(m);
}
