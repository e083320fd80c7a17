// SPDX-License-Identifier: GPL-2.0-only
/*
 * podsentryd: the node daemon. Wiring only: options, then the stages of
 * the pipeline (node/kern: programs and events; node/state: processes,
 * pods, sockets, flows; node/records: the record writers; node/sinks:
 * export and pod logs; node/detect: detection), and the event loop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "podsentry.h"
#include "node/detect/config.h"
#include "node/detect/detect.h"
#include "node/kern/events.h"
#include "node/kern/loader.h"
#include "node/kern/privs.h"
#include "node/kern/ringbuf.h"
#include "node/pipeline/pipeline.h"
#include "node/records/flow.h"
#include "node/records/process.h"
#include "node/records/records.h"
#include "node/records/stats.h"
#include "node/sinks/api.h"
#include "node/sinks/metrics.h"
#include "node/sinks/sinks.h"
#include "node/state/flows.h"
#include "node/state/listeners.h"
#include "node/state/pods.h"
#include "node/state/proc_cache.h"
#include "node/state/sockets.h"
#include "cni/shared/version.h"

#define PROC_GRACE_NS (60ULL * 1000000000ULL)
#define PROC_MAX_GONE 8192	  /* gone processes the flows may name */
#define PROC_MAX_GONE_PLAIN 2048 /* the others (no socket): go first */

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
"  --flow-aggregate SEC fold the short connections that end within SEC\n"
"                     seconds into one record per pod process, peer and\n"
"                     port (default: off, one record per connection)\n"
"  --records LIST     also write socket records: connect, accept, listen,\n"
"                     inherit (comma-separated, or all; default none)\n"
"  --stats-interval SEC a stats record every SEC seconds when something\n"
"                     changed (default 10), and at exit\n"
"  --max-flows N4[,N6] flow table sizes, IPv4 and IPv6 entries (default\n"
"                     131072,65536; LRU: the least recent flows make room)\n"
"  --max-connects N   TCP connects in progress whose caller is followed\n"
"                     (default 32768; past them a connect is not named\n"
"                     and counted as lost connects_full)\n"
"  --node-name NAME   node name in records and exec ids (default: hostname)\n"
"  --config FILE      detection rules, allow-lists and tunables (JSON);\n"
"                     an invalid file stops the daemon\n"
"  --alerts FILE|-    also write alert records to FILE; SIGHUP reopens it\n"
"  --state-file FILE  learned baseline and open alerts, kept across restarts\n"
"                     (default " DETECT_STATE_DEFAULT ")\n"
"  --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                     (IPv6: [ADDR]:PORT; default: off)\n"
"  --metrics-pods N   at most N pods named in the metrics' labels, the\n"
"                     others counted as pod=\"_other\" (default 512)\n"
"  --socket PATH      the local API for podsentry (default\n"
"                     " API_SOCKET_DEFAULT "; mode 0600)\n"
"  --keep-pins        leave maps and programs pinned at exit\n"
"  --seccomp MODE     enforce (default): system calls off the allow-list\n"
"                     fail with EPERM and are logged by the kernel; log:\n"
"                     allowed and logged; off: no filter\n"
"  -v, --verbose      libbpf and debug messages on stderr\n"
"  --version          version, git commit and BPF build id\n"
"  -h, --help         this text\n"
"\n"
"Examples:\n"
"  podsentryd                                  # pods only, JSON on stdout\n"
"  podsentryd --scope all --export /var/log/podsentry.json\n"
"  podsentryd --log-dir /var/log/podsentry/pods --flow-idle 30\n"
"  podsentryd --flow-aggregate 10 --records connect,accept\n"
"  podsentryd --metrics 127.0.0.1:9464\n"
"  podsentryd --bpffs /sys/fs/bpf/ps-test --keep-pins -v\n";

struct options {
	const char *bpffs;
	const char *state_dir;
	const char *export;
	const char *node;
	const char *log_dir;
	const char *config, *alerts, *state_file;
	const char *metrics; /* ADDR:PORT, NULL: off */
	const char *socket;  /* the local API */
	unsigned int metrics_pods;
	__u64 flow_update_ns;
	__u64 flow_idle_ns;
	__u64 flow_aggregate_ns; /* 0: off */
	__u64 stats_ns;
	__u32 records;		 /* enum ps_sock_records */
	__u32 max_flows4, max_flows6;
	__u32 max_connects;
	enum ps_scope scope;
	enum privs_seccomp seccomp;
	bool keep_pins;
	bool verbose;
};

struct daemon {
	struct options opt;
	struct loader loader;
	struct sinks sinks;
	struct det_config cfg;
	struct metrics *metrics;
	struct api *api;
	__u32 procs_peak; /* processes cached at most since the last trim */
	struct record_ctx rc;
	struct pipeline pl; /* the stages joined */
	struct pods *pods;
	struct events events;
	struct ringbuf rb;
	int drops_fd;
	__u64 drops_seen[PS_DROP_MAX];
	__u64 last_stats;
	unsigned long long stats_sig;
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
#define PS_CONNECTS_MIN 16U
#define PS_CONNECTS_MAX (1U << 20)

/* A count from min to max, digits only, ending at *end */
static int count_parse(const char *s, char **end, unsigned long min,
		       unsigned long max, __u32 *n)
{
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, end, 10);
	if (errno || v < min || v > max)
		return -EINVAL;
	*n = v;
	return 0;
}

static int flows_count_parse(const char *s, char **end, __u32 *n)
{
	return count_parse(s, end, PS_FLOWS_MIN, PS_FLOWS_MAX, n);
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

/* "connect,accept,...": enum ps_sock_records */
static int records_parse(const char *s, __u32 *out)
{
	static const struct { const char *name; __u32 bit; } names[] = {
		{ "connect", PS_REC_CONNECT }, { "accept", PS_REC_ACCEPT },
		{ "listen", PS_REC_LISTEN }, { "inherit", PS_REC_INHERIT },
		{ "all", PS_REC_CONNECT | PS_REC_ACCEPT | PS_REC_LISTEN | PS_REC_INHERIT },
	};
	const char *p = s;

	*out = 0;
	while (*p) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && !strncmp(p, names[i].name, n))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -EINVAL;
		*out |= names[i].bit;
		p += n;
		if (*p == ',' && *++p == 0)
			return -EINVAL;
	}
	return *out ? 0 : -EINVAL;
}

/* --metrics ADDR:PORT (checked now, opened later), --metrics-pods N */
static int metrics_option(struct options *o, int c, const char *arg)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	unsigned long n;
	char why[160], *end;

	if (c == 'm') {
		if (metrics_addr_parse(arg, &sa, &salen, why, sizeof(why))) {
			fprintf(stderr, "podsentryd: --metrics: \"%s\": %s\n", arg, why);
			return -EINVAL;
		}
		o->metrics = arg;
		return 0;
	}
	errno = 0;
	n = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || n < 1 ||
	    n > METRICS_MAX_PODS_LIMIT) {
		fprintf(stderr, "podsentryd: --metrics-pods: \"%s\" is not a number from 1 to %d\n",
			arg, METRICS_MAX_PODS_LIMIT);
		return -EINVAL;
	}
	o->metrics_pods = n;
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
		{ "max-connects", required_argument, NULL, 'K' },
		{ "flow-aggregate", required_argument, NULL, 'G' },
		{ "records", required_argument, NULL, 'R' },
		{ "stats-interval", required_argument, NULL, 'Q' },
		{ "config", required_argument, NULL, 'C' },
		{ "alerts", required_argument, NULL, 'A' },
		{ "state-file", required_argument, NULL, 'T' },
		{ "seccomp", required_argument, NULL, 'P' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "metrics-pods", required_argument, NULL, 'N' },
		{ "socket", required_argument, NULL, 'O' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	int c;

	o->bpffs = PS_BPFFS_DEFAULT;
	o->state_dir = PS_STATE_DIR_DEFAULT;
	o->export = "-";
	o->state_file = DETECT_STATE_DEFAULT;
	o->socket = API_SOCKET_DEFAULT;
	o->scope = PS_SCOPE_PODS;
	o->flow_update_ns = 30ULL * 1000000000ULL;
	o->flow_idle_ns = 60ULL * 1000000000ULL;
	o->stats_ns = 10ULL * 1000000000ULL;
	o->max_flows4 = PS_MAX_FLOWS;
	o->max_flows6 = PS_MAX_FLOWS6;
	o->max_connects = PS_MAX_CONNECTING;
	o->metrics_pods = METRICS_MAX_PODS_DEFAULT;
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
		case 'O': o->socket = optarg; break;
		case 'm':
		case 'N':
			if (metrics_option(o, c, optarg))
				return -EINVAL;
			break;
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
		case 'Q':
			if (seconds_parse(optarg, &o->stats_ns)) {
				fprintf(stderr, "podsentryd: --stats-interval: \"%s\" is not a number of seconds > 0\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'G':
			if (seconds_parse(optarg, &o->flow_aggregate_ns)) {
				fprintf(stderr, "podsentryd: --flow-aggregate: \"%s\" is not a number of seconds > 0\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'R':
			if (records_parse(optarg, &o->records)) {
				fprintf(stderr, "podsentryd: --records: \"%s\" is not a comma-separated list of connect, accept, listen, inherit (or all)\n",
					optarg);
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
		case 'K': {
			char *end;

			if (count_parse(optarg, &end, PS_CONNECTS_MIN,
					PS_CONNECTS_MAX, &o->max_connects) ||
			    *end) {
				fprintf(stderr, "podsentryd: --max-connects: \"%s\" is not a number from %u to %u\n",
					optarg, PS_CONNECTS_MIN, PS_CONNECTS_MAX);
				return -EINVAL;
			}
			break;
		}
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
		case 'V':
			version_print(stdout, "podsentryd");
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

/* ---- the pipeline: events -> state -> records -> sinks, detection
 * (node/pipeline) ---- */

static void agg_since(void *arg, __u64 ns)
{
	loader_agg_since(arg, ns);
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
		int i;

		if (bpf_map_lookup_elem(d->drops_fd, &k, vals))
			continue;
		for (i = 0; i < ncpu; i++)
			total += vals[i];
		if (total <= d->drops_seen[k])
			continue;
		lost_record_w(&d->rc, &d->pl.w, drop_names[k] ? drop_names[k] : "unknown",
			      total - d->drops_seen[k], total, clock_boot_ns());
		pipeline_line(&d->pl, &d->pl.w, 0, 0);
		d->drops_seen[k] = total;
	}
}

/* Every --stats-interval when something changed, and at exit. */
static void stats_report(struct daemon *d, __u64 now, bool force)
{
	struct stats_view v = {
		.flows = flows_stats(d->pl.flows),
		.sockets = sockets_stats(d->pl.sockets),
		.unwritten = d->pl.unwritten,
		.processes = proc_cache_count(d->pl.procs),
	};
	unsigned long long sig;

	if (d->pl.detect) {
		const struct detect_counters *c = detect_counters(d->pl.detect);

		v.detect_processes = c->procs;
		v.detect_pods = c->pods;
	}

	if (!force && now - d->last_stats < d->opt.stats_ns)
		return;
	d->last_stats = now;
	sig = v.flows->ended * 31 + v.flows->updates + v.flows->aggregated +
	      v.sockets->connects + v.sockets->accepts + v.sockets->udp +
	      v.sockets->notices + v.sockets->quiet + v.sockets->inherits +
	      v.sockets->connects_failed + v.unwritten + v.processes * 7 +
	      v.detect_processes * 11 + v.detect_pods * 13 +
	      exporter_counters(&d->sinks.out).dropped;
	if (!force && sig == d->stats_sig)
		return;
	d->stats_sig = sig;
	v.export = exporter_counters(&d->sinks.out);
	if (d->sinks.podlog)
		v.podlogs = podlog_counters(d->sinks.podlog);
	stats_record_w(&d->rc, &d->pl.w, &v, now);
	pipeline_line(&d->pl, &d->pl.w, 0, 0);
}

static int fd_add(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Once a second: what time ends, sweeps, caches. */
/* After the reaping of many processes (an exec storm that ended), give
 * the freed heap back to the system: without it the RSS stays at the
 * storm's peak. */
static void memory_return(struct daemon *d)
{
	__u32 n = proc_cache_count(d->pl.procs);

	if (n > d->procs_peak)
		d->procs_peak = n;
	if (d->procs_peak - n >= 1024) {
		malloc_trim(0);
		d->procs_peak = n;
	}
}

/* Read the ring buffer's records, write out what they became, and only
 * then free their space: a daemon killed in between leaves them to the
 * next, which reads them again. 32 records a round: what they become
 * fits the sinks' 64 KiB buffers, which then write only at the flush,
 * so a record is not both written and left in the ring but for the
 * moment between the two. Until it is empty, or 4096 rounds. */
static void consume(struct daemon *d)
{
	int i;

	for (i = 0; i < 4096; i++) {
		if (ringbuf_read(&d->rb, 32) > 0)
			sinks_flush(&d->sinks);
		ringbuf_release(&d->rb);
		if (!ringbuf_pending(&d->rb))
			break;
	}
}

static void tick(struct daemon *d)
{
	__u64 now;

	record_clock_sync(&d->rc);
	/* events queued without a wakeup first: the sweep must not end a
	 * flow whose end event is pending */
	consume(d);
	now = clock_boot_ns();
	drops_report(d);
	flows_tick(d->pl.flows, now);
	sockets_tick(d->pl.sockets, now);
	proc_cache_reap(d->pl.procs, now);
	detect_tick(d->pl.detect);
	api_tick(d->api);
	stats_report(d, now, false);
	memory_return(d);
}

static int run(struct daemon *d)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int ep = -1, sfd = -1, tfd = -1, rbfd, mfd, afd, err = 0;
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
	rbfd = ringbuf_fd(&d->rb);
	mfd = metrics_fd(d->metrics);
	afd = api_fd(d->api);
	if (sfd < 0 || tfd < 0 || ep < 0 || timerfd_settime(tfd, 0, &its, NULL) ||
	    fd_add(ep, sfd) || fd_add(ep, tfd) || fd_add(ep, rbfd) ||
	    (mfd >= 0 && fd_add(ep, mfd)) || (afd >= 0 && fd_add(ep, afd))) {
		err = -errno;
		fprintf(stderr, "podsentryd: event loop setup: %s\n", strerror(errno));
		goto out;
	}
	fprintf(stderr, "podsentryd: ready (bpffs %s, scope %s, node %s)\n",
		d->opt.bpffs, d->opt.scope == PS_SCOPE_ALL ? "all" : "pods", d->node);

	while (!stop) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, PS_RB_POLL_MS), i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0) /* records queued without a wakeup */
			consume(d);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == rbfd) {
				consume(d);
			} else if (fd == mfd) {
				metrics_run(d->metrics);
			} else if (fd == afd) {
				api_run(d->api);
			} else if (fd == tfd) {
				__u64 ticks;

				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				tick(d);
				metrics_run(d->metrics); /* its timeouts */
			} else if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					sinks_reopen(&d->sinks);
					detect_reopen(d->pl.detect);
				} else {
					stop = true;
				}
			}
		}
		sinks_flush(&d->sinks);
	}
	/* drain what the kernel queued before the signal */
	consume(d);
	flows_stop(d->pl.flows, !d->opt.keep_pins);
	drops_report(d);
	stats_report(d, clock_boot_ns(), true);
	sinks_flush(&d->sinks);
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
	};
	int err = 0;

	pipeline_detect_opts(&d->pl, &o);
	d->pl.detect = detect_new(&o, &err);
	return d->pl.detect ? 0 : err;
}

static int outputs_open(struct daemon *d)
{
	int err = exporter_open(&d->sinks.out, d->opt.export);

	if (err) {
		fprintf(stderr, "podsentryd: cannot open export file %s: %s\n",
			d->opt.export, strerror(-err));
		return err;
	}
	d->sinks.rc = &d->rc;
	if (d->opt.log_dir) {
		d->sinks.podlog = podlog_new(d->opt.log_dir, &err);
		if (!d->sinks.podlog) {
			fprintf(stderr, "podsentryd: --log-dir %s: %s\n", d->opt.log_dir,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

/* The process cache, seeded from /proc, and the pods of the state
 * folder attached and registered. */
static int state_start(struct daemon *d)
{
	int err;

	d->pl.procs = proc_cache_new(PROC_GRACE_NS, PROC_MAX_GONE, PROC_MAX_GONE_PLAIN);
	if (!d->pl.procs)
		return -ENOMEM;
	err = proc_cache_seed(d->pl.procs, loader_map_fd(&d->loader, PS_PIN_PROCS));
	if (err < 0) {
		fprintf(stderr, "podsentryd: read /proc: %s\n", strerror(-err));
		return err;
	}
	d->pods = pods_open(d->opt.state_dir, d->opt.bpffs, &err);
	if (!d->pods) {
		fprintf(stderr, "podsentryd: state folder %s: %s\n", d->opt.state_dir,
			strerror(-err));
		return err;
	}
	err = pods_reconcile(d->pods);
	if (err < 0)
		fprintf(stderr, "podsentryd: reconcile %s: %s (continuing)\n",
			d->opt.state_dir, strerror(-err));
	/* after the programs are attached: a listen() from now on is seen */
	err = listeners_seed(d->pl.procs, loader_map_fd(&d->loader, PS_PIN_LISTENERS),
			     loader_map_fd(&d->loader, PS_PIN_UDP_BINDS),
			     loader_map_fd(&d->loader, PS_PIN_PODS),
			     d->opt.scope == PS_SCOPE_ALL);
	if (err < 0)
		fprintf(stderr, "podsentryd: listening sockets from /proc: %s (continuing)\n",
			strerror(-err));
	else if (err > 0)
		fprintf(stderr, "podsentryd: %d listening or bound sockets already open\n", err);
	d->rc.node = d->node;
	d->rc.pods = d->pods;
	d->rc.procs = d->pl.procs;
	d->rc.pods_map_fd = loader_map_fd(&d->loader, PS_PIN_PODS);
	d->rc.pod_ip_fd = loader_map_fd(&d->loader, PS_PIN_POD_IP);
	record_clock_sync(&d->rc);
	exporter_report_lost(&d->sinks.out, &d->rc);
	return 0;
}

static int stages_start(struct daemon *d)
{
	struct flows_opts fo = {
		.rc = &d->rc,
		.fd4 = loader_map_fd(&d->loader, PS_PIN_FLOWS4),
		.fd6 = loader_map_fd(&d->loader, PS_PIN_FLOWS6),
		.agg_fd = loader_map_fd(&d->loader, PS_PIN_FLOW_AGG),
		.listeners_fd = loader_map_fd(&d->loader, PS_PIN_LISTENERS),
		.idle_ns = d->opt.flow_idle_ns,
		.agg_ns = d->opt.flow_aggregate_ns,
	};
	struct sockets_opts so = {
		.rc = &d->rc,
		.socks_fd = loader_map_fd(&d->loader, PS_PIN_SOCKS),
		.counts_fd = loader_sock_counts_fd(&d->loader),
		.records = d->opt.records,
	};
	int err;

	pipeline_flows_opts(&d->pl, &fo);
	pipeline_sockets_opts(&d->pl, &so);
	d->pl.flows = flows_new(&fo);
	d->pl.sockets = sockets_new(&so);
	if (!d->pl.flows || !d->pl.sockets)
		return -ENOMEM;
	err = detect_start(d);
	if (err)
		return err;
	d->events.h = pipeline_handlers(&d->pl);
	d->drops_fd = loader_map_fd(&d->loader, PS_PIN_DROPS);
	err = ringbuf_open(&d->rb, loader_map_fd(&d->loader, PS_PIN_EVENTS),
			   events_on_record, &d->events);
	if (err) {
		fprintf(stderr, "podsentryd: ring buffer: %s\n", strerror(-err));
		return err;
	}
	d->last_stats = clock_boot_ns();
	metrics_sources(d->metrics, &(struct metrics_src){
		.rc = &d->rc, .loader = &d->loader, .flows = d->pl.flows,
		.sockets = d->pl.sockets, .out = &d->sinks.out,
		.podlog = d->sinks.podlog, .drops = d->drops_seen,
		.unwritten = &d->pl.unwritten, .state_dir = d->opt.state_dir,
	});
	api_sources(d->api, &(struct api_src){
		.rc = &d->rc, .loader = &d->loader, .pods = d->pods,
		.detect = d->pl.detect, .flows = d->pl.flows, .out = &d->sinks.out,
		.podlog = d->sinks.podlog, .drops = d->drops_seen,
		.unwritten = &d->pl.unwritten,
	});
	/* everything is loaded, attached and read: what runs from here on
	 * needs no capability but, on older kernels, CAP_BPF */
	return privs_drop(d->opt.seccomp, d->drops_fd);
}

int main(int argc, char **argv)
{
	struct daemon d = {};
	struct loader_opts lo;
	int err;

	if (options_parse(&d.opt, argc, argv)) {
		fputs("Try 'podsentryd --help'.\n", stderr);
		return 2;
	}
	if (d.opt.node)
		snprintf(d.node, sizeof(d.node), "%s", d.opt.node);
	else if (gethostname(d.node, sizeof(d.node) - 1))
		snprintf(d.node, sizeof(d.node), "localhost");
	libbpf_set_print(d.opt.verbose ? libbpf_print : NULL);
	d.pl.rc = &d.rc;
	d.pl.sinks = &d.sinks;
	d.pl.agg_since = agg_since;
	d.pl.agg_arg = &d.loader;
	if (detect_setup(&d))
		return 1;
	err = outputs_open(&d);
	if (err)
		goto out;
	if (d.opt.metrics) {
		/* listening before the programs load: a busy port stops here */
		d.metrics = d.sinks.metrics = metrics_open(d.opt.metrics,
							   d.opt.metrics_pods);
		if (!d.metrics) {
			err = -EADDRINUSE;
			goto out;
		}
	}
	err = loader_lock(&d.loader, d.opt.bpffs);
	if (err)
		goto out;
	/* after the lock: a second daemon on these pins stops there */
	d.api = d.sinks.api = api_open(d.opt.socket);
	if (!d.api) {
		err = -EADDRINUSE;
		goto out;
	}
	d.loader.keep_pins = d.opt.keep_pins;
	lo = (struct loader_opts){
		.scope = d.opt.scope,
		.flow_update_ns = d.opt.flow_update_ns,
		.max_flows4 = d.opt.max_flows4,
		.max_flows6 = d.opt.max_flows6,
		.max_connects = d.opt.max_connects,
		.aggregate = d.opt.flow_aggregate_ns != 0,
		.sock_records = d.opt.records,
	};
	err = loader_start(&d.loader, &lo);
	if (!err)
		err = state_start(&d);
	if (!err)
		err = stages_start(&d);
	if (!err)
		err = run(&d);
out:
	d.sinks.metrics = NULL;
	metrics_free(d.metrics);
	d.sinks.api = NULL;
	api_free(d.api);
	ringbuf_close(&d.rb);
	detect_free(d.pl.detect);
	sockets_free(d.pl.sockets);
	flows_free(d.pl.flows);
	pods_close(d.pods);
	proc_cache_free(d.pl.procs);
	loader_stop(&d.loader);
	podlog_free(d.sinks.podlog);
	exporter_close(&d.sinks.out);
	jw_free(&d.pl.w);
	if (d.opt.verbose)
		fprintf(stderr, "podsentryd: %llu events, %llu malformed, %llu records\n",
			d.events.events, d.events.malformed,
			exporter_counters(&d.sinks.out).lines);
	return err ? 1 : 0;
}
