// SPDX-License-Identifier: GPL-2.0-only
/*
 * podsentry: the command-line client. It asks podsentryd over its local
 * API (node/sinks/api.h: one JSON request line, JSON lines back) and
 * shows the answer: records one line each (observe), the watched pods,
 * the open alerts with their chains, the daemon's status. observe
 * --file reads an export without the daemon, through the same filter
 * code the daemon runs (node/records/match.h). report makes the HTML
 * page (node/client/report.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cni/shared/version.h"
#include "node/client/render.h"
#include "node/client/report.h"
#include "node/records/match.h"
#include "node/sinks/api.h"

#define ANSWER_TIMEOUT_S 10 /* status, pods, alerts, a replay's first line */

static const char usage_text[] =
"Usage: podsentry [--socket PATH] COMMAND [OPTIONS]\n"
"\n"
"Ask podsentryd, the node daemon, what it sees: records as they happen,\n"
"the pods it watches, the open alerts with their process chains, its\n"
"health. It talks to the daemon's local API, a UNIX socket only root\n"
"can open.\n"
"\n"
"Commands:\n"
"  observe    records, one line each (or JSON), filtered by the daemon;\n"
"             --follow for new ones as they come; --file reads an export\n"
"  pods       the watched pods: namespace/name, netns, veth, flows, alerts\n"
"  alerts     the open alerts, each with its chain, one block each\n"
"  status     programs attached, map fill, lost events, version; exit 0\n"
"             only when the daemon answers and every program is in place\n"
"  report     an HTML page from an export (podsentry report --help)\n"
"\n"
"Options:\n"
"  --socket PATH      the daemon's socket (default " API_SOCKET_DEFAULT ")\n"
"  --version          version, git commit and BPF build id\n"
"  -h, --help         this text; COMMAND --help for a command's\n"
"\n"
"Examples:\n"
"  podsentry status\n"
"  podsentry observe --follow --namespace shop\n"
"  podsentry observe --type alert --severity high -o json\n"
"  podsentry observe --since 10m --pod shop/web --type flow\n"
"  podsentry observe --process wget --follow\n"
"  podsentry observe --file /var/log/podsentry/events.json --rule lateral-movement\n"
"  podsentry pods\n"
"  podsentry alerts\n"
"  podsentry report --file /var/log/podsentry/events.json -o report.html\n";

static const char observe_usage[] =
"Usage: podsentry observe [--follow] [--since DUR] [--type LIST]\n"
"         [--namespace NS] [--pod [NS/]NAME] [--process BINARY] [--rule R]\n"
"         [--severity S] [-o compact|json] [--color WHEN] [--file F]\n"
"\n"
"Records one line each: time, pod, process, the peer a flow went to or\n"
"came from (pod:port or address:port), bytes each way, state and\n"
"verdict; alerts stand out. Without --follow: the daemon's recent\n"
"records (its last 4096 lines at most), then it ends. The daemon\n"
"filters; a pod or process filter matches any pod or process a record\n"
"names (a flow's both ends).\n"
"\n"
"Options:\n"
"  -f, --follow       new records as they come, until interrupted\n"
"  --since DUR        records of the last DUR (30s, 5m, 1h30m, 2d; a bare\n"
"                     number is seconds); with --follow, those first\n"
"  -t, --type LIST    record types, comma-separated: process_exec,\n"
"                     process_exit, flow, alert, lost, stats, connect,\n"
"                     accept, listen, inherit\n"
"  -n, --namespace NS records about a pod of namespace NS\n"
"  --pod [NS/]NAME    records about the pod NAME\n"
"  --process BINARY   records of a process whose binary is BINARY (a\n"
"                     path, or its last part: wget)\n"
"  --rule R           alerts of rule R (lateral-movement, reverse-shell...)\n"
"  --severity S       alerts of severity S or above (info, low, medium,\n"
"                     high, critical)\n"
"  -o, --output FMT   compact (default) or json (the records as they are)\n"
"  --color WHEN       auto (default: on a terminal, unless NO_COLOR is\n"
"                     set), always or never\n"
"  --file F           read an export file (- for stdin) instead of asking\n"
"                     the daemon; the same filters; with --follow, wait\n"
"                     for more at its end\n"
"  --socket PATH      the daemon's socket (default " API_SOCKET_DEFAULT ")\n"
"  -h, --help         this text\n"
"\n"
"Examples:\n"
"  podsentry observe --follow --pod shop/web\n"
"  podsentry observe --type flow,alert --since 5m\n"
"  podsentry observe --type alert --severity high -o json | jq .alert.summary\n"
"  podsentry observe --file events.json --process nc\n";

static const char pods_usage[] =
"Usage: podsentry pods [-o table|json] [--socket PATH]\n"
"\n"
"The pods podsentryd watches (from podsentry-cni's state files): namespace\n"
"and name, network namespace inode, host-side veth, connections and\n"
"alerts recorded for each since the daemon started, pending when the\n"
"plugin could not attach it.\n"
"\n"
"Options:\n"
"  -o, --output FMT   table (default) or json (one object per pod)\n"
"  --socket PATH      the daemon's socket (default " API_SOCKET_DEFAULT ")\n"
"  -h, --help         this text\n"
"\n"
"Example:\n"
"  podsentry pods\n";

static const char alerts_usage[] =
"Usage: podsentry alerts [-o text|json] [--color WHEN] [--socket PATH]\n"
"\n"
"The open alerts, one block each: rule, severity, pod, how often and\n"
"when, the summary, the process chain from the container's first\n"
"process to the one the alert is about, the foothold and the\n"
"connections of its evidence.\n"
"\n"
"Options:\n"
"  -o, --output FMT   text (default) or json (one object per alert, with\n"
"                     its record)\n"
"  --color WHEN       auto (default), always or never\n"
"  --socket PATH      the daemon's socket (default " API_SOCKET_DEFAULT ")\n"
"  -h, --help         this text\n"
"\n"
"Example:\n"
"  podsentry alerts\n";

static const char status_usage[] =
"Usage: podsentry status [-o text|json] [--socket PATH]\n"
"\n"
"The daemon's health: version, programs attached (and the TC/XDP ones\n"
"pinned for podsentry-cni), map fill, ring-buffer use, lost events,\n"
"what the outputs wrote and dropped, the API's clients. Exit status 0\n"
"when the daemon answers and every program is in place, 1 otherwise\n"
"with the reason on stderr: a liveness or readiness probe.\n"
"\n"
"Options:\n"
"  -o, --output FMT   text (default) or json (the daemon's answer)\n"
"  --socket PATH      the daemon's socket (default " API_SOCKET_DEFAULT ")\n"
"  -h, --help         this text\n"
"\n"
"Example:\n"
"  podsentry status && echo healthy\n";

static const char *sock_path = API_SOCKET_DEFAULT;
static const char *cmd = "podsentry";

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An option error: one line and a hint, exit status 2. */
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", cmd);
	exit(2);
}

static void bad_option(char **argv)
{
	die_usage("%s: unknown option or missing argument", argv[optind - 1]);
}

/* ---- talking to the daemon ---- */

struct conn {
	int fd;
	char *buf;
	size_t len, cap, off;
	bool eof;
	FILE *file; /* --file: read from here instead */
	bool follow;
};

static int daemon_connect(struct conn *c, struct json_object *req, int timeout_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s), done = 0;
	struct timeval tv = { .tv_sec = timeout_s };

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "podsentry: --socket %s: longer than a UNIX socket path can be\n",
			sock_path);
		return -1;
	}
	strcpy(sa.sun_path, sock_path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "podsentry: cannot connect to %s: %s (is podsentryd running? --socket PATH)\n",
			sock_path, strerror(errno));
		return -1;
	}
	if (timeout_s)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (done <= n) {
		ssize_t w = done < n ? send(c->fd, s + done, n - done, MSG_NOSIGNAL)
				     : send(c->fd, "\n", 1, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "podsentry: %s: send: %s\n", sock_path, strerror(errno));
			return -1;
		}
		done += done < n ? (size_t)w : 1;
	}
	return 0;
}

/* The next line (NUL-terminated, no newline) in *line; 0 at the end, -1
 * on an error (said on stderr). */
static int conn_line(struct conn *c, char **line, size_t *len)
{
	for (;;) {
		char *nl = c->len > c->off ? memchr(c->buf + c->off, '\n', c->len - c->off)
					   : NULL;
		ssize_t n;

		if (nl) {
			*nl = 0;
			*line = c->buf + c->off;
			*len = nl - *line;
			c->off = nl + 1 - c->buf;
			return 1;
		}
		if (c->eof) {
			if (c->len > c->off) { /* a last line without newline */
				if (c->len == c->cap) {
					char *b = realloc(c->buf, c->cap + 1);

					if (!b)
						return -1;
					c->buf = b;
					c->cap++;
				}
				c->buf[c->len] = 0;
				*line = c->buf + c->off;
				*len = c->len - c->off;
				c->off = c->len;
				return 1;
			}
			return 0;
		}
		if (c->off) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 131072;
			char *b = realloc(c->buf, cap);

			if (!b) {
				fprintf(stderr, "podsentry: out of memory\n");
				return -1;
			}
			c->buf = b;
			c->cap = cap;
		}
		if (c->file) {
			n = fread(c->buf + c->len, 1, c->cap - c->len, c->file);
			if (n == 0 && ferror(c->file)) {
				fprintf(stderr, "podsentry: read: %s\n", strerror(errno));
				return -1;
			}
			if (n == 0 && c->follow) {
				clearerr(c->file);
				usleep(200000);
				continue;
			}
		} else {
			n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					fprintf(stderr, "podsentry: podsentryd at %s did not answer within %d s\n",
						sock_path, ANSWER_TIMEOUT_S);
				else
					fprintf(stderr, "podsentry: %s: %s\n", sock_path,
						strerror(errno));
				return -1;
			}
		}
		if (n == 0)
			c->eof = true;
		c->len += n;
	}
}

/* A line of the daemon's: parsed; NULL (said) when it is not JSON. */
static struct json_object *line_json(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = tok ? json_tokener_parse_ex(tok, line, len) : NULL;

	if (tok && json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static const char *line_type(struct json_object *o)
{
	struct json_object *v;

	return json_object_object_get_ex(o, "type", &v) &&
			       json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : "";
}

/* A line of the daemon's own (not a record): 1 for "end", -1 for an
 * error (said), 0 otherwise. */
static int control_line(struct json_object *o)
{
	struct json_object *v;
	const char *t = line_type(o);

	if (!strcmp(t, "end"))
		return 1;
	if (!strcmp(t, "error")) {
		fprintf(stderr, "podsentry: podsentryd: %s\n",
			json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v)
								  : "error");
		return -1;
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
}

typedef int answer_fn(void *arg, struct json_object *o, const char *line, size_t len);

/* One answer of lines until "end", each to fn, waiting at most
 * timeout_s seconds for a line (0: for ever); closed tells why the
 * daemon may have closed the connection first. 0, or 1 (said). */
static int answer_wait(struct json_object *req, int timeout_s, const char *closed,
		       answer_fn *fn, void *arg)
{
	struct conn c = { .fd = -1 };
	char *line;
	size_t len;
	int r, ret = 1;

	if (daemon_connect(&c, req, timeout_s))
		goto out;
	while ((r = conn_line(&c, &line, &len)) > 0) {
		struct json_object *o = line_json(line, len);

		if (!o) {
			fprintf(stderr, "podsentry: %s: a line of the answer is not JSON\n",
				sock_path);
			goto out;
		}
		r = control_line(o);
		if (r) {
			json_object_put(o);
			ret = r > 0 ? 0 : 1;
			goto out;
		}
		r = fn(arg, o, line, len);
		json_object_put(o);
		if (r)
			goto out;
	}
	if (r == 0)
		fprintf(stderr, "podsentry: podsentryd closed the connection%s\n", closed);
out:
	conn_close(&c);
	return ret;
}

/* One answer, as the status queries wait for it. */
static int answer_each(struct json_object *req, answer_fn *fn, void *arg)
{
	return answer_wait(req, ANSWER_TIMEOUT_S, " before the end of its answer", fn, arg);
}

/* ---- observe ---- */

struct observe {
	struct json_object *req;
	struct rec_filter filter;
	struct render rd;
	bool json, follow;
	const char *file;
};

static void show(struct observe *ob, struct json_object *o, const char *line, size_t len)
{
	if (ob->json) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
	} else {
		render_record(&ob->rd, stdout, o);
	}
	if (ob->follow)
		fflush(stdout);
}

static int observe_file(struct observe *ob)
{
	struct conn c = { .fd = -1, .follow = ob->follow };
	struct rec_fields *f = malloc(sizeof(*f));
	unsigned long long lineno = 0, bad = 0;
	char *line;
	size_t len;
	int r;

	c.file = strcmp(ob->file, "-") ? fopen(ob->file, "re") : stdin;
	if (!c.file || !f) {
		fprintf(stderr, "podsentry observe: %s: %s\n", ob->file, strerror(errno));
		free(f);
		return 1;
	}
	while ((r = conn_line(&c, &line, &len)) > 0) {
		struct json_object *o;

		lineno++;
		if (!len)
			continue;
		if (rec_fields_parse(line, len, f) || !(o = line_json(line, len))) {
			if (bad++ < 10)
				fprintf(stderr, "podsentry observe: %s: line %llu: not a JSON object\n",
					ob->file, lineno);
			continue;
		}
		if (rec_filter_match(&ob->filter, f))
			show(ob, o, line, len);
		json_object_put(o);
	}
	if (bad > 10)
		fprintf(stderr, "podsentry observe: %s: %llu lines were not JSON objects\n",
			ob->file, bad);
	if (c.file != stdin)
		fclose(c.file);
	free(c.buf);
	free(f);
	return r < 0 || bad ? 1 : 0;
}

static int observe_line(void *arg, struct json_object *o, const char *line, size_t len)
{
	show(arg, o, line, len);
	return 0;
}

static int observe_daemon(struct observe *ob)
{
	int ret = answer_wait(ob->req, ob->follow ? 0 : ANSWER_TIMEOUT_S,
			      ob->follow ? " (it stopped?)" : " before the end of its answer",
			      observe_line, ob);

	fflush(stdout);
	return ret;
}

static void color_option(struct render *rd, const char *when)
{
	if (!strcmp(when, "always"))
		rd->color = true;
	else if (!strcmp(when, "never"))
		rd->color = false;
	else if (strcmp(when, "auto"))
		die_usage("--color: \"%s\" is not auto, always or never", when);
}

static void color_auto(struct render *rd)
{
	const char *nc = getenv("NO_COLOR");

	rd->color = isatty(STDOUT_FILENO) && !(nc && nc[0]);
}

static void str_member(struct json_object *req, const char *key, const char *v)
{
	json_object_object_add(req, key, json_object_new_string(v));
}

/* "flow,alert": names of lower-case letters and '_' */
static bool types_ok(const char *s)
{
	size_t n;

	do {
		n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
		if (!n || (s[n] && s[n] != ','))
			return false;
		s += n;
	} while (*s++);
	return true;
}

static int cmd_observe(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "since", required_argument, NULL, 'S' },
		{ "type", required_argument, NULL, 't' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "pod", required_argument, NULL, 'p' },
		{ "process", required_argument, NULL, 'P' },
		{ "rule", required_argument, NULL, 'r' },
		{ "severity", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "color", required_argument, NULL, 'c' },
		{ "file", required_argument, NULL, 'F' },
		{ "socket", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct observe ob = { .req = json_object_new_object() };
	const char *color = "auto";
	char why[300];
	__u64 dur;
	int c, ret;

	str_member(ob.req, "op", "observe");
	while ((c = getopt_long(argc, argv, "ft:n:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': ob.follow = true; break;
		case 'S':
			if (duration_parse(optarg, &dur))
				die_usage("--since: \"%s\" is not a duration (e.g. 30s, 5m, 1h30m, 2d)",
					  optarg);
			str_member(ob.req, "since", optarg);
			break;
		case 't':
			if (!types_ok(optarg))
				die_usage("--type: \"%s\" is not a comma-separated list of record types",
					  optarg);
			str_member(ob.req, "types", optarg);
			break;
		case 'n': str_member(ob.req, "namespace", optarg); break;
		case 'p': str_member(ob.req, "pod", optarg); break;
		case 'P': str_member(ob.req, "process", optarg); break;
		case 'r': str_member(ob.req, "rule", optarg); break;
		case 's':
			if (severity_level(optarg) < 0)
				die_usage("--severity: \"%s\" is not info, low, medium, high or critical",
					  optarg);
			str_member(ob.req, "severity", optarg);
			break;
		case 'o':
			if (strcmp(optarg, "compact") && strcmp(optarg, "json"))
				die_usage("--output: \"%s\" is not compact or json", optarg);
			ob.json = !strcmp(optarg, "json");
			break;
		case 'c': color = optarg; break;
		case 'F': ob.file = optarg; break;
		case 'k': sock_path = optarg; break;
		case 'h': fputs(observe_usage, stdout); exit(0);
		default: bad_option(argv);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\"", argv[optind]);
	color_auto(&ob.rd);
	color_option(&ob.rd, color);
	if (ob.follow)
		json_object_object_add(ob.req, "follow", json_object_new_boolean(true));
	/* the daemon's check, here first: a bad filter is an option error */
	if (rec_filter_from_request(&ob.filter, ob.req, render_now_ns(), why, sizeof(why)))
		die_usage("%s", why);
	ret = ob.file ? observe_file(&ob) : observe_daemon(&ob);
	json_object_put(ob.req);
	return ret;
}

/* ---- pods, alerts, status ---- */

struct table {
	char **cells; /* rows * cols */
	size_t rows, cap;
};

#define POD_COLS 7

static int pod_row(void *arg, struct json_object *o, const char *line, size_t len)
{
	struct table *t = arg;
	char buf[64];
	size_t i;

	if (!t) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		return 0;
	}
	if (t->rows == t->cap) {
		char **c = realloc(t->cells, (t->cap ? t->cap * 2 : 16) * POD_COLS * sizeof(*c));

		if (!c)
			return -1;
		t->cells = c;
		t->cap = t->cap ? t->cap * 2 : 16;
	}
	char **row = t->cells + t->rows * POD_COLS;

	row[0] = render_text_dup(render_get_str(o, "pod.namespace", ""));
	row[1] = render_text_dup(render_get_str(o, "pod.name", ""));
	snprintf(buf, sizeof(buf), "%lld", render_get_int(o, "netns", 0));
	row[2] = strdup(buf);
	row[3] = render_text_dup(render_get_str(o, "veth", "-")[0] ? render_get_str(o, "veth", "-")
								     : "-");
	snprintf(buf, sizeof(buf), "%lld", render_get_int(o, "flows", 0));
	row[4] = strdup(buf);
	snprintf(buf, sizeof(buf), "%lld", render_get_int(o, "alerts", 0));
	row[5] = strdup(buf);
	row[6] = strdup(render_get_bool(o, "pending") ? "pending" : "attached");
	for (i = 0; i < POD_COLS; i++)
		if (!row[i])
			return -1;
	t->rows++;
	return 0;
}

static int cmd_pods(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "socket", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static const char *const head[POD_COLS] = { "NAMESPACE", "NAME", "NETNS", "VETH",
						    "FLOWS", "ALERTS", "STATE" };
	struct json_object *req = json_object_new_object();
	struct table t = {};
	size_t w[POD_COLS], i, j;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (strcmp(optarg, "table") && strcmp(optarg, "json"))
				die_usage("--output: \"%s\" is not table or json", optarg);
			json = !strcmp(optarg, "json");
			break;
		case 'k': sock_path = optarg; break;
		case 'h': fputs(pods_usage, stdout); exit(0);
		default: bad_option(argv);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\"", argv[optind]);
	str_member(req, "op", "pods");
	ret = answer_each(req, pod_row, json ? NULL : &t);
	json_object_put(req);
	if (json || ret)
		goto out;
	for (j = 0; j < POD_COLS; j++) {
		w[j] = strlen(head[j]);
		for (i = 0; i < t.rows; i++)
			if (render_width(t.cells[i * POD_COLS + j]) > w[j])
				w[j] = render_width(t.cells[i * POD_COLS + j]);
	}
	for (i = 0; i <= t.rows; i++) {
		for (j = 0; j < POD_COLS; j++) {
			const char *s = i ? t.cells[(i - 1) * POD_COLS + j] : head[j];
			size_t pad = w[j] - render_width(s);

			fputs(s, stdout);
			if (j + 1 < POD_COLS)
				printf("%*s  ", (int)pad, "");
		}
		putchar('\n');
	}
out:
	for (i = 0; i < t.rows * POD_COLS; i++)
		free(t.cells[i]);
	free(t.cells);
	return ret;
}

struct alerts_ctx {
	struct render rd;
	bool json;
	unsigned int n;
};

static int alert_block(void *arg, struct json_object *o, const char *line, size_t len)
{
	struct alerts_ctx *x = arg;

	if (x->json) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
	} else {
		if (x->n)
			putchar('\n');
		render_alert_block(&x->rd, stdout, o);
	}
	x->n++;
	return 0;
}

static int cmd_alerts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "color", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct json_object *req = json_object_new_object();
	struct alerts_ctx x = {};
	const char *color = "auto";
	int c, ret;

	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (strcmp(optarg, "text") && strcmp(optarg, "json"))
				die_usage("--output: \"%s\" is not text or json", optarg);
			x.json = !strcmp(optarg, "json");
			break;
		case 'c': color = optarg; break;
		case 'k': sock_path = optarg; break;
		case 'h': fputs(alerts_usage, stdout); exit(0);
		default: bad_option(argv);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\"", argv[optind]);
	color_auto(&x.rd);
	color_option(&x.rd, color);
	str_member(req, "op", "alerts");
	ret = answer_each(req, alert_block, &x);
	json_object_put(req);
	if (!ret && !x.json && !x.n)
		printf("no open alerts\n");
	return ret;
}

struct status_ctx {
	bool json;
	struct json_object *answer;
};

static int status_line(void *arg, struct json_object *o, const char *line, size_t len)
{
	struct status_ctx *x = arg;

	if (x->json) {
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
	}
	if (!strcmp(line_type(o), "status") && !x->answer)
		x->answer = json_object_get(o);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "socket", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct json_object *req = json_object_new_object();
	struct status_ctx x = {};
	int c, ret;

	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (strcmp(optarg, "text") && strcmp(optarg, "json"))
				die_usage("--output: \"%s\" is not text or json", optarg);
			x.json = !strcmp(optarg, "json");
			break;
		case 'k': sock_path = optarg; break;
		case 'h': fputs(status_usage, stdout); exit(0);
		default: bad_option(argv);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\"", argv[optind]);
	str_member(req, "op", "status");
	ret = answer_each(req, status_line, &x);
	json_object_put(req);
	if (ret)
		return ret;
	if (!x.answer) {
		fprintf(stderr, "podsentry: podsentryd at %s sent no status\n", sock_path);
		return 1;
	}
	if (!x.json)
		render_status(stdout, x.answer);
	ret = render_status_ok(x.answer, sock_path) ? 0 : 1;
	json_object_put(x.answer);
	return ret;
}

/* ---- the command line ---- */

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
		const char *usage;
	} cmds[] = {
		{ "observe", cmd_observe, observe_usage },
		{ "pods", cmd_pods, pods_usage },
		{ "alerts", cmd_alerts, alerts_usage },
		{ "status", cmd_status, status_usage },
	};
	static char names[sizeof(cmds) / sizeof(cmds[0])][32];
	int i = 1;
	size_t k;

	signal(SIGPIPE, SIG_DFL);
	/* the options before the command */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock_path = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock_path = argv[i] + 9;
		} else if (!strcmp(argv[i], "--version")) {
			version_print(stdout, "podsentry");
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			die_usage("%s: unknown option or missing argument", argv[i]);
		}
	}
	if (i == argc)
		die_usage("a command is needed (observe, pods, alerts, status, report)");
	if (!strcmp(argv[i], "report"))
		return report_main(argc - i, argv + i);
	if (!strcmp(argv[i], "help")) {
		for (k = 0; i + 1 < argc && k < sizeof(cmds) / sizeof(cmds[0]); k++)
			if (!strcmp(argv[i + 1], cmds[k].name)) {
				fputs(cmds[k].usage, stdout);
				return 0;
			}
		if (i + 1 < argc && !strcmp(argv[i + 1], "report")) {
			char *av[] = { "report", "--help", NULL };

			return report_main(2, av);
		}
		fputs(usage_text, stdout);
		return 0;
	}
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		if (strcmp(argv[i], cmds[k].name))
			continue;
		snprintf(names[k], sizeof(names[k]), "podsentry %s", cmds[k].name);
		cmd = names[k];
		opterr = 0;
		optind = 1;
		return cmds[k].fn(argc - i, argv + i);
	}
	die_usage("\"%s\" is not a command (observe, pods, alerts, status, report)", argv[i]);
	return 2;
}
