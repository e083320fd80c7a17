// SPDX-License-Identifier: GPL-2.0-only
/*
 * The detection engine: the daemon's decoded events in, process trees
 * and pods kept, the rules asked, their verdicts handed to the alerts;
 * what it learns written back into the kernel (peers, marks).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "podsentry.h"
#include "cni/shared/util.h"
#include "node/detect/engine.h"

#define PROC_KEEP_NS (120ULL * NS_PER_S) /* after exit, beyond windows */
#define CONN_SEEN_NS (120ULL * NS_PER_S)
#define POD_GONE_NS (600ULL * NS_PER_S) /* a pod without processes */
#define POD_BASELINE_NS (7ULL * 86400 * NS_PER_S) /* ... that learned peers */
#define RESTORED_SLACK_NS 50000000ULL	/* /proc start times: ticks */

void det_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

void det_exec_id_fmt(const struct detect *d, const struct ps_exec_id *id,
		     char *buf, size_t len)
{
	exec_id_fmt(d->o.rc, id, buf, len);
}

bool det_exec_id_parse(const char *s, struct ps_exec_id *id)
{
	const char *c2 = s ? strrchr(s, ':') : NULL, *c1;
	char *end;

	if (!c2)
		return false;
	for (c1 = c2 - 1; c1 >= s && *c1 != ':'; c1--)
		;
	if (c1 < s)
		return false;
	memset(id, 0, sizeof(*id));
	id->ktime = strtoull(c1 + 1, &end, 10);
	if (end != c2)
		return false;
	id->pid = strtoul(c2 + 1, &end, 10);
	return !*end;
}

/* ---- processes ---- */

static unsigned int id_hash(const struct ps_exec_id *id)
{
	__u64 h = id->ktime * 0x9e3779b97f4a7c15ULL ^ id->pid;

	return (h ^ (h >> 31)) % DET_PROC_HASH;
}

static bool id_eq(const struct ps_exec_id *a, const struct ps_exec_id *b)
{
	return a->ktime == b->ktime && a->pid == b->pid;
}

struct dproc *det_proc(struct detect *d, const struct ps_exec_id *id)
{
	struct dproc *p;

	if (!id || !id->pid)
		return NULL;
	for (p = d->procs[id_hash(id)]; p; p = p->next)
		if (id_eq(&p->id, id))
			return p;
	return NULL;
}

static void proc_free(struct dproc *p)
{
	free(p->binary);
	free(p->args);
	free(p->brief);
	free(p->why);
	free(p);
}

char *dproc_why(struct dproc *p)
{
	static char oom[DET_WHY];

	if (!p->why)
		p->why = calloc(1, DET_WHY);
	return p->why ? p->why : oom;
}

static struct dproc *proc_insert(struct detect *d, const struct ps_exec_id *id)
{
	struct dproc *p = calloc(1, sizeof(*p));
	unsigned int h = id_hash(id);

	if (!p)
		return NULL;
	p->id = *id;
	p->ktime = id->ktime;
	p->pid = id->pid;
	p->foothold = -1;
	p->next = d->procs[h];
	d->procs[h] = p;
	d->n_procs++;
	return p;
}

/* {exec_id, pid, binary, args} of p as JSON text: the records' own
 * serializer (the brief form of the process object). */
static void proc_brief_make(struct detect *d, struct dproc *p, struct proc *cp)
{
	struct proc tmp = {};
	struct jw t = {};

	if (!cp) {
		tmp.id = p->id;
		tmp.pid = p->pid;
		tmp.binary = p->binary;
		tmp.args = p->args;
		tmp.args_len = p->args_len;
		cp = &tmp;
	}
	record_process_w(d->o.rc, &t, NULL, cp, PROC_BRIEF);
	if (cp == &tmp)
		free(tmp.json);
	if (t.oom) {
		jw_free(&t);
		return;
	}
	free(p->brief);
	p->brief_len = t.len;
	p->brief = jw_take(&t); /* the process owns it now */
}

static void proc_fill(struct detect *d, struct dproc *p, const char *binary,
		      const char *args, __u32 args_len)
{
	free(p->binary);
	free(p->args);
	p->binary = strdup(binary ? binary : "");
	p->args = malloc(args_len + 1);
	if (p->args) {
		memcpy(p->args, args, args_len);
		p->args[args_len] = 0;
		p->args_len = args_len;
	}
	rules_tool_name(p->binary ? p->binary : "", p->args, p->args_len, p->tool,
			sizeof(p->tool));
}

/* The engine's copy of a process of the daemon's cache. */
static struct dproc *proc_from_cache(struct detect *d, struct proc *cp)
{
	struct dproc *p = det_proc(d, &cp->id);

	if (p)
		return p;
	p = proc_insert(d, &cp->id);
	if (!p)
		return NULL;
	p->parent = cp->parent;
	p->netns = cp->netns_ino;
	proc_fill(d, p, cp->binary, cp->args, cp->args_len);
	p->exec_flags = cp->exec_flags;
	memcpy(p->stdio, cp->stdio, sizeof(p->stdio));
	p->parent_sock = cp->parent_sock;
	p->procfs = cp->procfs;
	proc_brief_make(d, p, cp);
	return p;
}

struct dproc *det_proc_restore(struct detect *d, const struct ps_exec_id *id,
			       const struct ps_exec_id *parent, __u32 netns,
			       const char *binary, const char *args,
			       __u32 args_len)
{
	struct dproc *p = det_proc(d, id);

	if (p)
		return p;
	p = proc_insert(d, id);
	if (!p)
		return NULL;
	p->parent = *parent;
	p->netns = netns;
	p->persisted = true;
	proc_fill(d, p, binary, args, args_len);
	proc_brief_make(d, p, NULL);
	d->n_persisted++;
	return p;
}

/* A process restored from the state file whose exec id was computed
 * differently after the restart (from /proc, tick resolution): same pid,
 * start within RESTORED_SLACK_NS. */
static struct dproc *proc_restored_match(struct detect *d,
					 const struct ps_exec_id *id)
{
	int i;

	if (!d->n_persisted)
		return NULL;
	for (i = 0; i < DET_PROC_HASH; i++) {
		struct dproc *p;

		for (p = d->procs[i]; p; p = p->next) {
			__u64 diff = p->ktime > id->ktime ? p->ktime - id->ktime
							  : id->ktime - p->ktime;

			if (p->persisted && p->pid == id->pid && diff < RESTORED_SLACK_NS)
				return p;
		}
	}
	return NULL;
}

/* A fork that had not exec'd when the daemon restarted runs its
 * parent's image: the latest restored exec with the same arguments that
 * started before it. */
static struct dproc *restored_by_image(struct detect *d, const struct proc *cp)
{
	struct dproc *best = NULL, *p;
	int h;

	for (h = 0; h < DET_PROC_HASH; h++)
		for (p = d->procs[h]; p; p = p->next)
			if (p->persisted && p->netns == cp->netns_ino &&
			    p->ktime <= cp->id.ktime + RESTORED_SLACK_NS &&
			    p->args_len == cp->args_len && cp->args &&
			    !memcmp(p->args, cp->args, p->args_len) &&
			    (!best || p->ktime > best->ktime))
				best = p;
	return best;
}

/* A parent the daemon learned from /proc after a restart (a fork of a
 * tree that was running before): its own parent may be a restored one. */
static struct dproc *parent_via_cache(struct detect *d,
				      const struct ps_exec_id *id)
{
	struct proc *cp;

	if (!d->n_persisted || !d->o.rc->procs)
		return NULL;
	cp = proc_cache_by_pid(d->o.rc->procs, id->pid);
	if (!cp || !cp->procfs)
		return NULL;
	if (cp->parent.pid) {
		struct dproc *pp = det_proc(d, &cp->parent);

		if (!pp)
			pp = proc_restored_match(d, &cp->parent);
		if (pp)
			return pp;
	}
	return restored_by_image(d, cp);
}

struct dproc *det_parent(struct detect *d, const struct dproc *p)
{
	struct dproc *pp = det_proc(d, &p->parent);

	if (!pp && p->parent.pid)
		pp = proc_restored_match(d, &p->parent);
	if (!pp && p->parent.pid)
		pp = parent_via_cache(d, &p->parent);
	if (!pp || pp == p || pp->netns != p->netns)
		return NULL;
	return pp;
}

struct dproc *det_tree_root(struct detect *d, struct dproc *p)
{
	int depth = 0;

	while (p && !p->first && !p->exec_into && depth++ < 64) {
		struct dproc *pp = det_parent(d, p);

		if (!pp || pp->first)
			return p;
		p = pp;
	}
	return p;
}

struct dproc *det_foothold_of(struct detect *d, struct dproc *p, __u64 now)
{
	int depth = 0;

	for (; p && depth < 64; p = det_parent(d, p), depth++)
		if (p->foothold >= 0 && now - p->foothold_ns <= d->cfg->chain_ns)
			return p;
	return NULL;
}

struct dproc *det_pod_foothold(struct detect *d, struct dpod *pod, __u64 now)
{
	int i;

	for (i = 0; i < DET_FOOTHOLDS && pod->footholds[i].pid; i++) {
		struct dproc *p = det_proc(d, &pod->footholds[i]);

		if (p && p->foothold >= 0 && now - p->foothold_ns <= d->cfg->chain_ns)
			return p;
	}
	return NULL;
}

/* Whether anc is p or one of its ancestors in the pod. */
static bool tree_has(struct detect *d, struct dproc *p, const struct dproc *anc)
{
	int depth = 0;

	for (; p && depth < 64; p = det_parent(d, p), depth++)
		if (p == anc)
			return true;
	return false;
}

/* Mark root's tree in the kernel: root and its live descendants (those
 * it forked before the daemon saw it too); their children inherit the
 * mark at fork. */
static void mark_tree(struct detect *d, struct dproc *root)
{
	struct ps_mark m = { .flags = PS_MARK_FOOTHOLD };
	__u32 key, next, *prev = NULL;
	struct ps_proc kp;

	if (d->marks_fd < 0 || d->procs_fd < 0)
		return;
	m.root = root->id;
	while (!bpf_map_get_next_key(d->procs_fd, prev, &next)) {
		struct dproc *p;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(d->procs_fd, &key, &kp) ||
		    kp.netns_ino != root->netns)
			continue;
		p = det_proc(d, &kp.exec);
		if (!p || !tree_has(d, p, root))
			continue;
		if (!bpf_map_update_elem(d->marks_fd, &key, &m, BPF_NOEXIST))
			d->c.marks++;
		else if (errno != EEXIST)
			d->c.map_errors++;
	}
}

static void pod_foothold_add(struct dpod *pod, const struct dproc *p)
{
	int i;

	for (i = 0; i < DET_FOOTHOLDS; i++)
		if (id_eq(&pod->footholds[i], &p->id))
			return;
	memmove(&pod->footholds[1], &pod->footholds[0],
		sizeof(pod->footholds[0]) * (DET_FOOTHOLDS - 1));
	pod->footholds[0] = p->id;
}

void det_foothold(struct detect *d, struct dpod *pod, struct dproc *p, int rule,
		  __u64 now)
{
	if (p->foothold < 0) {
		p->foothold = rule;
		p->foothold_ns = now;
		d->c.footholds++;
		mark_tree(d, p);
		if (d->cfg->rule[rule].action == ACTION_DENY)
			enforce_quarantine(d, pod, now);
	}
	d->last_foothold_ns = now;
	pod_foothold_add(pod, p);
}

void det_foothold_restore(struct detect *d, struct dpod *pod, struct dproc *p,
			  int rule, __u64 at)
{
	p->foothold = rule;
	p->foothold_ns = at;
	if (at > d->last_foothold_ns)
		d->last_foothold_ns = at;
	/* the pins were kept: the marks are there; if not, mark again */
	mark_tree(d, p);
	pod_foothold_add(pod, p);
}

/* ---- pods ---- */

struct dpod *det_pod_by_key(struct detect *d, const char *key)
{
	struct dpod *p;

	for (p = d->pods; p; p = p->next)
		if (!strcmp(p->key, key))
			return p;
	return NULL;
}

static struct dpod *pod_insert(struct detect *d, const char *key, __u64 now)
{
	struct dpod *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	det_fmt(p->key, sizeof(p->key), "%s", key);
	p->first_ns = p->last_ns = now;
	p->next = d->pods;
	d->pods = p;
	d->n_pods++;
	d->dirty = true;
	return p;
}

struct dpod *det_pod_restore(struct detect *d, const char *key)
{
	struct dpod *p = det_pod_by_key(d, key);

	return p ? p : pod_insert(d, key, clock_boot_ns());
}

/* The pod of a registered netns: by name when a state file names it. */
static struct dpod *pod_of_netns(struct detect *d, __u32 netns, __u64 now)
{
	const struct pod_info *pi;
	char key[DET_KEY];
	struct dpod *p;

	if (!netns || !record_pod_known(d->o.rc, netns))
		return NULL;
	pi = d->o.rc->pods ? pods_by_netns(d->o.rc->pods, netns) : NULL;
	for (p = d->pods; p; p = p->next)
		if (p->netns == netns && (!pi || (!strcmp(p->name, pi->name) &&
						   !strcmp(p->ns, pi->namespace))))
			break;
	if (!p) {
		if (pi)
			det_fmt(key, sizeof(key), "%s/%s", pi->namespace, pi->name);
		else
			det_fmt(key, sizeof(key), "netns:%u", netns);
		p = det_pod_by_key(d, key);
		if (!p)
			p = pod_insert(d, key, now);
		if (!p)
			return NULL;
		if (p->netns != netns) /* met again (restart), or a new sandbox */
			p->live = 0;
		p->netns = netns;
		if (pi) {
			det_fmt(p->ns, sizeof(p->ns), "%s", pi->namespace);
			det_fmt(p->name, sizeof(p->name), "%s", pi->name);
		}
	}
	p->last_ns = now;
	return p;
}

bool det_pod_learning(const struct detect *d, const struct dpod *pod, __u64 now)
{
	return now - pod->first_ns < d->cfg->learning_ns;
}

bool det_baseline_has(const struct dpod *pod, const char *peer)
{
	return seen_get(&pod->peer_set, peer, NULL);
}

#define BASELINE_MAX 4096

void det_baseline_add(struct detect *d, struct dpod *pod, const char *peer)
{
	char **n;

	if (det_baseline_has(pod, peer) || pod->npeers >= BASELINE_MAX)
		return;
	if (pod->npeers == pod->cap) {
		int cap = pod->cap ? pod->cap * 2 : 16;

		n = realloc(pod->peers, sizeof(*n) * cap);
		if (!n)
			return;
		pod->peers = n;
		pod->cap = cap;
	}
	pod->peers[pod->npeers] = strdup(peer);
	if (!pod->peers[pod->npeers] || seen_put(&pod->peer_set, peer, 1)) {
		free(pod->peers[pod->npeers]);
		return;
	}
	pod->npeers++;
	d->dirty = true;
}

static void pod_free(struct dpod *p)
{
	int i;

	for (i = 0; i < p->npeers; i++)
		free(p->peers[i]);
	free(p->peers);
	seen_free(&p->peer_set);
	free(p->scan);
	free(p);
}

/* ---- inputs ---- */

static void on_exec(struct detect *d, struct proc *cp, __u64 now)
{
	struct dpod *pod = pod_of_netns(d, cp->netns_ino, now);
	struct dproc *p, *pp;

	if (!pod || det_proc(d, &cp->id))
		return;
	p = proc_from_cache(d, cp);
	if (!p)
		return;
	pp = det_parent(d, p);
	/* a new exec on the same pid replaces its image: not a new process */
	if (!pp || pp->pid != p->pid)
		pod->live++;
	if (pp && pp->pid == p->pid) {
		pp->exited = true;
		pp->gone_ns = now;
		p->first = pp->first;
		p->exec_into = pp->exec_into;
		if (p->first)
			pod->first_exec = p->id;
	} else if (cp->parent_netns && cp->parent_netns != p->netns) {
		struct dproc *first = det_proc(d, &pod->first_exec);

		/* from outside the pod: the container starts, or kubectl exec */
		if (pod->live <= 1 || !first || first->exited) {
			p->first = true;
			pod->first_exec = p->id;
		} else {
			p->exec_into = true;
		}
	}
	rules_exec(d, pod, p, now, alerts_verdict);
}

/* The container's first process ended while a process that entered the
 * pod from outside runs (they raced at start): the oldest such root is
 * the container's first process, not an exec into it. */
static void first_promote(struct detect *d, struct dpod *pod)
{
	struct dproc *best = NULL, *p;
	int h;

	for (h = 0; h < DET_PROC_HASH; h++)
		for (p = d->procs[h]; p; p = p->next)
			if (p->exec_into && !p->exited && p->netns == pod->netns &&
			    (!best || p->ktime < best->ktime))
				best = p;
	if (!best)
		return;
	best->exec_into = false;
	best->first = true;
	if (best->foothold == RULE_EXEC_INTO_POD)
		best->foothold = -1;
	pod->first_exec = best->id;
}

static void on_exit_proc(struct detect *d, const struct ps_exec_id *id,
			 __u32 netns, __u64 now)
{
	struct dpod *pod = pod_of_netns(d, netns, now);
	struct dproc *p;

	if (!pod)
		return;
	p = det_proc(d, id);
	if (pod->live > 0)
		pod->live--;
	if (p && !p->exited) {
		p->exited = true;
		p->gone_ns = now;
		if (p->first && id_eq(&pod->first_exec, &p->id))
			first_promote(d, pod);
	}
}

/* A private address (RFC 1918, CGNAT, link-local, ULA): east-west.
 * Loopback is the pod talking to itself: not. */
static bool addr_internal(__u8 family, const union ps_addr *a)
{
	const __u8 *b = a->b;

	if (family == AF_INET6)
		return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
	return b[0] == 10 || (b[0] == 172 && b[1] >= 16 && b[1] < 32) ||
	       (b[0] == 192 && b[1] == 168) || (b[0] == 100 && b[1] >= 64 && b[1] < 128) ||
	       (b[0] == 169 && b[1] == 254);
}

static bool conn_fill(struct detect *d, struct dconn *c, const struct conn_rec *r)
{
	static char peer_pod[DET_KEY];
	const struct pod_info *pi;

	memset(c, 0, sizeof(*c));
	c->rec = r;
	c->proto = r->proto ? r->proto : "?";
	c->proto_num = !strcmp(c->proto, "tcp") ? 6 : !strcmp(c->proto, "udp") ? 17 : 0;
	c->src_ip = r->src_ip;
	c->src_port = r->src_port > 0 ? r->src_port : 0;
	c->dst_ip = r->dst_ip;
	c->dst_port = r->dst_port > 0 ? r->dst_port : 0;
	if (!r->dst_ip)
		return false;
	if (inet_pton(AF_INET, r->dst_ip, c->dst_addr.b) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, r->dst_ip, c->dst_addr.b) == 1)
		c->family = AF_INET6;
	else
		return false;
	c->dst_netns = r->dst_netns;
	c->internal = r->dst_netns || addr_internal(c->family, &c->dst_addr);
	c->refused = r->refused;
	pi = r->dst_netns && d->o.rc->pods ? pods_by_netns(d->o.rc->pods, r->dst_netns)
					   : NULL;
	if (pi) {
		det_fmt(peer_pod, sizeof(peer_pod), "%s/%s", pi->namespace, pi->name);
		c->peer_pod = peer_pod;
	}
	rules_peer_fmt(c, c->peer, sizeof(c->peer));
	return true;
}

/* "proto src:port>dst:port" (or with the pod for a source without ip):
 * what a notice and the flow of the same connection have in common. */
static void conn_seen_key(const struct dconn *c, const struct dpod *pod,
			  char *buf, size_t len)
{
	if (c->src_ip && c->src_port)
		det_fmt(buf, len, "%s %s:%d>%s:%d", c->proto, c->src_ip, c->src_port,
			c->dst_ip, c->dst_port);
	else
		det_fmt(buf, len, "%s %s>%s:%d", c->proto, pod->key, c->dst_ip,
			c->dst_port);
}

/* The kernel's peers map: what the pod now knows of this destination,
 * for the binary (exe) that connected. A peer learned (the learning
 * window, or the baseline by name when a peer pod came back at another
 * address) costs no notice any more; one reported after learning stays
 * quiet for the dedup window. */
static void peer_tell(struct detect *d, const struct dpod *pod,
		      const struct dconn *c, __u64 exe, bool learned, __u64 now)
{
	struct ps_peer_key k = { .netns_ino = pod->netns };
	struct ps_peer v = {};

	if (d->peers_fd < 0 || c->refused || !c->proto_num)
		return;
	k.family = c->family;
	k.proto = c->proto_num;
	k.port = htons(c->dst_port);
	k.addr = c->dst_addr;
	k.exe = exe;
	v.flags = learned ? PS_PEER_LEARNED : PS_PEER_QUIET;
	v.until = now + d->cfg->dedup_ns;
	if (bpf_map_update_elem(d->peers_fd, &k, &v, BPF_ANY))
		d->c.map_errors++;
	else
		d->c.peers++;
}

/* A connection notice of the socket programs: it failed, its tree is
 * marked, or its destination is not in the pod's peers map. */
static void on_notice(struct detect *d, const struct conn_rec *r, __u64 now)
{
	struct dpod *pod = pod_of_netns(d, r->netns, now);
	bool marked = r->notice & PS_SOCK_MARKED;
	struct dconn c;
	char key[DET_KEY + 128];

	if (!pod || !conn_fill(d, &c, r))
		return;
	c.pod = pod;
	if (r->proc)
		c.proc = proc_from_cache(d, r->proc);
	/* the flow of this connection must not count twice */
	conn_seen_key(&c, pod, key, sizeof(key));
	seen_put(&d->conns_seen, key, now);
	rules_connection(d, pod, &c, now, alerts_verdict);
	if (!marked && c.internal)
		peer_tell(d, pod, &c, r->exe, det_pod_learning(d, pod, now) ||
			  det_baseline_has(pod, c.peer), now);
}

/* A flow's record: detection looks only at what notices could not show,
 * a connection opened by a pod of this node whose tree is a foothold
 * (the tree may have been found after it connected to a peer the pod
 * knows), or that no socket named (no socket program saw it: ICMP, raw
 * sockets). */
static void on_flow(struct detect *d, const struct flow_view *v, __u64 now)
{
	static char src_ip[INET6_ADDRSTRLEN], dst_ip[INET6_ADDRSTRLEN];
	bool footholds = d->last_foothold_ns &&
			 now - d->last_foothold_ns <= d->cfg->chain_ns;
	int src = v->src, dst = !v->src;
	struct proc *cp = v->proc[src];
	struct conn_rec r = {};
	struct dconn c;
	struct dpod *pod;
	char key[DET_KEY + 128], pbuf[16];

	if (!v->opened_known || !v->netns[src] || !v->final || v->refused)
		return;
	if (!footholds && (cp || (!v->netns[dst] &&
				  !addr_internal(v->key.family, &v->key.addr[dst]))))
		return;
	if (cp) {
		struct dproc *p = det_proc(d, &cp->id);

		if (!p || !det_foothold_of(d, p, now))
			return;
	}
	pod = pod_of_netns(d, v->netns[src], now);
	if (!pod)
		return;
	record_ip_fmt(v->key.family, v->key.addr[src].b, src_ip);
	record_ip_fmt(v->key.family, v->key.addr[dst].b, dst_ip);
	r.flow = true;
	r.ktime = v->ktime;
	r.proto = ip_proto_name(v->key.proto, pbuf, sizeof(pbuf));
	r.src_ip = src_ip;
	r.dst_ip = dst_ip;
	r.src_port = v->key.proto == 6 || v->key.proto == 17 ? ntohs(v->key.port[src]) : -1;
	r.dst_port = v->key.proto == 6 || v->key.proto == 17 ? ntohs(v->key.port[dst]) : -1;
	r.netns = r.src_netns = v->netns[src];
	r.dst_netns = v->netns[dst];
	r.proc = cp;
	r.state = "closed";
	r.verdict = v->f.verdict == PS_VERDICT_DROP ? "dropped" : "forwarded";
	r.start = v->f.first_seen;
	if (!conn_fill(d, &c, &r))
		return;
	c.pod = pod;
	c.from_flow = true;
	conn_seen_key(&c, pod, key, sizeof(key));
	if (seen_del(&d->conns_seen, key))
		return; /* its notice reported it */
	if (cp)
		c.proc = proc_from_cache(d, cp);
	rules_connection(d, pod, &c, now, alerts_verdict);
}

/* ---- upkeep ---- */

/* Whether an open alert is about p's tree (its processes are kept). */
static bool proc_needed(struct detect *d, struct dproc *p)
{
	struct dalert *a;

	for (a = d->alerts; a; a = a->next)
		if (id_eq(&a->tree, &p->id))
			return true;
	return false;
}

/* Whether an exited process is kept for the chain window: a foothold
 * of the window, or an ancestor of a live process (the walk from a
 * process of the tree to its foothold goes through it). Other exited
 * processes go after PROC_KEEP_NS: a pod that ran 10 000 short commands
 * does not keep them for the whole window. */
static bool proc_chain_kept(struct detect *d, const struct dproc *p, __u64 now)
{
	return p->holds_live ||
	       (p->foothold >= 0 && now - p->foothold_ns <= d->cfg->chain_ns);
}

static void procs_mark_ancestors(struct detect *d)
{
	int i;

	for (i = 0; i < DET_PROC_HASH; i++) {
		struct dproc *p;

		for (p = d->procs[i]; p; p = p->next)
			p->holds_live = false;
	}
	for (i = 0; i < DET_PROC_HASH; i++) {
		struct dproc *p, *a;
		int depth;

		for (p = d->procs[i]; p; p = p->next) {
			if (p->exited)
				continue;
			/* stops where an earlier walk marked the rest */
			for (a = det_parent(d, p), depth = 0; a && !a->holds_live && depth < 64;
			     a = det_parent(d, a), depth++)
				a->holds_live = true;
		}
	}
}

static void procs_reap(struct detect *d, __u64 now)
{
	__u64 keep = d->cfg->chain_ns + PROC_KEEP_NS;
	int i;

	procs_mark_ancestors(d);
	for (i = 0; i < DET_PROC_HASH; i++) {
		struct dproc **pp = &d->procs[i], *p;

		while ((p = *pp)) {
			__u64 gone = now - p->gone_ns;

			/* over the bound, exited processes go at once */
			if (p->exited &&
			    (gone > keep || d->n_procs > DET_PROCS_MAX ||
			     (gone > PROC_KEEP_NS && !proc_chain_kept(d, p, now))) &&
			    !proc_needed(d, p)) {
				*pp = p->next;
				proc_free(p);
				d->n_procs--;
			} else {
				pp = &p->next;
			}
		}
	}
}

/* A pod without processes whose netns is no longer a registered pod goes
 * from memory after POD_GONE_NS when it learned nothing; one with a
 * baseline is kept (and saved) for POD_BASELINE_NS, so that a pod that
 * comes back under its name (a StatefulSet's, a restart) is not new.
 * Over DET_PODS_MAX, every gone pod goes. */
static void pods_reap(struct detect *d, __u64 now)
{
	struct dpod **pp = &d->pods, *p;

	while ((p = *pp)) {
		__u64 keep = p->npeers && d->n_pods <= DET_PODS_MAX ? POD_BASELINE_NS
								    : POD_GONE_NS;
		bool gone = p->live <= 0 && !record_pod_known(d->o.rc, p->netns);

		if (gone && now - p->last_ns > keep && !p->quarantined_ns) {
			*pp = p->next;
			pod_free(p);
			d->n_pods--;
			d->dirty = true;
			continue;
		}
		/* a pod kept for its baseline keeps only that: its recent
		 * connections (scans, 10 KiB) are of no use once it is gone */
		if (gone && p->scan && now - p->last_ns > PROC_KEEP_NS) {
			free(p->scan);
			p->scan = NULL;
			p->nscan = 0;
		}
		pp = &p->next;
	}
}

/* A pinned map of the daemon's folder; -1 (and a line) when missing. */
static int pin_open(const char *bpffs, const char *name)
{
	char path[4096];
	int fd;

	det_fmt(path, sizeof(path), "%s/%s", bpffs, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "podsentryd: detection: map %s: %s\n", path,
			strerror(errno));
	return fd;
}

struct detect *detect_new(const struct detect_opts *o, int *err)
{
	struct detect *d = calloc(1, sizeof(*d));

	if (!d) {
		*err = -ENOMEM;
		return NULL;
	}
	d->o = *o;
	d->cfg = o->cfg;
	d->peers_fd = d->marks_fd = d->procs_fd = d->deny_fd = -1;
	enforce_open(d, o->bpffs);
	if (o->bpffs) {
		d->peers_fd = pin_open(o->bpffs, PS_PIN_PEERS);
		d->marks_fd = pin_open(o->bpffs, PS_PIN_MARKS);
		d->procs_fd = pin_open(o->bpffs, PS_PIN_PROCS);
	}
	if (o->alerts_path) {
		*err = exporter_open(&d->alerts_out, o->alerts_path);
		if (*err) {
			fprintf(stderr, "podsentryd: --alerts %s: %s\n", o->alerts_path,
				strerror(-*err));
			goto fail;
		}
		exporter_report_lost(&d->alerts_out, o->rc);
		d->alerts_open = true;
	}
	*err = persist_load(d);
	if (*err)
		goto fail;
	return d;
fail:
	d->o.state_file = NULL; /* keep what is on disk */
	detect_free(d);
	return NULL;
}

void detect_exec(struct detect *d, struct proc *p)
{
	if (d && p)
		on_exec(d, p, clock_boot_ns());
}

void detect_exit(struct detect *d, const struct ps_exec_id *id, __u32 netns)
{
	if (d && id)
		on_exit_proc(d, id, netns, clock_boot_ns());
}

void detect_conn(struct detect *d, const struct conn_rec *c)
{
	if (d && c)
		on_notice(d, c, clock_boot_ns());
}

void detect_flow(struct detect *d, const struct flow_view *v)
{
	if (d && v)
		on_flow(d, v, clock_boot_ns());
}

void detect_tick(struct detect *d)
{
	__u64 now = clock_boot_ns();

	if (!d)
		return;
	alerts_expire(d, now);
	enforce_expire(d, now, false);
	if (now - d->last_reap_ns > 10 * NS_PER_S) {
		d->last_reap_ns = now;
		procs_reap(d, now);
		pods_reap(d, now);
		seen_reap(&d->conns_seen, now > CONN_SEEN_NS ? now - CONN_SEEN_NS : 0);
	}
	if (d->dirty && now - d->last_save_ns > NS_PER_S) {
		persist_save(d);
		d->last_save_ns = now;
	}
	if (d->alerts_open)
		exporter_flush(&d->alerts_out);
}

void detect_reopen(struct detect *d)
{
	if (d && d->alerts_open && exporter_reopen(&d->alerts_out))
		fprintf(stderr, "podsentryd: reopen %s: %s\n", d->alerts_out.path,
			strerror(errno));
}

const struct detect_counters *detect_counters(struct detect *d)
{
	d->c.procs = d->n_procs;
	d->c.pods = d->n_pods;
	return &d->c;
}

void det_forget_all(struct detect *d)
{
	struct dpod *p;
	int i;

	for (i = 0; i < DET_PROC_HASH; i++)
		while (d->procs[i]) {
			struct dproc *n = d->procs[i]->next;

			proc_free(d->procs[i]);
			d->procs[i] = n;
		}
	while ((p = d->pods)) {
		d->pods = p->next;
		pod_free(p);
	}
	d->n_procs = d->n_pods = 0;
	d->n_persisted = 0;
	d->last_foothold_ns = 0;
}

void detect_free(struct detect *d)
{
	if (!d)
		return;
	persist_save(d);
	enforce_expire(d, 0, true);
	det_forget_all(d);
	alerts_free(d);
	seen_free(&d->conns_seen);
	if (d->alerts_open)
		exporter_close(&d->alerts_out);
	if (d->deny_fd >= 0)
		close(d->deny_fd);
	if (d->peers_fd >= 0)
		close(d->peers_fd);
	if (d->marks_fd >= 0)
		close(d->marks_fd);
	if (d->procs_fd >= 0)
		close(d->procs_fd);
	jw_free(&d->w);
	free(d);
}
