// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

#include "node/records/flow.h"
#include "node/records/records.h"

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

__u64 clock_boot_ns(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}

/* CLOCK_BOOTTIME - CLOCK_MONOTONIC: moves only on suspend */
static __s64 boot_minus_mono;
static bool boot_minus_mono_set;

static void boot_offset_sync(void)
{
	__u64 m = clock_ns(CLOCK_MONOTONIC), b = clock_ns(CLOCK_BOOTTIME);

	boot_minus_mono = (__s64)(b - m);
	boot_minus_mono_set = true;
}

__u64 clock_boot_coarse_ns(void)
{
	if (!boot_minus_mono_set)
		boot_offset_sync();
	return clock_ns(CLOCK_MONOTONIC_COARSE) + boot_minus_mono;
}

void record_clock_sync(struct record_ctx *ctx)
{
	__u64 r = clock_ns(CLOCK_REALTIME), b = clock_ns(CLOCK_BOOTTIME);

	ctx->boot_to_real_ns = (__s64)(r - b);
	boot_offset_sync();
}

void record_time_fmt(const struct record_ctx *ctx, __u64 ktime, char *buf,
		     size_t len)
{
	/* records come in bursts within one second: its text is kept */
	static __thread time_t last_sec = -1;
	static __thread char last[32];
	static __thread size_t last_n;
	__u64 real = ktime + ctx->boot_to_real_ns;
	time_t sec = real / 1000000000ULL;
	__u32 ns = real % 1000000000ULL;
	struct tm tm;
	int i;

	if (sec != last_sec) {
		gmtime_r(&sec, &tm);
		last_n = strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%S", &tm);
		last_sec = sec;
	}
	if (len < last_n + 12) {
		if (len)
			*buf = 0;
		return;
	}
	memcpy(buf, last, last_n);
	buf += last_n;
	*buf++ = '.';
	for (i = 8; i >= 0; i--, ns /= 10)
		buf[i] = '0' + ns % 10;
	buf[9] = 'Z';
	buf[10] = 0;
}

void exec_id_fmt(const struct record_ctx *ctx, const struct ps_exec_id *id,
		 char *buf, size_t len)
{
	snprintf(buf, len, "%s:%llu:%u", ctx->node, (unsigned long long)id->ktime,
		 id->pid);
}

/* How long a slot or address lookup is trusted without asking the kernel
 * again: pods come and go far slower than flows end. */
#define RECORD_CACHE_NS 250000000ULL

static __u32 slot_gone_netns(const struct record_ctx *ctx, __u32 slot, __u64 now)
{
	return ctx->slot_gone[slot] && now - ctx->slot_gone_ns[slot] < RECORD_GRACE_NS
		       ? ctx->slot_gone[slot] : 0;
}

__u32 record_slot_netns(struct record_ctx *ctx, __u32 slot)
{
	__u32 key, next, *prev = NULL, i;
	struct ps_pod kp;
	__u64 now;

	if (slot >= PS_MAX_PODS)
		return 0;
	key = ctx->slot_netns[slot];
	now = clock_boot_coarse_ns();
	if (key && now - ctx->slot_checked[slot] < RECORD_CACHE_NS)
		return key;
	/* a cached slot is checked: slots are reused after a pod is gone */
	if (key && ctx->pods_map_fd >= 0 &&
	    !bpf_map_lookup_elem(ctx->pods_map_fd, &key, &kp) && kp.slot == slot) {
		ctx->slot_checked[slot] = now;
		return key;
	}
	if (key) { /* it left the slot */
		ctx->slot_gone[slot] = key;
		ctx->slot_gone_ns[slot] = now;
		ctx->slot_netns[slot] = 0;
	}
	if (ctx->pods_map_fd < 0 || now - ctx->slot_scan_ns < 100000000ULL)
		return slot_gone_netns(ctx, slot, now);
	ctx->slot_scan_ns = now;
	/* what each slot had until now: the pod that leaves one stays
	 * named for the grace period, unless another takes the slot */
	for (i = 0; i < PS_MAX_PODS; i++)
		if (ctx->slot_netns[i]) {
			ctx->slot_gone[i] = ctx->slot_netns[i];
			ctx->slot_gone_ns[i] = now;
		}
	memset(ctx->slot_netns, 0, sizeof(ctx->slot_netns));
	while (!bpf_map_get_next_key(ctx->pods_map_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(ctx->pods_map_fd, &key, &kp) &&
		    kp.slot < PS_MAX_PODS) {
			ctx->slot_netns[kp.slot] = key;
			ctx->slot_gone[kp.slot] = 0;
		}
	}
	ctx->slot_checked[slot] = now;
	return ctx->slot_netns[slot] ? ctx->slot_netns[slot]
				     : slot_gone_netns(ctx, slot, now);
}

__u32 record_ip_netns(struct record_ctx *ctx, __u32 family, const __u8 *addr)
{
	struct ps_ip_key k = { .family = family };
	size_t len = family == 2 ? 4 : 16;
	__u32 slot, h = family, i, netns;
	__u64 now = clock_boot_coarse_ns();
	bool same;

	if (ctx->pod_ip_fd < 0)
		return 0;
	for (i = 0; i < len; i++)
		h = h * 31 + addr[i];
	h &= sizeof(ctx->ip_cache) / sizeof(ctx->ip_cache[0]) - 1;
	same = ctx->ip_cache[h].family == family &&
	       !memcmp(ctx->ip_cache[h].addr, addr, len);
	if (same && now - ctx->ip_cache[h].checked < RECORD_CACHE_NS)
		return ctx->ip_cache[h].netns;
	memcpy(k.addr, addr, len);
	netns = bpf_map_lookup_elem(ctx->pod_ip_fd, &k, &slot) ? 0
		: record_slot_netns(ctx, slot);
	if (!netns && same && ctx->ip_cache[h].netns &&
	    now - ctx->ip_cache[h].found < RECORD_GRACE_NS) {
		/* the pod's address was unmapped at its DEL: still its own */
		ctx->ip_cache[h].checked = now;
		return ctx->ip_cache[h].netns;
	}
	ctx->ip_cache[h].family = family;
	memset(ctx->ip_cache[h].addr, 0, sizeof(ctx->ip_cache[h].addr));
	memcpy(ctx->ip_cache[h].addr, addr, len);
	ctx->ip_cache[h].netns = netns;
	ctx->ip_cache[h].checked = now;
	if (netns)
		ctx->ip_cache[h].found = now;
	return netns;
}

/* ---- the same objects written straight to text (node/jw.h) ---- */

void record_ip_fmt(__u8 family, const __u8 *a, char *buf)
{
	char *p = buf;
	int i;

	if (family != 2) {
		inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
		return;
	}
	for (i = 0; i < 4; i++) { /* what inet_ntop writes, without printf */
		__u8 v = a[i];

		if (i)
			*p++ = '.';
		if (v >= 100)
			*p++ = '0' + v / 100;
		if (v >= 10)
			*p++ = '0' + v / 10 % 10;
		*p++ = '0' + v % 10;
	}
	*p = 0;
}

void record_head_w(const struct record_ctx *ctx, struct jw *w,
		   const char *type, __u64 ktime)
{
	char t[64];

	record_time_fmt(ctx, ktime, t, sizeof(t));
	jw_reset(w);
	jw_obj(w, NULL);
	jw_str(w, "time", t);
	jw_str(w, "node", ctx->node);
	jw_str(w, "type", type);
}

static bool pod_text(const struct record_ctx *ctx, struct jw *w,
		     __u32 netns_ino)
{
	const struct pod_info *pi = ctx->pods ? pods_by_netns(ctx->pods, netns_ino)
					      : NULL;
	struct ps_pod kp;

	if (!pi && (ctx->pods_map_fd < 0 ||
		    bpf_map_lookup_elem(ctx->pods_map_fd, &netns_ino, &kp)))
		return false;
	jw_obj(w, NULL);
	/* names from CNI_ARGS are any bytes: jw escapes what is not text
	 * and flags it (name_escaped, namespace_escaped, ...) */
	if (pi) {
		jw_str(w, "namespace", pi->namespace);
		jw_str(w, "name", pi->name);
		/* left out when the runtime gave none */
		if (pi->container_id[0])
			jw_str(w, "container_id", pi->container_id);
		if (pi->uid[0])
			jw_str(w, "uid", pi->uid);
	}
	jw_uint(w, "netns", netns_ino);
	jw_uint(w, "slot", pi ? pi->slot : kp.slot);
	jw_obj_end(w);
	return !w->oom;
}

bool record_pod_w(struct record_ctx *ctx, struct jw *w, const char *key,
		  __u32 netns_ino)
{
	struct record_pod_text *c;
	struct jw t = {};
	__u64 now;

	if (!netns_ino)
		return false;
	c = &ctx->pod_text[netns_ino % RECORD_POD_TEXTS];
	now = clock_boot_coarse_ns();
	if (c->netns != netns_ino || now - c->checked >= RECORD_CACHE_NS) {
		c->netns = 0;
		if (!pod_text(ctx, &t, netns_ino)) {
			jw_free(&t);
			return false;
		}
		if (t.len > sizeof(c->text)) { /* not kept: names this long are rare */
			jw_raw(w, key, t.buf, t.len);
			jw_free(&t);
			return true;
		}
		memcpy(c->text, t.buf, t.len);
		c->len = t.len;
		c->netns = netns_ino;
		c->checked = now;
		jw_free(&t);
	}
	jw_raw(w, key, c->text, c->len);
	return true;
}

/* The full process object; the brief form is its first brief_len bytes
 * and a closing brace, the short form its first short_len bytes. */
static void process_text(const struct record_ctx *ctx, struct jw *w,
			 const struct proc *p, size_t *brief_len,
			 size_t *short_len)
{
	char buf[128];
	__u32 i = 0;
	size_t n;

	jw_obj(w, NULL);
	exec_id_fmt(ctx, &p->id, buf, sizeof(buf));
	jw_str(w, "exec_id", buf);
	jw_int(w, "pid", p->pid);
	/* Strings that are not UTF-8 are written escaped and flagged by jw
	 * (binary_escaped, args_escaped, cwd_escaped). A value the kernel cut
	 * to its limit may end in half a character: that half is dropped, it
	 * is not a sign of bytes that are not text. */
	n = p->binary ? strlen(p->binary) : 0;
	if (p->exec_flags & PS_EXEC_BINARY_TRUNC)
		n = utf8_trim_cut(p->binary, n);
	jw_strn(w, "binary", p->binary ? p->binary : "", n);
	*short_len = w->len;
	jw_arr(w, "args");
	while (p->args && i < p->args_len) {
		n = strnlen(p->args + i, p->args_len - i);
		if (i + n >= p->args_len && (p->exec_flags & PS_EXEC_ARGS_TRUNC))
			jw_strn(w, NULL, p->args + i, utf8_trim_cut(p->args + i, n));
		else
			jw_strn(w, NULL, p->args + i, n);
		i += n + 1;
	}
	jw_arr_end(w);
	*brief_len = w->len;
	jw_int(w, "uid", p->uid);
	jw_int(w, "gid", p->gid);
	if (p->exec_flags & PS_EXEC_ARGS_TRUNC)
		jw_bool(w, "args_truncated", true);
	if (p->exe)
		jw_str(w, "exe", p->exe);
	jw_str(w, "cwd", p->cwd);
	record_time_fmt(ctx, p->id.ktime, buf, sizeof(buf));
	jw_str(w, "start_time", buf);
	if (p->parent.pid) {
		exec_id_fmt(ctx, &p->parent, buf, sizeof(buf));
		jw_str(w, "parent_exec_id", buf);
	}
	jw_int(w, "ppid", p->ppid);
	jw_int(w, "netns", p->netns_ino);
	if (p->parent_netns) /* entered the pod from outside */
		jw_uint(w, "parent_netns", p->parent_netns);
	jw_uint(w, "cgroup_id", p->cgroup_id);
	if (p->procfs)
		jw_bool(w, "procfs", true);
	jw_obj_end(w);
}

static const char *const fd_kinds[] = PS_FD_KIND_NAMES;

static const char *sock_family(__u8 f)
{
	switch (f) {
	case 1: return "unix";
	case 2: return "ipv4";
	case 10: return "ipv6";
	case 16: return "netlink";
	}
	return "other";
}

/* TCP states as in include/net/tcp_states.h */
static const char *tcp_state_name(__u8 s)
{
	static const char *const names[] = {
		[1] = "established", [2] = "syn_sent", [3] = "syn_recv",
		[4] = "fin_wait1", [5] = "fin_wait2", [6] = "time_wait",
		[7] = "close", [8] = "close_wait", [9] = "last_ack",
		[10] = "listen", [11] = "closing", [12] = "new_syn_recv",
	};

	return s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "unknown";
}

static void fd_end_w(struct jw *w, const char *key, __u8 family,
		     const union ps_addr *a, __be16 port)
{
	char ip[INET6_ADDRSTRLEN];

	jw_obj(w, key);
	record_ip_fmt(family, a->b, ip);
	jw_str(w, "ip", ip);
	jw_int(w, "port", ntohs(port));
	jw_obj_end(w);
}

void record_fd_fact_w(struct jw *w, const char *key, const struct ps_fd_fact *x)
{
	char pbuf[16];
	bool inet = x->family == 2 || x->family == 10;

	jw_obj(w, key);
	jw_str(w, "type", x->kind < sizeof(fd_kinds) / sizeof(fd_kinds[0]) &&
			  fd_kinds[x->kind] ? fd_kinds[x->kind] : "other");
	if (key && !strcmp(key, "parent_socket"))
		jw_int(w, "fd", x->fd);
	if (x->kind == PS_FD_SOCKET) {
		jw_str(w, "family", sock_family(x->family));
		if (inet) {
			jw_str(w, "protocol", ip_proto_name(x->proto, pbuf, sizeof(pbuf)));
			if (x->proto == 6)
				jw_str(w, "state", tcp_state_name(x->state));
			fd_end_w(w, "local", x->family, &x->laddr, x->lport);
			if (x->rport)
				fd_end_w(w, "remote", x->family, &x->raddr, x->rport);
		} else {
			jw_str(w, "socket_type", x->type == 1 ? "stream" :
				   x->type == 2 ? "dgram" : x->type == 5 ? "seqpacket" : "other");
		}
	}
	jw_obj_end(w);
}

/* "stdio" of a process_exec record: fds 0-2 and the parent's network
 * socket the image talks to (pty.spawn, socat). Nothing for a process
 * read from /proc (its facts were not seen at its exec). */
static void stdio_w(struct jw *w, const struct proc *p)
{
	if (p->procfs)
		return;
	jw_obj(w, "stdio");
	record_fd_fact_w(w, "stdin", &p->stdio[0]);
	record_fd_fact_w(w, "stdout", &p->stdio[1]);
	record_fd_fact_w(w, "stderr", &p->stdio[2]);
	jw_obj_end(w);
	if (p->exec_flags & PS_EXEC_PARENT_NET)
		record_fd_fact_w(w, "parent_socket", &p->parent_sock);
}

void record_process_w(const struct record_ctx *ctx, struct jw *w,
		      const char *key, struct proc *p, enum proc_form form)
{
	if (!p->json) {
		struct jw t = {};
		size_t bl = 0, sl = 0;

		process_text(ctx, &t, p, &bl, &sl);
		if (t.oom) {
			jw_free(&t);
			jw_raw(w, key, "null", 4);
			return;
		}
		p->json_len = t.len;
		p->json = jw_take(&t); /* the process owns it now */
		p->brief_len = bl;
		p->short_len = sl;
	}
	if (form == PROC_FULL) {
		jw_raw(w, key, p->json, p->json_len);
		return;
	}
	if (form == PROC_EXEC) {
		/* the object without its closing brace, then the facts */
		jw_raw(w, key, p->json, p->json_len - 1);
		stdio_w(w, p);
		jw_append(w, "}", 1);
		return;
	}
	jw_raw(w, key, p->json, form == PROC_BRIEF ? p->brief_len : p->short_len);
	jw_append(w, "}", 1);
}

void lost_record_w(const struct record_ctx *ctx, struct jw *w,
		   const char *reason, unsigned long long count,
		   unsigned long long total, __u64 ktime)
{
	record_head_w(ctx, w, "lost", ktime);
	jw_obj(w, "lost");
	jw_str(w, "reason", reason);
	jw_uint(w, "count", count);
	jw_uint(w, "total", total);
	jw_obj_end(w);
	jw_obj_end(w);
}

bool record_pod_known(struct record_ctx *ctx, __u32 netns_ino)
{
	struct ps_pod kp;

	if (!netns_ino)
		return false;
	if (ctx->pods && pods_by_netns(ctx->pods, netns_ino))
		return true;
	return ctx->pods_map_fd >= 0 &&
	       !bpf_map_lookup_elem(ctx->pods_map_fd, &netns_ino, &kp);
}

bool record_pod_brief_w(struct record_ctx *ctx, struct jw *w, const char *key,
			__u32 netns_ino)
{
	const struct pod_info *pi;
	struct ps_pod kp;

	if (!netns_ino)
		return false;
	pi = ctx->pods ? pods_by_netns(ctx->pods, netns_ino) : NULL;
	if (pi) {
		jw_obj(w, key);
		jw_str(w, "namespace", pi->namespace);
		jw_str(w, "name", pi->name);
		jw_obj_end(w);
		return true;
	}
	if (ctx->pods_map_fd < 0 ||
	    bpf_map_lookup_elem(ctx->pods_map_fd, &netns_ino, &kp))
		return false;
	jw_obj(w, key);
	jw_uint(w, "netns", netns_ino);
	jw_uint(w, "slot", kp.slot);
	jw_obj_end(w);
	return true;
}
