// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <graphviz/gvc.h>
#include <json-c/json.h>

#include "node/client/report.h"

#define REPORT_LABEL_MAX 48 /* characters of a name or command in a graph */
#define REPORT_PORTS_MAX 64

/* The daemon's default sensitive ports (README.md, sensitive-service-access) */
static const int default_ports[] = { 9200, 2379, 6443, 10250, 3306, 5432, 6379, 27017 };

static const char usage_text[] =
"Usage: podsentry report --file EXPORT -o REPORT.html [--sensitive-ports LIST]\n"
"\n"
"Make one self-contained HTML page from podsentryd's export (JSON lines):\n"
"a service map of the pods and their peers (connections and bytes per\n"
"edge, sensitive ports and edges named by an alert marked), and for each\n"
"alert its process chain and the timeline of its evidence.\n"
"\n"
"Options:\n"
"  --file FILE        the export to read (podsentryd --export)\n"
"  -o, --output FILE  the page to write (- for stdout)\n"
"  --sensitive-ports LIST  ports marked on the map (comma-separated;\n"
"                     default 9200,2379,6443,10250,3306,5432,6379,27017)\n"
"  -h, --help         this text\n"
"\n"
"Example:\n"
"  podsentry report --file /var/log/podsentry/events.json -o report.html\n";

/* A node of the service map: a pod or an address outside the pods. */
struct peer {
	char *key;   /* "pod:NS/NAME", "ip:ADDR" */
	char *label; /* what is drawn */
	bool pod, alerted;
};

/* An edge: the connections from one peer to another's port. */
struct edge {
	int src, dst;
	char proto[16];
	int port; /* -1: none (ICMP) */
	unsigned long long conns, refused, bytes;
	bool sensitive, alerted;
};

struct report {
	const char *path;
	unsigned long long records, lines;
	char *first, *last; /* times of the records */
	struct peer *peers;
	int npeers, cap_peers;
	struct edge *edges;
	int nedges, cap_edges;
	struct json_object *peer_idx, *edge_idx; /* key -> index */
	struct json_object *execs;  /* exec_id -> process_exec record */
	struct json_object *alerts; /* array of alert records, by first seen */
	struct json_object *alert_idx; /* id -> index in alerts */
	struct json_object *other_protos; /* protocol -> flows not drawn */
	struct json_object *nodes;	  /* node names seen */
	int ports[REPORT_PORTS_MAX], nports;
};

/* ---- reading the records ---- */

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
							   : NULL;
}

static long long get_int(struct json_object *o, const char *key, long long def)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
							  : def;
}

static bool get_bool(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static bool port_sensitive(const struct report *r, int port)
{
	int i;

	for (i = 0; i < r->nports; i++)
		if (r->ports[i] == port)
			return true;
	return false;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fputs("podsentry report: out of memory\n", stderr);
		exit(1);
	}
	return d;
}

static void *grow(void *p, int *cap, size_t size)
{
	*cap = *cap ? *cap * 2 : 64;
	p = realloc(p, (size_t)*cap * size);
	if (!p) {
		fputs("podsentry report: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

/* The map's node for one end of a flow or a connection: its pod, else
 * its address. -1 when the end names neither. */
static int peer_of(struct report *r, struct json_object *end)
{
	struct json_object *pod = get(end, "pod"), *idx;
	char key[1100], label[1100];
	const char *ns, *name, *ip;
	struct peer *p;

	if (pod) {
		ns = get_str(pod, "namespace");
		name = get_str(pod, "name");
		if (name) {
			snprintf(key, sizeof(key), "pod:%s/%s", ns ? ns : "", name);
			snprintf(label, sizeof(label), "%s/%s", ns ? ns : "", name);
		} else {
			/* a pod no state file names yet */
			snprintf(key, sizeof(key), "pod:netns-%lld", get_int(pod, "netns", 0));
			snprintf(label, sizeof(label), "netns %lld", get_int(pod, "netns", 0));
		}
	} else if ((ip = get_str(end, "ip"))) {
		snprintf(key, sizeof(key), "ip:%s", ip);
		snprintf(label, sizeof(label), "%s", ip);
	} else {
		return -1;
	}
	if (json_object_object_get_ex(r->peer_idx, key, &idx))
		return json_object_get_int(idx);
	if (r->npeers == r->cap_peers)
		r->peers = grow(r->peers, &r->cap_peers, sizeof(*r->peers));
	p = &r->peers[r->npeers];
	p->key = xstrdup(key);
	p->label = xstrdup(label);
	p->pod = pod != NULL;
	p->alerted = false;
	json_object_object_add(r->peer_idx, key, json_object_new_int(r->npeers));
	return r->npeers++;
}

static struct edge *edge_of(struct report *r, int src, int dst,
			    const char *proto, int port)
{
	struct json_object *idx;
	struct edge *e;
	char key[96];

	snprintf(key, sizeof(key), "%d>%d/%.15s/%d", src, dst, proto, port);
	if (json_object_object_get_ex(r->edge_idx, key, &idx))
		return &r->edges[json_object_get_int(idx)];
	if (r->nedges == r->cap_edges)
		r->edges = grow(r->edges, &r->cap_edges, sizeof(*r->edges));
	e = &r->edges[r->nedges];
	memset(e, 0, sizeof(*e));
	e->src = src;
	e->dst = dst;
	snprintf(e->proto, sizeof(e->proto), "%s", proto);
	e->port = port;
	e->sensitive = port > 0 && port_sensitive(r, port);
	json_object_object_add(r->edge_idx, key, json_object_new_int(r->nedges));
	return &r->edges[r->nedges++];
}

/* One connection per final flow record (updates of a long flow are not
 * connections); an aggregate record stands for its "connections". TCP
 * and UDP are drawn; other protocols (ICMP, neighbour discovery, IGMP)
 * are counted under the map. */
static void on_flow(struct report *r, struct json_object *rec)
{
	struct json_object *f = get(rec, "flow"), *n;
	const char *proto = get_str(f, "protocol"), *state;
	unsigned long long conns;
	int src, dst, port;
	struct edge *e;

	if (!f || !get_bool(f, "final") || !proto)
		return;
	conns = get_bool(f, "aggregate") ? (unsigned long long)get_int(f, "connections", 1) : 1;
	if (strcmp(proto, "tcp") && strcmp(proto, "udp")) {
		n = get(r->other_protos, proto);
		json_object_object_add(r->other_protos, proto,
				       json_object_new_int64((n ? json_object_get_int64(n) : 0) +
							     (long long)conns));
		return;
	}
	src = peer_of(r, get(f, "src"));
	dst = peer_of(r, get(f, "dst"));
	if (src < 0 || dst < 0)
		return;
	port = get_int(get(f, "dst"), "port", -1);
	e = edge_of(r, src, dst, proto, port);
	e->conns += conns;
	e->bytes += get_int(f, "bytes_out", 0) + get_int(f, "bytes_in", 0);
	state = get_str(f, "state");
	if (state && (!strcmp(state, "refused") || !strcmp(state, "failed")))
		e->refused += conns;
}

/* An alert is kept once, by id: a later record of it (closed, with the
 * final count) takes its place. */
static void on_alert(struct report *r, struct json_object *rec)
{
	const char *id = get_str(get(rec, "alert"), "id");
	struct json_object *idx;

	if (!id)
		return;
	if (json_object_object_get_ex(r->alert_idx, id, &idx)) {
		json_object_array_put_idx(r->alerts, json_object_get_int(idx),
					  json_object_get(rec));
		return;
	}
	json_object_object_add(r->alert_idx, id,
			       json_object_new_int(json_object_array_length(r->alerts)));
	json_object_array_add(r->alerts, json_object_get(rec));
}

static void on_record(struct report *r, struct json_object *rec)
{
	const char *type = get_str(rec, "type"), *t = get_str(rec, "time");
	const char *node = get_str(rec, "node"), *id;

	r->records++;
	if (t) {
		if (!r->first || strcmp(t, r->first) < 0) {
			free(r->first);
			r->first = xstrdup(t);
		}
		if (!r->last || strcmp(t, r->last) > 0) {
			free(r->last);
			r->last = xstrdup(t);
		}
	}
	if (node && !json_object_object_get_ex(r->nodes, node, NULL))
		json_object_object_add(r->nodes, node, NULL);
	if (!type)
		return;
	if (!strcmp(type, "flow")) {
		on_flow(r, rec);
	} else if (!strcmp(type, "alert")) {
		on_alert(r, rec);
	} else if (!strcmp(type, "process_exec")) {
		id = get_str(get(rec, "process"), "exec_id");
		if (id)
			json_object_object_add(r->execs, id, json_object_get(rec));
	}
}

static int export_read(struct report *r)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *rec;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	f = strcmp(r->path, "-") ? fopen(r->path, "re") : stdin;
	if (!f || !tok) {
		fprintf(stderr, "podsentry report: %s: %s\n", r->path, strerror(errno));
		json_tokener_free(tok);
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		r->lines++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!n)
			continue;
		json_tokener_reset(tok);
		rec = json_tokener_parse_ex(tok, line, n);
		if (!rec || json_tokener_get_parse_end(tok) != (size_t)n ||
		    !json_object_is_type(rec, json_type_object)) {
			enum json_tokener_error err = json_tokener_get_error(tok);

			fprintf(stderr, "podsentry report: %s: line %llu: %s\n", r->path,
				r->lines,
				!rec ? json_tokener_error_desc(err == json_tokener_continue ?
							       json_tokener_error_parse_eof : err) :
				json_tokener_get_parse_end(tok) != (size_t)n ?
				"more after the JSON object" : "not a JSON object");
			json_object_put(rec);
			free(line);
			json_tokener_free(tok);
			if (f != stdin)
				fclose(f);
			return -1;
		}
		on_record(r, rec);
		json_object_put(rec);
	}
	if (ferror(f)) {
		fprintf(stderr, "podsentry report: %s: %s\n", r->path, strerror(errno));
		n = -2;
	}
	free(line);
	json_tokener_free(tok);
	if (f != stdin)
		fclose(f);
	return n == -2 ? -1 : 0;
}

/* ---- writing the page ---- */

/* Text from the records as HTML text or an attribute value. */
static void html(FILE *o, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", o); break;
		case '<': fputs("&lt;", o); break;
		case '>': fputs("&gt;", o); break;
		case '"': fputs("&quot;", o); break;
		case '\'': fputs("&#39;", o); break;
		default: fputc(*s, o);
		}
	}
}

/* A string for a Graphviz label: its escapes (\N, \G, \n, \l ...) made
 * plain backslashes, newlines as spaces, cut to REPORT_LABEL_MAX
 * characters (whole UTF-8 characters). Graphviz writes the SVG text
 * XML-escaped. */
static void gv_text(char *dst, size_t len, const char *s)
{
	size_t n = 0, chars = 0;

	for (; s && *s && n + 5 < len; s++) {
		unsigned char c = *s;

		if ((c & 0xc0) != 0x80 && ++chars > REPORT_LABEL_MAX) {
			memcpy(dst + n, "\xe2\x80\xa6", 3); /* … */
			n += 3;
			break;
		}
		if (c == '\\')
			dst[n++] = '\\';
		dst[n++] = c < 0x20 ? ' ' : c;
	}
	dst[n] = 0;
}

static const char *basename_of(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path ? path : "?";
}

static void bytes_fmt(char *buf, size_t len, unsigned long long b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u)
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	else
		snprintf(buf, len, "%llu B", b);
}

/* The SVG of a laid-out graph, from its <svg> element on (the XML
 * prolog and comments are not for inline use); NULL on failure. */
static char *gv_svg(GVC_t *gvc, Agraph_t *g, const char *what)
{
	unsigned int len = 0;
	char *data = NULL, *svg, *start;

	if (gvLayout(gvc, g, "dot")) {
		fprintf(stderr, "podsentry report: %s: Graphviz layout failed\n", what);
		return NULL;
	}
	if (gvRenderData(gvc, g, "svg", &data, &len) || !data) {
		fprintf(stderr, "podsentry report: %s: Graphviz SVG rendering failed\n", what);
		gvFreeLayout(gvc, g);
		return NULL;
	}
	start = strstr(data, "<svg");
	svg = start ? xstrdup(start) : NULL;
	gvFreeRenderData(data);
	gvFreeLayout(gvc, g);
	return svg;
}

static Agraph_t *graph_new(const char *name)
{
	Agraph_t *g = agopen((char *)name, Agdirected, NULL);

	agattr(g, AGRAPH, "rankdir", "LR");
	agattr(g, AGRAPH, "fontname", "Helvetica,Arial,sans-serif");
	agattr(g, AGRAPH, "bgcolor", "transparent");
	agattr(g, AGRAPH, "nodesep", "0.35");
	agattr(g, AGNODE, "fontname", "Helvetica,Arial,sans-serif");
	agattr(g, AGNODE, "fontsize", "11");
	agattr(g, AGNODE, "shape", "box");
	agattr(g, AGNODE, "style", "rounded,filled");
	agattr(g, AGNODE, "fillcolor", "#eef4fb");
	agattr(g, AGNODE, "color", "#5b7a99");
	agattr(g, AGNODE, "penwidth", "1");
	agattr(g, AGNODE, "label", "");
	agattr(g, AGNODE, "fontcolor", "#1b2733");
	agattr(g, AGEDGE, "fontname", "Helvetica,Arial,sans-serif");
	agattr(g, AGEDGE, "fontsize", "10");
	agattr(g, AGEDGE, "label", "");
	agattr(g, AGEDGE, "color", "#6b7c8c");
	agattr(g, AGEDGE, "fontcolor", "#33424f");
	agattr(g, AGEDGE, "penwidth", "1");
	agattr(g, AGEDGE, "style", "solid");
	return g;
}

static char *map_svg(GVC_t *gvc, struct report *r)
{
	Agraph_t *g = graph_new("service_map");
	Agnode_t **n = calloc(r->npeers ? r->npeers : 1, sizeof(*n));
	char id[32], text[REPORT_LABEL_MAX * 4 + 8], label[1024], b[32];
	int i;

	if (!n)
		return NULL;
	for (i = 0; i < r->npeers; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		n[i] = agnode(g, id, 1);
		gv_text(text, sizeof(text), r->peers[i].label);
		agset(n[i], "label", text);
		if (!r->peers[i].pod) {
			agset(n[i], "shape", "ellipse");
			agset(n[i], "style", "filled");
			agset(n[i], "fillcolor", "#f2f2f2");
		}
		if (r->peers[i].alerted) {
			agset(n[i], "color", "#c0392b");
			agset(n[i], "penwidth", "2");
		}
	}
	for (i = 0; i < r->nedges; i++) {
		struct edge *e = &r->edges[i];
		Agedge_t *ge;

		snprintf(id, sizeof(id), "e%d", i);
		ge = agedge(g, n[e->src], n[e->dst], id, 1);
		bytes_fmt(b, sizeof(b), e->bytes);
		if (e->port >= 0)
			snprintf(label, sizeof(label), "%s/%d%s\n%llu conn%s, %s%s%s", e->proto,
				 e->port, e->sensitive ? " (sensitive)" : "", e->conns,
				 e->conns == 1 ? "" : "s", b, e->refused ? ", refused" : "",
				 e->alerted ? "\nALERT" : "");
		else
			snprintf(label, sizeof(label), "%s\n%llu conn%s, %s%s", e->proto,
				 e->conns, e->conns == 1 ? "" : "s", b,
				 e->alerted ? "\nALERT" : "");
		agset(ge, "label", label);
		if (e->sensitive) {
			agset(ge, "color", "#d68910");
			agset(ge, "fontcolor", "#9c640c");
			agset(ge, "penwidth", "1.8");
		}
		if (e->refused == e->conns && e->conns)
			agset(ge, "style", "dashed");
		if (e->alerted) {
			agset(ge, "color", "#c0392b");
			agset(ge, "fontcolor", "#c0392b");
			agset(ge, "penwidth", "2.5");
		}
	}
	free(n);
	char *svg = gv_svg(gvc, g, "service map");
	agclose(g);
	return svg;
}

/* The connections named by alerts: their edges and ends are marked. */
static void alerts_mark(struct report *r)
{
	size_t i, j;

	for (i = 0; i < json_object_array_length(r->alerts); i++) {
		struct json_object *a = json_object_array_get_idx(r->alerts, i);
		struct json_object *conns = get(get(a, "evidence"), "connections");

		for (j = 0; conns && j < json_object_array_length(conns); j++) {
			struct json_object *c = json_object_array_get_idx(conns, j);
			int src = peer_of(r, get(c, "src")), dst = peer_of(r, get(c, "dst"));
			const char *proto = get_str(c, "protocol");

			if (src < 0 || dst < 0)
				continue;
			/* seen by the socket programs, maybe with no flow yet */
			edge_of(r, src, dst, proto ? proto : "tcp",
				get_int(get(c, "dst"), "port", -1))->alerted = true;
			r->peers[src].alerted = r->peers[dst].alerted = true;
		}
	}
}

/* A process as a chain node: binary, arguments, pid. */
static void proc_label(char *buf, size_t len, struct json_object *p,
		       const char *note)
{
	char bin[REPORT_LABEL_MAX * 4 + 8], args[REPORT_LABEL_MAX * 4 + 8];
	char joined[1024] = "";
	struct json_object *a = get(p, "args");
	size_t i, n = 0;

	for (i = 0; a && i < json_object_array_length(a) && n < sizeof(joined) - 2; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(a, i));

		n += snprintf(joined + n, sizeof(joined) - n, "%s%s", i ? " " : "", s ? s : "");
	}
	gv_text(bin, sizeof(bin), basename_of(get_str(p, "binary")));
	gv_text(args, sizeof(args), joined);
	snprintf(buf, len, "%s\n%s\npid %lld%s%s", bin, args, get_int(p, "pid", 0),
		 note ? "\n" : "", note ? note : "");
}

static const char *conn_exec(struct json_object *c)
{
	return get_str(c, "exec_id");
}

/* The chain: the container's first process (the last ancestry entry)
 * down to the alert's process, then the connections of the evidence,
 * each from the process that made it. */
static char *chain_svg(GVC_t *gvc, struct report *r, struct json_object *a,
		       int k)
{
	struct json_object *anc = get(a, "ancestry"), *ev = get(a, "evidence");
	struct json_object *conns = get(ev, "connections"), *proc = get(a, "process");
	const char *foot = get_str(get(get(ev, "foothold"), "process"), "exec_id");
	const char *foot_rule = get_str(get(ev, "foothold"), "rule");
	char name[32], label[2048], text[REPORT_LABEL_MAX * 4 + 8], note[160];
	Agraph_t *g;
	Agnode_t *prev = NULL, *node;
	size_t n = anc ? json_object_array_length(anc) : 0, i;
	bool alone = !n && proc; /* no ancestry: the process alone */

	snprintf(name, sizeof(name), "chain_%d", k);
	g = graph_new(name);
	for (i = alone ? 1 : n; i-- > 0;) {
		struct json_object *p = alone ? proc : json_object_array_get_idx(anc, i);
		const char *id = get_str(p, "exec_id");

		note[0] = 0;
		if (get_bool(p, "container_first"))
			snprintf(note, sizeof(note), "container's first process");
		else if (get_bool(p, "exec_into_pod"))
			snprintf(note, sizeof(note), "entered the pod from outside");
		if (foot && id && !strcmp(foot, id))
			snprintf(note + strlen(note), sizeof(note) - strlen(note), "%sfoothold: %s",
				 note[0] ? ", " : "", foot_rule ? foot_rule : "?");
		proc_label(label, sizeof(label), p, note[0] ? note : NULL);
		snprintf(name, sizeof(name), "x%zu", i);
		node = agnode(g, name, 1);
		agset(node, "label", label);
		if (i == 0) {
			agset(node, "color", "#c0392b");
			agset(node, "penwidth", "2");
		}
		if (foot && id && !strcmp(foot, id))
			agset(node, "fillcolor", "#fdecea");
		if (prev) {
			snprintf(name, sizeof(name), "a%zu", i);
			agedge(g, prev, node, name, 1);
		}
		prev = node;
	}
	for (i = 0; conns && i < json_object_array_length(conns); i++) {
		struct json_object *c = json_object_array_get_idx(conns, i);
		struct json_object *dst = get(c, "dst"), *pod = get(dst, "pod");
		const char *ex = conn_exec(c), *t = get_str(c, "time");
		Agnode_t *from = prev;
		Agedge_t *e;
		size_t j;
		char target[1100];

		/* the process that made it, when it is in the chain */
		for (j = 0; ex && j < n; j++) {
			const char *id = get_str(json_object_array_get_idx(anc, j), "exec_id");

			if (id && !strcmp(id, ex)) {
				snprintf(name, sizeof(name), "x%zu", j);
				from = agnode(g, name, 0);
				break;
			}
		}
		if (pod && get_str(pod, "name"))
			snprintf(target, sizeof(target), "pod %s/%s", get_str(pod, "namespace") ?: "",
				 get_str(pod, "name"));
		else
			snprintf(target, sizeof(target), "%s", get_str(dst, "ip") ?: "?");
		gv_text(text, sizeof(text), target);
		snprintf(label, sizeof(label), "%s\n%s %lld", text,
			 get_str(c, "protocol") ?: "", get_int(dst, "port", 0));
		snprintf(name, sizeof(name), "c%zu", i);
		node = agnode(g, name, 1);
		agset(node, "label", label);
		agset(node, "shape", "ellipse");
		agset(node, "style", "filled");
		agset(node, "fillcolor", pod ? "#fdecea" : "#f2f2f2");
		agset(node, "color", "#c0392b");
		snprintf(name, sizeof(name), "ce%zu", i);
		e = agedge(g, from ? from : node, node, name, 1);
		snprintf(label, sizeof(label), "connect%s%.12s", t && strlen(t) > 23 ? " " : "",
			 t && strlen(t) > 23 ? t + 11 : "");
		agset(e, "label", label);
		agset(e, "color", "#c0392b");
		agset(e, "fontcolor", "#c0392b");
		agset(e, "penwidth", "2");
	}
	char *svg = gv_svg(gvc, g, "alert chain");
	agclose(g);
	return svg;
}

/* ---- the page ---- */

static const char css[] =
"body{font:14px/1.45 Helvetica,Arial,sans-serif;color:#1b2733;margin:0;background:#fafbfc}"
"header{background:#1b2733;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}"
"header p{margin:4px 0 0;color:#c9d3dd}main{padding:8px 28px 40px}"
"h2{margin:28px 0 8px;font-size:18px;border-bottom:1px solid #d5dde5;padding-bottom:4px}"
".graph{background:#fff;border:1px solid #d5dde5;border-radius:6px;padding:8px;overflow:auto}"
".graph svg{max-width:100%;height:auto}"
"table{border-collapse:collapse;margin:10px 0;background:#fff}"
"td,th{border:1px solid #d5dde5;padding:3px 8px;text-align:left;vertical-align:top}"
"th{background:#eef2f6}td.n{text-align:right;font-variant-numeric:tabular-nums}"
".alert{border:1px solid #d5dde5;border-left:6px solid #888;border-radius:6px;"
"background:#fff;padding:4px 16px 12px;margin:16px 0}"
".sev-critical{border-left-color:#8e1b10}.sev-high{border-left-color:#c0392b}"
".sev-medium{border-left-color:#d68910}.sev-low{border-left-color:#2874a6}"
".sev-info{border-left-color:#7f8c8d}.alert h3{margin:10px 0 4px}"
".badge{display:inline-block;border-radius:3px;padding:0 6px;color:#fff;background:#888;"
"font-size:12px;margin-right:6px}.b-critical{background:#8e1b10}.b-high{background:#c0392b}"
".b-medium{background:#d68910}.b-low{background:#2874a6}.b-info{background:#7f8c8d}"
".mark-alert{color:#c0392b;font-weight:bold}.mark-sensitive{color:#9c640c;font-weight:bold}"
"code{font-family:Menlo,Consolas,monospace;font-size:12px;word-break:break-all}"
".legend{color:#56687a;font-size:12px}";

static void page_head(FILE *o, struct report *r)
{
	struct json_object_iterator it, end;
	bool more = false;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      /* self-contained: nothing is fetched, nothing runs */
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; img-src data:\">\n<title>podsentry report: ", o);
	html(o, r->path);
	fprintf(o, "</title>\n<style>%s</style></head>\n<body>\n<header><h1>podsentry report</h1><p>", css);
	html(o, r->path);
	fprintf(o, " &middot; %llu records", r->records);
	if (r->first) {
		fputs(" &middot; ", o);
		html(o, r->first);
		fputs(" to ", o);
		html(o, r->last);
	}
	fputs(" &middot; node ", o);
	it = json_object_iter_begin(r->nodes);
	end = json_object_iter_end(r->nodes);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		if (more)
			fputs(", ", o);
		html(o, json_object_iter_peek_name(&it));
		more = true;
	}
	fputs("</p></header>\n<main>\n", o);
}

static void page_map(FILE *o, struct report *r, const char *svg)
{
	struct json_object_iterator it, end;
	unsigned long long conns = 0;
	int i, pods = 0;
	char b[32];

	for (i = 0; i < r->npeers; i++)
		pods += r->peers[i].pod;
	for (i = 0; i < r->nedges; i++)
		conns += r->edges[i].conns;
	fprintf(o, "<section id=\"service-map\"><h2>Service map</h2>\n"
		"<p>%d pods, %d other addresses, %llu connections (TCP and UDP) on %d edges.</p>\n",
		pods, r->npeers - pods, conns, r->nedges);
	if (svg)
		fprintf(o, "<div class=\"graph\" id=\"map-graph\">%s</div>\n", svg);
	fputs("<p class=\"legend\">Boxes are pods, ellipses addresses outside the node's pods; "
	      "an edge is the connections from one to a port of the other, with their bytes "
	      "(both ways). <span class=\"mark-sensitive\">Orange</span>: a sensitive port (", o);
	for (i = 0; i < r->nports; i++)
		fprintf(o, "%s%d", i ? " " : "", r->ports[i]);
	fputs("); <span class=\"mark-alert\">red</span>: a connection an alert names; "
	      "dashed: every connection refused.", o);
	it = json_object_iter_begin(r->other_protos);
	end = json_object_iter_end(r->other_protos);
	if (!json_object_iter_equal(&it, &end)) {
		fputs(" Not drawn:", o);
		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
			long long k = json_object_get_int64(json_object_iter_peek_value(&it));

			fprintf(o, " %lld flow%s of protocol ", k, k == 1 ? "" : "s");
			html(o, json_object_iter_peek_name(&it));
			fputc(';', o);
		}
	}
	fputs("</p>\n<table id=\"edges\"><tr><th>from</th><th>to</th><th>port</th>"
	      "<th>connections</th><th>refused</th><th>bytes</th><th></th></tr>\n", o);
	for (i = 0; i < r->nedges; i++) {
		struct edge *e = &r->edges[i];

		fputs("<tr><td>", o);
		html(o, r->peers[e->src].label);
		fputs("</td><td>", o);
		html(o, r->peers[e->dst].label);
		fputs("</td><td>", o);
		html(o, e->proto);
		if (e->port >= 0)
			fprintf(o, "/%d", e->port);
		bytes_fmt(b, sizeof(b), e->bytes);
		fprintf(o, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"n\">%s</td><td>",
			e->conns, e->refused, b);
		if (e->alerted)
			fputs("<span class=\"mark-alert\">alert</span> ", o);
		if (e->sensitive)
			fputs("<span class=\"mark-sensitive\">sensitive port</span>", o);
		fputs("</td></tr>\n", o);
	}
	fputs("</table></section>\n", o);
}

struct tl_row {
	const char *time, *what;
	char detail[1200];
};

static int tl_cmp(const void *a, const void *b)
{
	const struct tl_row *x = a, *y = b;

	return strcmp(x->time ? x->time : "", y->time ? y->time : "");
}

static void args_join(char *buf, size_t len, struct json_object *p)
{
	struct json_object *a = get(p, "args");
	size_t i, n = 0;

	buf[0] = 0;
	for (i = 0; a && i < json_object_array_length(a) && n + 1 < len; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(a, i));

		n += snprintf(buf + n, len - n, "%s%s", i ? " " : "", s ? s : "");
	}
	if (!n && get_str(p, "binary"))
		snprintf(buf, len, "%s", get_str(p, "binary"));
}

/* The evidence in time order: the chain's execs (their process_exec
 * records), the foothold, the connections, the alert. */
static void timeline(FILE *o, struct report *r, struct json_object *a)
{
	struct json_object *anc = get(a, "ancestry"), *ev = get(a, "evidence");
	struct json_object *conns = get(ev, "connections"), *foot = get(ev, "foothold");
	size_t na = anc ? json_object_array_length(anc) : 0;
	size_t nc = conns ? json_object_array_length(conns) : 0, i, n = 0;
	struct tl_row *rows = calloc(na + nc + 2, sizeof(*rows));
	const char *foot_id = get_str(get(foot, "process"), "exec_id");

	if (!rows)
		return;
	for (i = 0; i < na; i++) {
		struct json_object *p = json_object_array_get_idx(anc, i), *ex;
		const char *id = get_str(p, "exec_id");

		ex = id ? get(r->execs, id) : NULL;
		rows[n].time = ex ? get_str(ex, "time") : NULL;
		rows[n].what = foot_id && id && !strcmp(foot_id, id) ? "exec (foothold)" : "exec";
		args_join(rows[n].detail, sizeof(rows[n].detail), p);
		if (rows[n].time || (foot_id && id && !strcmp(foot_id, id)))
			n++;
	}
	if (foot) {
		rows[n].time = NULL;
		for (i = 0; i < n; i++)
			if (!strcmp(rows[i].what, "exec (foothold)"))
				rows[n].time = rows[i].time;
		rows[n].what = "foothold";
		snprintf(rows[n].detail, sizeof(rows[n].detail), "%s%s%s",
			 get_str(foot, "rule") ?: "", get_str(foot, "remote") ? ", remote " : "",
			 get_str(foot, "remote") ?: "");
		n++;
	}
	for (i = 0; i < nc; i++) {
		struct json_object *c = json_object_array_get_idx(conns, i);
		struct json_object *s = get(c, "src"), *d = get(c, "dst");
		const char *sp = get_str(get(s, "pod"), "name"), *dp = get_str(get(d, "pod"), "name");

		rows[n].time = get_str(c, "time");
		rows[n].what = "connection";
		snprintf(rows[n].detail, sizeof(rows[n].detail), "%s %s%s%s:%lld → %s%s%s:%lld",
			 get_str(c, "protocol") ?: "", sp ? sp : "", sp ? " " : "",
			 get_str(s, "ip") ?: "", get_int(s, "port", 0), dp ? dp : "", dp ? " " : "",
			 get_str(d, "ip") ?: "", get_int(d, "port", 0));
		n++;
	}
	rows[n].time = get_str(get(a, "alert"), "first");
	rows[n].what = "alert";
	snprintf(rows[n].detail, sizeof(rows[n].detail), "%s (%s)",
		 get_str(get(a, "alert"), "rule") ?: "", get_str(get(a, "alert"), "severity") ?: "");
	n++;
	qsort(rows, n, sizeof(*rows), tl_cmp);
	fputs("<table class=\"timeline\"><tr><th>time</th><th>what</th><th>detail</th></tr>\n", o);
	for (i = 0; i < n; i++) {
		fputs("<tr><td><code>", o);
		html(o, rows[i].time ? rows[i].time : "(not in the export)");
		fputs("</code></td><td>", o);
		html(o, rows[i].what);
		fputs("</td><td><code>", o);
		html(o, rows[i].detail);
		fputs("</code></td></tr>\n", o);
	}
	fputs("</table>\n", o);
	free(rows);
}

static const char *severity_class(const char *s)
{
	static const char *const known[] = { "critical", "high", "medium", "low", "info" };
	size_t i;

	for (i = 0; s && i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(s, known[i]))
			return known[i];
	return "info";
}

static int severity_rank(const char *s)
{
	static const char *const order[] = { "critical", "high", "medium", "low" };
	int i;

	for (i = 0; s && i < 4; i++)
		if (!strcmp(s, order[i]))
			return i;
	return 4;
}

struct alert_ord {
	int rank;
	size_t idx;
};

static int alert_cmp(const void *a, const void *b)
{
	const struct alert_ord *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank - y->rank;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The most severe first, then in the order they were raised. */
static void page_alerts(FILE *o, GVC_t *gvc, struct report *r)
{
	size_t n = json_object_array_length(r->alerts), i;
	struct alert_ord *ord = calloc(n ? n : 1, sizeof(*ord));

	if (!ord)
		return;
	for (i = 0; i < n; i++) {
		ord[i].idx = i;
		ord[i].rank = severity_rank(get_str(get(json_object_array_get_idx(r->alerts, i),
							"alert"), "severity"));
	}
	qsort(ord, n, sizeof(*ord), alert_cmp);
	fprintf(o, "<section id=\"alerts\"><h2>Alerts (%zu)</h2>\n", n);
	if (!n)
		fputs("<p>No alert in this export.</p>\n", o);
	for (i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(r->alerts, ord[i].idx);
		struct json_object *al = get(a, "alert"), *pod = get(a, "pod");
		const char *sev = severity_class(get_str(al, "severity"));
		char *svg = chain_svg(gvc, r, a, (int)i);

		fprintf(o, "<article class=\"alert sev-%s\" id=\"alert-%zu\">\n<h3>"
			"<span class=\"badge b-%s\">", sev, i + 1, sev);
		html(o, get_str(al, "severity"));
		fputs("</span><span class=\"rule\">", o);
		html(o, get_str(al, "rule"));
		fputs("</span> in pod <span class=\"pod\">", o);
		html(o, get_str(pod, "namespace"));
		fputs("/", o);
		html(o, get_str(pod, "name"));
		fputs("</span></h3>\n<p class=\"summary\">", o);
		html(o, get_str(al, "summary"));
		fputs("</p>\n<p class=\"legend\">id ", o);
		html(o, get_str(al, "id"));
		fputs(" &middot; MITRE ", o);
		html(o, get_str(al, "mitre"));
		fprintf(o, " &middot; %s &middot; count %lld &middot; first ",
			get_str(al, "status") && !strcmp(get_str(al, "status"), "closed") ? "closed" : "open",
			get_int(al, "count", 1));
		html(o, get_str(al, "first"));
		fputs(" &middot; last ", o);
		html(o, get_str(al, "last"));
		fputs("</p>\n", o);
		if (svg)
			fprintf(o, "<div class=\"graph chain\">%s</div>\n", svg);
		free(svg);
		timeline(o, r, a);
		fputs("</article>\n", o);
	}
	fputs("</section>\n", o);
	free(ord);
}

static int page_write(struct report *r, const char *out)
{
	GVC_t *gvc = gvContext();
	char *svg;
	FILE *o;
	int err = 0;

	if (!gvc) {
		fputs("podsentry report: Graphviz: no context\n", stderr);
		return -1;
	}
	agseterr(AGERR); /* layout warnings are not the reader's business */
	alerts_mark(r);
	svg = map_svg(gvc, r);
	o = strcmp(out, "-") ? fopen(out, "we") : stdout;
	if (!o) {
		fprintf(stderr, "podsentry report: %s: %s\n", out, strerror(errno));
		free(svg);
		gvFreeContext(gvc);
		return -1;
	}
	page_head(o, r);
	page_map(o, r, svg);
	page_alerts(o, gvc, r);
	fputs("</main></body></html>\n", o);
	free(svg);
	if (fflush(o) || ferror(o)) {
		fprintf(stderr, "podsentry report: %s: %s\n", out, strerror(errno));
		err = -1;
	}
	if (o != stdout && fclose(o) && !err) {
		fprintf(stderr, "podsentry report: %s: %s\n", out, strerror(errno));
		err = -1;
	}
	gvFreeContext(gvc);
	return err;
}

static int ports_parse(struct report *r, const char *s)
{
	char *end;
	long v;

	r->nports = 0;
	while (*s) {
		if (*s < '0' || *s > '9' || r->nports == REPORT_PORTS_MAX)
			return -EINVAL;
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || v < 1 || v > 65535 || (*end && *end != ','))
			return -EINVAL;
		r->ports[r->nports++] = v;
		s = end;
		if (*s == ',' && !*++s)
			return -EINVAL;
	}
	return r->nports ? 0 : -EINVAL;
}

static void report_free(struct report *r)
{
	int i;

	for (i = 0; i < r->npeers; i++) {
		free(r->peers[i].key);
		free(r->peers[i].label);
	}
	free(r->peers);
	free(r->edges);
	free(r->first);
	free(r->last);
	json_object_put(r->peer_idx);
	json_object_put(r->edge_idx);
	json_object_put(r->execs);
	json_object_put(r->alerts);
	json_object_put(r->alert_idx);
	json_object_put(r->other_protos);
	json_object_put(r->nodes);
}

int report_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "sensitive-ports", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct report r = {};
	const char *out = NULL;
	size_t i;
	int c, ret;

	for (i = 0; i < sizeof(default_ports) / sizeof(default_ports[0]); i++)
		r.ports[r.nports++] = default_ports[i];
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': r.path = optarg; break;
		case 'o': out = optarg; break;
		case 'p':
			if (ports_parse(&r, optarg)) {
				fprintf(stderr, "podsentry report: --sensitive-ports: \"%s\" is not a comma-separated list of ports from 1 to 65535\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fprintf(stderr, "podsentry report: %s: unknown option or missing argument\n",
				argv[optind - 1]);
			fputs("Try 'podsentry report --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "podsentry report: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (!r.path || !out) {
		fprintf(stderr, "podsentry report: %s is required (podsentry report --file EXPORT -o REPORT.html)\n",
			!r.path ? "--file" : "-o");
		return 2;
	}
	r.peer_idx = json_object_new_object();
	r.edge_idx = json_object_new_object();
	r.execs = json_object_new_object();
	r.alerts = json_object_new_array();
	r.alert_idx = json_object_new_object();
	r.other_protos = json_object_new_object();
	r.nodes = json_object_new_object();
	ret = export_read(&r) || page_write(&r, out) ? 1 : 0;
	report_free(&r);
	return ret;
}
