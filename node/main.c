// SPDX-License-Identifier: GPL-2.0-only
/*
 * podsentryd: the node daemon. Loads and pins podsentry's BPF programs and
 * maps, traces process exec/fork/exit, attributes processes to pods by
 * network namespace, and writes JSON lines.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "podsentry.h"
#include "node/sinks/export.h"
#include "node/detect/config.h"
#include "node/detect/detect.h"
#include "node/state/flows.h"
#include "node/state/listeners.h"
#include "node/kern/loader.h"
#include "node/kern/privs.h"
#include "node/sinks/podlog.h"
#include "node/state/pods.h"
#include "node/state/proc_cache.h"
#include "node/records/records.h"
#include "node/state/sockets.h"

#define PROC_GRACE_NS (60ULL * 1000000000ULL)
#define PROC_MAX_GONE 8192

static const char usage_text[] =
"Usage: podsentryd [OPTIONS]\n"
"\n"
"Trace process exec/exit in Kubernetes pods (and, with podsentry-cni,\n"
"their network flows) in the kernel and write JSON lines.\n"
"\n"
"Options:\n"
"  --bpffs DIR        bpffs folder for pinned maps and programs\n"
"                     (default " PS_BPFFS_DEFAULT "; bpffs is mounted when missing)\n"
"  --state-dir DIR    podsentry-cni state folder (default " PS_STATE_DIR_DEFAULT ")\n"
"  --export FILE|-    JSON-lines output (default -: stdout); SIGHUP reopens it\n"
"  --scope pods|all   report processes of registered pods only (default)\n"
"                     or every process on the host\n"
"  --log-dir DIR      also write each pod's records to DIR/<namespace>/<pod>.log\n"
"  --flow-update SEC  report long flows every SEC seconds (default 30)\n"
"  --flow-idle SEC    end flows idle for SEC seconds (default 60)\n"
"  --max-flows N4[,N6] flow table sizes, IPv4 and IPv6 entries (default\n"
"                     131072,65536; LRU: the least recent flows make room)\n"
"  --node-name NAME   node name in records and exec ids (default: hostname)\n"
"  --config FILE      detection rules, allow-lists and tunables (JSON);\n"
"                     an invalid file stops the daemon\n"
"  --alerts FILE|-    also write alert records to FILE; SIGHUP reopens it\n"
"  --state-file FILE  learned baseline and open alerts, kept across restarts\n"
"                     (default " DETECT_STATE_DEFAULT ")\n"
"  --keep-pins        leave maps and programs pinned at exit\n"
"  --seccomp MODE     enforce (default): system calls off the allow-list\n"
"                     fail with EPERM and are logged by the kernel; log:\n"
"                     allowed and logged; off: no filter\n"
"  -v, --verbose      libbpf and debug messages on stderr\n"
"  -h, --help         this text\n"
"\n"
"Examples:\n"
"  podsentryd                                  # pods only, JSON on stdout\n"
"  podsentryd --scope all --export /var/log/podsentry.json\n"
"  podsentryd --log-dir /var/log/podsentry/pods --flow-idle 30\n"
"  podsentryd --bpffs /sys/fs/bpf/ps-test --keep-pins -v\n";

struct options {
	const char *bpffs;
	const char *state_dir;
	const char *export;
	const char *node;
	const char *log_dir;
	const char *config, *alerts, *state_file;
	__u64 flow_update_ns;
	__u64 flow_idle_ns;
	__u32 max_flows4, max_flows6;
	enum ps_scope scope;
	enum privs_seccomp seccomp;
	bool keep_pins;
	bool verbose;
};

struct daemon {
	struct options opt;
	struct loader loader;
	struct exporter out;
	struct podlog *podlog;
	struct det_config cfg;
	struct detect *detect;
	struct flow_table *flows;
	struct record_ctx rc;
	struct proc_cache *procs;
	struct pods *pods;
	struct ring_buffer *rb;
	int drops_fd;
	__u64 drops_seen[PS_DROP_MAX];
	unsigned long long events, bad_events;
	char node[256];
};

static const char *const drop_names[] = PS_DROP_REASON_NAMES;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	return vfprintf(stderr, fmt, ap);
}

static int seconds_parse(const char *s, __u64 *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400 * 365)
		return -EINVAL;
	*ns = (__u64)(v * 1e9);
	return 0;
}

#define PS_FLOWS_MIN 1024U
#define PS_FLOWS_MAX (16U << 20)

static int flows_count_parse(const char *s, char **end, __u32 *n)
{
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, end, 10);
	if (errno || v < PS_FLOWS_MIN || v > PS_FLOWS_MAX)
		return -EINVAL;
	*n = v;
	return 0;
}

/* "N4" or "N4,N6": the sizes of the flows4 and flows6 tables */
static int max_flows_parse(const char *s, __u32 *n4, __u32 *n6)
{
	char *end;

	if (flows_count_parse(s, &end, n4))
		return -EINVAL;
	if (!*end)
		return 0;
	if (*end != ',' || flows_count_parse(end + 1, &end, n6) || *end)
		return -EINVAL;
	return 0;
}

static int options_parse(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bpffs", required_argument, NULL, 'b' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "export", required_argument, NULL, 'e' },
		{ "scope", required_argument, NULL, 'S' },
		{ "node-name", required_argument, NULL, 'n' },
		{ "keep-pins", no_argument, NULL, 'k' },
		{ "log-dir", required_argument, NULL, 'L' },
		{ "flow-update", required_argument, NULL, 'U' },
		{ "flow-idle", required_argument, NULL, 'I' },
		{ "max-flows", required_argument, NULL, 'M' },
		{ "config", required_argument, NULL, 'C' },
		{ "alerts", required_argument, NULL, 'A' },
		{ "state-file", required_argument, NULL, 'T' },
		{ "seccomp", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	o->bpffs = PS_BPFFS_DEFAULT;
	o->state_dir = PS_STATE_DIR_DEFAULT;
	o->export = "-";
	o->state_file = DETECT_STATE_DEFAULT;
	o->scope = PS_SCOPE_PODS;
	o->flow_update_ns = 30ULL * 1000000000ULL;
	o->flow_idle_ns = 60ULL * 1000000000ULL;
	o->max_flows4 = PS_MAX_FLOWS;
	o->max_flows6 = PS_MAX_FLOWS6;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o->bpffs = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'e': o->export = optarg; break;
		case 'n': o->node = optarg; break;
		case 'k': o->keep_pins = true; break;
		case 'L': o->log_dir = optarg; break;
		case 'C': o->config = optarg; break;
		case 'A': o->alerts = optarg; break;
		case 'T': o->state_file = optarg; break;
		case 'P':
			if (privs_seccomp_parse(optarg, &o->seccomp)) {
				fprintf(stderr, "podsentryd: --seccomp: \"%s\" is not enforce, log or off\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'U':
		case 'I':
			if (seconds_parse(optarg, c == 'U' ? &o->flow_update_ns
							   : &o->flow_idle_ns)) {
				fprintf(stderr, "podsentryd: --%s: \"%s\" is not a number of seconds > 0\n",
					c == 'U' ? "flow-update" : "flow-idle", optarg);
				return -EINVAL;
			}
			break;
		case 'M':
			if (max_flows_parse(optarg, &o->max_flows4,
					    &o->max_flows6)) {
				fprintf(stderr, "podsentryd: --max-flows: \"%s\" is not N or N4,N6 with each from %u to %u\n",
					optarg, PS_FLOWS_MIN, PS_FLOWS_MAX);
				return -EINVAL;
			}
			break;
		case 'v': o->verbose = true; break;
		case 'S':
			if (!strcmp(optarg, "pods"))
				o->scope = PS_SCOPE_PODS;
			else if (!strcmp(optarg, "all"))
				o->scope = PS_SCOPE_ALL;
			else {
				fprintf(stderr, "podsentryd: --scope: \"%s\" is not pods or all\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			if (optopt)
				fprintf(stderr, "podsentryd: option -%c: %s\n", optopt,
					strchr("vh", optopt) ? "unexpected" :
					"unknown or missing its argument");
			else
				fprintf(stderr, "podsentryd: %s: unknown option or missing argument\n",
					argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "podsentryd: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->bpffs[0] || o->bpffs[0] != '/') {
		fprintf(stderr, "podsentryd: --bpffs: \"%s\" is not an absolute path\n",
			o->bpffs);
		return -EINVAL;
	}
	return 0;
}

static char *cwd_from_components(const char *buf, __u32 len)
{
	const char *comp[PS_CWD_DEPTH + 1];
	size_t total = 2;
	__u32 i = 0, n = 0;
	char *s, *p;

	while (i < len && n < PS_CWD_DEPTH + 1) {
		size_t l = strnlen(buf + i, len - i);

		comp[n++] = buf + i;
		total += l + 1;
		i += l + 1;
	}
	s = p = malloc(total);
	if (!s)
		return NULL;
	if (!n)
		*p++ = '/';
	while (n--) {
		*p++ = '/';
		p = stpcpy(p, comp[n]);
	}
	*p = 0;
	return s;
}

/* A record line to the node-wide export and, when the record has a pod
 * (netns), to that pod's log. */
static void emit_line(struct daemon *d, const char *line, size_t len,
		      __u32 netns)
{
	exporter_write_line(&d->out, line, len);
	if (d->podlog && netns)
		podlog_write_line(d->podlog, &d->rc, netns, line, len);
}

static void emit_pod(struct daemon *d, struct json_object *rec, __u32 netns)
{
	size_t len;
	const char *s = json_object_to_json_string_length(rec,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	if (s)
		emit_line(d, s, len, json_object_object_get_ex(rec, "pod", NULL) ?
				     netns : 0);
	else
		d->out.write_errors++;
	detect_record(d->detect, rec, netns);
	json_object_put(rec);
}

static void emit(struct daemon *d, struct json_object *rec)
{
	emit_pod(d, rec, 0);
}

static void flow_emit(void *arg, struct json_object *rec, __u32 netns)
{
	emit_pod(arg, rec, netns);
}

/* connect, accept, listen, inherit and flow records, written as text */
static void line_emit(void *arg, const char *line, size_t len, __u32 netns,
		      const struct conn_rec *c)
{
	struct daemon *d = arg;

	emit_line(d, line, len, netns);
	if (c)
		detect_conn(d->detect, c);
}

static void on_exec(struct daemon *d, const struct ps_exec_event *e)
{
	struct proc *p = calloc(1, sizeof(*p)), *pp;
	struct json_object *rec;

	if (!p)
		return;
	p->id = e->exec;
	p->parent = e->parent;
	p->pid = e->tgid;
	p->ppid = e->ppid;
	p->uid = e->uid;
	p->gid = e->gid;
	p->netns_ino = e->netns_ino;
	p->cgroup_id = e->cgroup_id;
	p->exec_flags = e->flags;
	p->binary = strndup(e->binary, sizeof(e->binary));
	p->args_len = e->args_len; /* < PS_ARGS_MAX: checked by on_event */
	p->args = malloc(p->args_len + 1);
	if (p->args) {
		memcpy(p->args, e->args, p->args_len);
		p->args[p->args_len] = 0;
	}
	p->cwd = cwd_from_components(e->args + p->args_len, e->cwd_len);
	if (!p->parent.ktime) {
		/* the kernel did not know the parent's exec: ask the cache */
		pp = proc_cache_by_pid(d->procs, p->parent.pid);
		if (pp)
			p->parent = pp->id;
	}
	proc_cache_add(d->procs, p);

	rec = record_new(&d->rc, "process_exec", e->hdr.ktime);
	record_add_pod(&d->rc, rec, p->netns_ino);
	json_object_object_add(rec, "process", process_json(&d->rc, p));
	if (e->flags & PS_EXEC_PARENT_OTHER_NETNS) /* entered from outside */
		json_object_object_add(json_object_object_get(rec, "process"),
				       "parent_netns",
				       json_object_new_int64(e->parent_netns_ino));
	pp = proc_cache_get(d->procs, &p->parent);
	if (pp) {
		json_object_object_add(rec, "parent", process_brief_json(&d->rc, pp));
	} else if (p->parent.pid) {
		/* an exec the daemon did not report (outside the pods) */
		struct proc stub = { .id = p->parent, .pid = p->parent.pid };

		json_object_object_add(rec, "parent", process_brief_json(&d->rc, &stub));
	}
	emit_pod(d, rec, p->netns_ino);
}

static void on_exit_event(struct daemon *d, const struct ps_exit_event *e)
{
	struct proc *p = proc_cache_get(d->procs, &e->exec), tmp = {};
	struct json_object *rec, *pj;
	__u32 sig = e->exit_code & 0x7f;

	if (!p) {
		/* exec'd before the cache knew it: report what the kernel has */
		tmp.id = e->exec;
		tmp.pid = e->tgid;
		tmp.netns_ino = e->netns_ino;
	}
	rec = record_new(&d->rc, "process_exit", e->hdr.ktime);
	record_add_pod(&d->rc, rec, e->netns_ino);
	pj = process_json(&d->rc, p ? p : &tmp);
	json_object_object_add(rec, "process", pj);
	if (p) {
		struct proc *pp = proc_cache_get(d->procs, &p->parent);

		if (pp)
			json_object_object_add(rec, "parent",
					       process_brief_json(&d->rc, pp));
	}
	json_object_object_add(rec, "exit_code",
			       json_object_new_int(sig ? 0 : (e->exit_code >> 8) & 0xff));
	json_object_object_add(rec, "signal", json_object_new_int(sig));
	if (sig) {
		const char *name = sigabbrev_np(sig);

		if (name) {
			char buf[32];

			snprintf(buf, sizeof(buf), "SIG%s", name);
			json_object_object_add(rec, "signal_name",
					       json_object_new_string(buf));
		}
	}
	emit_pod(d, rec, e->netns_ino);
	if (p)
		proc_cache_exit(d->procs, p, e->hdr.ktime);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct daemon *d = ctx;
	const struct ps_event_hdr *h = data;

	d->events++;
	if (len < sizeof(*h))
		goto bad;
	switch (h->type) {
	case PS_EV_EXEC:
		if (len < PS_EXEC_EVENT_MIN ||
		    ((const struct ps_exec_event *)data)->args_len >= PS_ARGS_MAX ||
		    ((const struct ps_exec_event *)data)->cwd_len >= PS_CWD_MAX ||
		    len < PS_EXEC_EVENT_LEN((const struct ps_exec_event *)data))
			goto bad;
		on_exec(d, data);
		return 0;
	case PS_EV_EXIT:
		if (len < sizeof(struct ps_exit_event))
			goto bad;
		on_exit_event(d, data);
		return 0;
	case PS_EV_FLOW_START:
	case PS_EV_FLOW_END:
	case PS_EV_FLOW_UPDATE:
		if (len < sizeof(struct ps_flow_event))
			goto bad;
		flows_event(d->flows, data);
		return 0;
	case PS_EV_CONNECT:
	case PS_EV_ACCEPT:
	case PS_EV_LISTEN:
	case PS_EV_INHERIT:
		if (sockets_event(data, len))
			goto bad;
		return 0;
	}
bad:
	d->bad_events++;
	return 0;
}

/* Report growth of the kernel's drop counters as "lost" records. */
static void drops_report(struct daemon *d)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 vals[ncpu > 0 ? ncpu : 1];
	__u32 k;

	if (ncpu <= 0)
		return;
	for (k = 0; k < PS_DROP_MAX; k++) {
		__u64 total = 0;
		struct json_object *rec, *lost;
		int i;

		if (bpf_map_lookup_elem(d->drops_fd, &k, vals))
			continue;
		for (i = 0; i < ncpu; i++)
			total += vals[i];
		if (total <= d->drops_seen[k])
			continue;
		rec = record_new(&d->rc, "lost", clock_boot_ns());
		lost = json_object_new_object();
		json_object_object_add(lost, "reason",
				       json_object_new_string(drop_names[k] ? drop_names[k] : "unknown"));
		json_object_object_add(lost, "count",
				       json_object_new_uint64(total - d->drops_seen[k]));
		json_object_object_add(lost, "total", json_object_new_uint64(total));
		json_object_object_add(rec, "lost", lost);
		emit(d, rec);
		d->drops_seen[k] = total;
	}
}

static int fd_add(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int run(struct daemon *d)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int ep = -1, sfd = -1, tfd = -1, rbfd, err = 0;
	sigset_t mask;
	bool stop = false;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	rbfd = ring_buffer__epoll_fd(d->rb);
	if (sfd < 0 || tfd < 0 || ep < 0 || timerfd_settime(tfd, 0, &its, NULL) ||
	    fd_add(ep, sfd) || fd_add(ep, tfd) || fd_add(ep, rbfd)) {
		err = -errno;
		fprintf(stderr, "podsentryd: event loop setup: %s\n", strerror(errno));
		goto out;
	}
	fprintf(stderr, "podsentryd: ready (bpffs %s, scope %s, node %s)\n",
		d->opt.bpffs, d->opt.scope == PS_SCOPE_ALL ? "all" : "pods", d->node);

	while (!stop) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, PS_RB_POLL_MS), i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0) /* records queued without a wakeup */
			ring_buffer__consume(d->rb);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == rbfd) {
				ring_buffer__consume(d->rb);
			} else if (fd == tfd) {
				__u64 ticks;

				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				record_clock_sync(&d->rc);
				/* events queued without a wakeup first: the sweep
				 * must not end a flow whose end event is pending */
				ring_buffer__consume(d->rb);
				drops_report(d);
				flows_sweep(d->flows, clock_boot_ns(), 0);
				sockets_tick(clock_boot_ns());
				proc_cache_reap(d->procs, clock_boot_ns());
				detect_tick(d->detect);
			} else if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					if (exporter_reopen(&d->out))
						fprintf(stderr, "podsentryd: reopen %s: %s\n",
							d->out.path, strerror(errno));
					podlog_reopen(d->podlog);
					detect_reopen(d->detect);
				} else {
					stop = true;
				}
			}
		}
		exporter_flush(&d->out);
		podlog_flush(d->podlog);
	}
	/* drain what the kernel queued before the signal */
	ring_buffer__consume(d->rb);
	flows_sweep(d->flows, clock_boot_ns(), 1);
	drops_report(d);
	exporter_flush(&d->out);
	podlog_flush(d->podlog);
out:
	if (ep >= 0)
		close(ep);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	return err;
}

/* The detection config: validated before anything starts. */
static int detect_setup(struct daemon *d)
{
	char msg[1024];

	config_defaults(&d->cfg);
	if (d->opt.config && config_load(&d->cfg, d->opt.config, msg, sizeof(msg))) {
		fprintf(stderr, "%s\n", msg);
		return -EINVAL;
	}
	return 0;
}

static int detect_start(struct daemon *d)
{
	struct detect_opts o = {
		.cfg = &d->cfg, .rc = &d->rc, .alerts_path = d->opt.alerts,
		.state_file = d->opt.state_file, .bpffs = d->opt.bpffs,
		.emit = flow_emit, .arg = d,
	};
	int err = 0;

	d->detect = detect_new(&o, &err);
	return d->detect ? 0 : err;
}

int main(int argc, char **argv)
{
	struct daemon d = {};
	int err, events_fd, procs_fd;

	if (options_parse(&d.opt, argc, argv)) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (d.opt.node)
		snprintf(d.node, sizeof(d.node), "%s", d.opt.node);
	else if (gethostname(d.node, sizeof(d.node) - 1))
		snprintf(d.node, sizeof(d.node), "localhost");
	if (d.opt.verbose)
		libbpf_set_print(libbpf_print);
	else
		libbpf_set_print(NULL);
	if (detect_setup(&d))
		return 1;

	err = exporter_open(&d.out, d.opt.export);
	if (err) {
		fprintf(stderr, "podsentryd: cannot open export file %s: %s\n",
			d.opt.export, strerror(-err));
		return 1;
	}
	if (d.opt.log_dir) {
		d.podlog = podlog_new(d.opt.log_dir, &err);
		if (!d.podlog) {
			fprintf(stderr, "podsentryd: --log-dir %s: %s\n", d.opt.log_dir,
				strerror(-err));
			err = 1;
			goto out_export;
		}
	}
	err = loader_lock(&d.loader, d.opt.bpffs);
	if (err)
		goto out_export;
	d.loader.keep_pins = d.opt.keep_pins;
	err = loader_start(&d.loader, d.opt.scope, d.opt.flow_update_ns,
			   d.opt.max_flows4, d.opt.max_flows6);
	if (err)
		goto out_loader;

	d.procs = proc_cache_new(PROC_GRACE_NS, PROC_MAX_GONE);
	if (!d.procs) {
		err = -ENOMEM;
		goto out_loader;
	}
	procs_fd = loader_map_fd(&d.loader, PS_PIN_PROCS);
	err = proc_cache_seed(d.procs, procs_fd);
	if (err < 0) {
		fprintf(stderr, "podsentryd: read /proc: %s\n", strerror(-err));
		goto out_cache;
	}
	d.pods = pods_open(d.opt.state_dir, d.opt.bpffs, &err);
	if (!d.pods) {
		fprintf(stderr, "podsentryd: state folder %s: %s\n", d.opt.state_dir,
			strerror(-err));
		goto out_cache;
	}
	err = pods_reconcile(d.pods);
	if (err < 0)
		fprintf(stderr, "podsentryd: reconcile %s: %s (continuing)\n",
			d.opt.state_dir, strerror(-err));
	/* after the programs are attached: a listen() from now on is seen */
	err = listeners_seed(d.procs, loader_map_fd(&d.loader, PS_PIN_LISTENERS),
			     loader_map_fd(&d.loader, PS_PIN_UDP_BINDS),
			     loader_map_fd(&d.loader, PS_PIN_PODS),
			     d.opt.scope == PS_SCOPE_ALL);
	if (err < 0)
		fprintf(stderr, "podsentryd: listening sockets from /proc: %s (continuing)\n",
			strerror(-err));
	else if (err > 0)
		fprintf(stderr, "podsentryd: %d listening or bound sockets already open\n", err);

	d.rc.node = d.node;
	d.rc.pods = d.pods;
	d.rc.procs = d.procs;
	d.rc.pods_map_fd = loader_map_fd(&d.loader, PS_PIN_PODS);
	d.rc.pod_ip_fd = loader_map_fd(&d.loader, PS_PIN_POD_IP);
	d.flows = flows_new(&d.rc, loader_map_fd(&d.loader, PS_PIN_FLOWS4),
			    loader_map_fd(&d.loader, PS_PIN_FLOWS6),
			    loader_map_fd(&d.loader, PS_PIN_SOCKS),
			    d.opt.flow_idle_ns, line_emit, &d);
	if (!d.flows) {
		err = -ENOMEM;
		goto out_pods;
	}
	record_clock_sync(&d.rc);
	exporter_report_lost(&d.out, &d.rc);
	err = sockets_init(&d.rc, &d.loader, d.flows, line_emit, flow_emit, &d);
	if (err)
		goto out_pods;
	err = detect_start(&d);
	if (err)
		goto out_pods;
	d.drops_fd = loader_map_fd(&d.loader, PS_PIN_DROPS);
	events_fd = loader_map_fd(&d.loader, PS_PIN_EVENTS);
	d.rb = ring_buffer__new(events_fd, on_event, &d, NULL);
	if (!d.rb) {
		err = -errno;
		fprintf(stderr, "podsentryd: ring buffer: %s\n", strerror(-err));
		goto out_pods;
	}
	/* everything is loaded, attached and read: what runs from here on
	 * needs no capability but, on older kernels, CAP_BPF */
	err = privs_drop(d.opt.seccomp, d.drops_fd);
	if (err)
		goto out_rb;
	err = run(&d);
out_rb:
	ring_buffer__free(d.rb);
out_pods:
	sockets_exit();
	flows_free(d.flows);
	detect_free(d.detect);
	d.detect = NULL;
	pods_close(d.pods);
out_cache:
	proc_cache_free(d.procs);
out_loader:
	loader_stop(&d.loader);
out_export:
	podlog_free(d.podlog);
	exporter_close(&d.out);
	if (d.opt.verbose)
		fprintf(stderr, "podsentryd: %llu events, %llu malformed, %llu records\n",
			d.events, d.bad_events, d.out.records);
	return err ? 1 : 0;
}
