// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: ring-buffer records of any length and type through
 * the daemon's decoder (node/kern/events.c) and on through the same
 * stages podsentryd runs them through (node/pipeline): the process cache,
 * the flow and socket tables, the record writers, the sinks (export and
 * pod logs) and detection, then a tick of sweeps and the stop.
 *
 * The context is real but has no BPF programs: two pods named by state
 * files in a state folder of the target's own (one name not text), a
 * kernel pods map and pod_ip map made for the target (not pinned) so
 * the pods are registered, and every other map absent (-1). Every line
 * the export got must be one JSON object of strict UTF-8 with time,
 * node and type.
 *
 * Input: one byte of configuration (bit 0: flow aggregation; bits 1-4:
 * --records connect, accept, listen, inherit), then records, each a
 * 16-bit little-endian length and that many bytes (the last one takes
 * what is left). The seeds: PS_FUZZ_EVENTS_SEEDS=DIR build/fuzz/fuzz_events
 * writes tests/fuzz/corpus/events/ from the ABI structs;
 * PS_FUZZ_EVENTS_SHOW=1 prints the lines written.
 */
#include <errno.h>
#include <stdint.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "podsentry.h"
#include "cni/shared/state.h"
#include "node/detect/config.h"
#include "node/kern/events.h"
#include "node/pipeline/pipeline.h"
#include "node/records/jw.h"
#include "tests/fuzz/jw_roundtrip.h"

#define MUST(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define NETNS_A 4026539001U /* pod "shop/web-<0xff>" (not text), slot 1 */
#define NETNS_B 4026539002U /* pod "shop/db", slot 2 */
#define S_NS 1000000000ULL

static char dir[64], state_dir[96], export_path[96], log_dir[96];
static struct record_ctx rc;
static struct det_config cfg;
static struct sinks sinks;
static int pods_fd = -1, pod_ip_fd = -1;
static bool show; /* PS_FUZZ_EVENTS_SHOW: the lines on stderr */

/* ---- the seeds ---- */

static void seed_put(const char *sdir, const char *name, const void *recs,
		     size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sdir, name);
	f = fopen(path, "w");
	MUST(f);
	MUST(fwrite(recs, 1, len, f) == len);
	fclose(f);
}

/* appends one record (length, bytes) to buf at *off */
static void rec_add(uint8_t *buf, size_t *off, const void *r, size_t len)
{
	uint16_t l = (uint16_t)len;

	memcpy(buf + *off, &l, 2);
	memcpy(buf + *off + 2, r, len);
	*off += 2 + len;
}

static size_t exec_make(struct ps_exec_event *e, __u64 t, __u32 pid,
			__u64 pt, __u32 ppid, __u32 netns, const char *bin,
			const char *args, size_t args_len, const char *cwd)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = PS_EV_EXEC;
	e->hdr.ktime = t;
	e->exec.ktime = t;
	e->exec.pid = e->tgid = pid;
	e->parent.ktime = pt;
	e->parent.pid = e->ppid = ppid;
	e->netns_ino = netns;
	e->parent_netns_ino = netns;
	snprintf(e->binary, sizeof(e->binary), "%s", bin);
	snprintf(e->comm, sizeof(e->comm), "%s", strrchr(bin, '/') ? strrchr(bin, '/') + 1 : bin);
	memcpy(e->args, args, args_len);
	e->args_len = args_len;
	e->cwd_len = strlen(cwd);
	memcpy(e->args + args_len, cwd, e->cwd_len);
	return PS_EXEC_EVENT_LEN(e);
}

static void seeds_write(const char *sdir)
{
	static uint8_t buf[65536];
	static struct ps_exec_event e;
	struct ps_exit_event x = { .hdr.type = PS_EV_EXIT };
	struct ps_flow_event f = { .hdr.type = PS_EV_FLOW_END };
	struct ps_sock_event s = { .hdr.type = PS_EV_CONNECT };
	__u64 t = 5 * S_NS;
	size_t off, n;

	/* a container's first process, a shell with stdio on a socket, a
	 * tool, their exits */
	buf[0] = 0;
	off = 1;
	n = exec_make(&e, t, 100, 0, 1, NETNS_A, "/usr/sbin/httpd", "httpd\0-f", 9, "/");
	e.parent_netns_ino = 4026531840U;
	e.flags = PS_EXEC_PARENT_OTHER_NETNS;
	rec_add(buf, &off, &e, n);
	n = exec_make(&e, t + S_NS, 101, t, 100, NETNS_A, "/bin/sh", "sh\0-i", 5, "/tmp");
	e.flags = PS_EXEC_STDIO_NET;
	e.stdio[0] = (struct ps_fd_fact){ .kind = PS_FD_SOCKET, .fd = 0, .family = 2,
					  .type = 1, .proto = 6, .state = 1,
					  .rport = htons(4444), .lport = htons(40000), .ino = 77 };
	e.stdio[0].raddr.w[0] = htonl(0x0a090007);
	e.stdio[1] = e.stdio[0];
	e.stdio[1].fd = 1;
	rec_add(buf, &off, &e, n);
	n = exec_make(&e, t + 2 * S_NS, 102, t + S_NS, 101, NETNS_A, "/usr/bin/nc",
		      "nc\0\xff\xfe\0-z\0" "10.9.0.6", 17, "\xc3(");
	rec_add(buf, &off, &e, n);
	x.hdr.ktime = t + 3 * S_NS;
	x.exec = (struct ps_exec_id){ .ktime = t + 2 * S_NS, .pid = 102 };
	x.tgid = 102;
	x.netns_ino = NETNS_A;
	x.exit_code = 9;
	rec_add(buf, &off, &x, sizeof(x));
	/* a fork of the shell uses a socket after the shell's exit */
	x.hdr.ktime = t + 4 * S_NS;
	x.exec = (struct ps_exec_id){ .ktime = t + S_NS, .pid = 101 };
	x.exit_code = 0;
	x.flags = PS_EXIT_NET;
	rec_add(buf, &off, &x, sizeof(x));
	x.hdr.type = PS_EV_NET_USE;
	x.tgid = 103;
	rec_add(buf, &off, &x, sizeof(x));
	seed_put(sdir, "execs", buf, off);

	/* a connect notice to the other pod, its flow's end, an accept */
	off = 1;
	buf[0] = 1 << 1 | 1 << 2;
	n = exec_make(&e, t, 200, 0, 1, NETNS_A, "/bin/sh", "sh", 2, "/");
	rec_add(buf, &off, &e, n);
	s.hdr.ktime = t + S_NS;
	s.key.netns_ino = NETNS_A;
	s.key.family = 2;
	s.key.proto = 6;
	s.key.local_port = htons(40001);
	s.key.remote_port = htons(5432);
	s.key.local_addr.w[0] = htonl(0x0a090005);
	s.key.remote_addr.w[0] = htonl(0x0a090006);
	s.tgid = 200;
	s.exec = (struct ps_exec_id){ .ktime = t, .pid = 200 };
	s.flags = PS_SOCK_CONNECT | PS_SOCK_NEW_PEER;
	rec_add(buf, &off, &s, sizeof(s));
	f.hdr.ktime = t + 2 * S_NS;
	f.key.family = 2;
	f.key.proto = 6;
	f.key.addr[0].w[0] = htonl(0x0a090005);
	f.key.addr[1].w[0] = htonl(0x0a090006);
	f.key.port[0] = htons(40001);
	f.key.port[1] = htons(5432);
	f.reason = PS_FLOW_R_FIN;
	f.flow.state = PS_FLOW_CLOSED;
	f.flow.opener = 1;
	f.flow.first_seen = t + S_NS;
	f.flow.last_seen = t + 2 * S_NS;
	f.flow.end[0] = (struct ps_flow_end){ .packets = 5, .bytes = 400,
					      .exec = s.exec, .tgid = 200, .slot = 1,
					      .tcp_flags = 0x1b };
	f.flow.end[1] = (struct ps_flow_end){ .packets = 4, .bytes = 300, .slot = 2,
					      .tcp_flags = 0x1b };
	rec_add(buf, &off, &f, sizeof(f));
	s.hdr.type = PS_EV_ACCEPT;
	s.key.netns_ino = NETNS_B;
	s.flags = PS_SOCK_ACCEPT;
	rec_add(buf, &off, &s, sizeof(s));
	seed_put(sdir, "connect-flow", buf, off);

	/* IPv6 UDP flow update, a listen, an inherit, with aggregation */
	off = 1;
	buf[0] = 1 | 0x1e;
	f.hdr.type = PS_EV_FLOW_UPDATE;
	f.key.family = 10;
	f.key.proto = 17;
	memset(&f.key.addr, 0, sizeof(f.key.addr));
	f.key.addr[0].b[0] = 0xfd;
	f.key.addr[0].b[15] = 5;
	f.key.addr[1].b[0] = 0xfd;
	f.key.addr[1].b[15] = 6;
	f.reason = PS_FLOW_R_PERIODIC;
	f.flow.state = PS_FLOW_ESTABLISHED;
	rec_add(buf, &off, &f, sizeof(f));
	s.hdr.type = PS_EV_LISTEN;
	rec_add(buf, &off, &s, sizeof(s));
	s.hdr.type = PS_EV_INHERIT;
	s.holder = (struct ps_exec_id){ .ktime = t + 9, .pid = 200 };
	s.flags = PS_SOCK_INHERITED;
	rec_add(buf, &off, &s, sizeof(s));
	seed_put(sdir, "udp6-listen-inherit", buf, off);

	/* records that are not whole: short, of no type, lengths past the end */
	off = 1;
	buf[0] = 0;
	rec_add(buf, &off, "\x01\0\0\0", 4);
	rec_add(buf, &off, "\x63\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	n = exec_make(&e, t, 300, 0, 1, NETNS_B, "/bin/x", "x", 1, "/");
	e.args_len = 4000;
	rec_add(buf, &off, &e, n);
	rec_add(buf, &off, &x, sizeof(x) - 1);
	seed_put(sdir, "malformed", buf, off);
}

/* ---- the context ---- */

static void pod_add(__u32 netns, __u32 slot, const char *name, size_t name_len,
		    bool not_text, const char *ip)
{
	static struct pod_state st;
	struct ps_ip_key k = { .family = AF_INET };
	struct ps_pod p = { .slot = slot, .flags = PS_POD_MONITOR };
	char err[STATE_ERR_LEN];

	memset(&st, 0, sizeof(st));
	snprintf(st.network, sizeof(st.network), "fuzz");
	snprintf(st.container_id, sizeof(st.container_id), "c%u", slot);
	snprintf(st.ifname, sizeof(st.ifname), "eth0");
	snprintf(st.pod_namespace, sizeof(st.pod_namespace), "shop");
	snprintf(st.pod_name, sizeof(st.pod_name), "pod-%u", slot);
	if (not_text) {
		memcpy(st.pod_name_raw.bytes, name, name_len);
		st.pod_name_raw.len = name_len;
		st.pod_name_raw.not_text = true;
	} else {
		snprintf(st.pod_name, sizeof(st.pod_name), "%s", name);
	}
	snprintf(st.pod_uid, sizeof(st.pod_uid), "u-%u", slot);
	snprintf(st.netns, sizeof(st.netns), "/run/netns/ps-fuzz-%u", slot);
	st.netns_ino = netns;
	st.slot = slot;
	st.flags = PS_POD_MONITOR;
	st.created = 1700000000;
	MUST(!state_write(state_dir, &st, err));
	if (pods_fd >= 0)
		MUST(!bpf_map_update_elem(pods_fd, &netns, &p, BPF_ANY));
	MUST(inet_pton(AF_INET, ip, k.addr) == 1);
	if (pod_ip_fd >= 0)
		MUST(!bpf_map_update_elem(pod_ip_fd, &k, &slot, BPF_ANY));
}

/* The target's folder goes when it exits (libFuzzer ends with exit()). */
static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void dir_remove(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("PS_FUZZ_EVENTS_SEEDS");
	const char *base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
	int err;

	if (seeds) {
		seeds_write(seeds);
		exit(0);
	}
	show = getenv("PS_FUZZ_EVENTS_SHOW");
	snprintf(dir, sizeof(dir), "%s/ps-fuzz-events.XXXXXX", base);
	MUST(mkdtemp(dir));
	atexit(dir_remove);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(export_path, sizeof(export_path), "%s/export.json", dir);
	snprintf(log_dir, sizeof(log_dir), "%s/pods", dir);
	MUST(!mkdir(state_dir, 0700));
	/* the pods registered, as podsentry-cni registers them: without
	 * the privilege to make maps, no netns is a pod and less is run */
	pods_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "fz_pods", sizeof(__u32),
				 sizeof(struct ps_pod), 16, NULL);
	pod_ip_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "fz_pod_ip",
				   sizeof(struct ps_ip_key), sizeof(__u32), 16, NULL);
	if (pods_fd < 0 || pod_ip_fd < 0)
		fprintf(stderr, "fuzz_events: no BPF maps (%s): no pod is registered\n",
			strerror(errno));
	pod_add(NETNS_A, 1, "web-\xff\n", 6, true, "10.9.0.5");
	pod_add(NETNS_B, 2, "db", 2, false, "10.9.0.6");
	config_defaults(&cfg);
	MUST(!exporter_open(&sinks.out, export_path));
	sinks.podlog = podlog_new(log_dir, &err);
	MUST(sinks.podlog);
	sinks.rc = &rc;
	return 0;
}

/* Every line written to path: one JSON object of strict UTF-8 with
 * time, node, type. Emptied after. */
static void lines_check(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	MUST(f);
	while ((n = getline(&line, &cap, f)) > 0) {
		struct jw w = { .buf = line, .len = (size_t)n - 1 };
		struct json_object *o, *v;
		const char *why = NULL;

		if (line[n - 1] != '\n') {
			fprintf(stderr, "a partial line: %s\n", line);
			MUST(0);
		}
		o = rt_parse(&w, &why);
		if (!o) {
			fprintf(stderr, "%s:\n%.*s\n", why, (int)w.len, line);
			MUST(0);
		}
		MUST(json_object_is_type(o, json_type_object));
		MUST(json_object_object_get_ex(o, "time", &v) &&
		     json_object_is_type(v, json_type_string));
		MUST(json_object_object_get_ex(o, "node", &v) &&
		     json_object_is_type(v, json_type_string));
		MUST(json_object_object_get_ex(o, "type", &v) &&
		     json_object_is_type(v, json_type_string));
		json_object_put(o);
		if (show)
			fputs(line, stderr);
	}
	free(line);
	fclose(f);
	MUST(!truncate(path, 0));
}

/* The export and every pod log (DIR/<namespace>/<pod>.log). */
static void outputs_check(void)
{
	DIR *top = opendir(log_dir), *sub;
	struct dirent *a, *b;
	char path[1024];

	lines_check(export_path);
	MUST(top);
	while ((a = readdir(top))) {
		if (a->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", log_dir, a->d_name);
		sub = opendir(path);
		MUST(sub);
		while ((b = readdir(sub))) {
			char file[2048];

			if (b->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, b->d_name);
			lines_check(file);
		}
		closedir(sub);
	}
	closedir(top);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pipeline pl = { .rc = &rc, .sinks = &sinks };
	struct flows_opts fo = { .fd4 = -1, .fd6 = -1, .agg_fd = -1,
				 .listeners_fd = -1, .idle_ns = 60 * S_NS };
	struct sockets_opts so = { .socks_fd = -1, .counts_fd = -1 };
	struct detect_opts dopt = { .cfg = &cfg };
	struct events ev = {};
	size_t off = 1;
	__u64 now;
	int err = 0;

	if (!size)
		return 0;
	memset(&rc, 0, sizeof(rc));
	rc.node = "fuzz-node";
	rc.pods_map_fd = pods_fd;
	rc.pod_ip_fd = pod_ip_fd;
	record_clock_sync(&rc);
	rc.pods = pods_open(state_dir, "/nonexistent/bpffs", &err);
	rc.procs = pl.procs = proc_cache_new(60 * S_NS, 8192, 2048);
	MUST(rc.pods && pl.procs);
	fo.agg_ns = data[0] & 1 ? 10 * S_NS : 0;
	so.records = (data[0] >> 1) & 0xf;
	pipeline_flows_opts(&pl, &fo);
	pipeline_sockets_opts(&pl, &so);
	pipeline_detect_opts(&pl, &dopt);
	pl.flows = flows_new(&fo);
	pl.sockets = sockets_new(&so);
	pl.detect = detect_new(&dopt, &err);
	MUST(pl.flows && pl.sockets && pl.detect);
	ev.h = pipeline_handlers(&pl);

	while (off < size) {
		uint16_t len = 0;
		void *rec;

		memcpy(&len, data + off, size - off >= 2 ? 2 : 1);
		off += size - off >= 2 ? 2 : 1;
		if (len > size - off)
			len = size - off;
		/* a copy of exactly its length: reading past it is caught */
		rec = malloc(len ? len : 1);
		MUST(rec);
		memcpy(rec, data + off, len);
		off += len;
		MUST(events_on_record(&ev, rec, len) == 0);
		free(rec);
	}
	MUST(ev.malformed <= ev.events);

	now = clock_boot_ns();
	flows_tick(pl.flows, now);
	sockets_tick(pl.sockets, now);
	proc_cache_reap(pl.procs, now);
	detect_tick(pl.detect);
	flows_stop(pl.flows, true);

	detect_free(pl.detect);
	sockets_free(pl.sockets);
	flows_free(pl.flows);
	proc_cache_free(pl.procs);
	pods_close(rc.pods);
	jw_free(&pl.w);
	sinks_flush(&sinks);
	outputs_check();
	return 0;
}
