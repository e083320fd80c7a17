// SPDX-License-Identifier: GPL-2.0-only
/*
 * The detection engine's state: process trees per pod, pods and their
 * learned east-west baseline, open alerts (deduplicated per rule and
 * process tree, repeats counted), the alert records and the state file.
 * The rules themselves are in node/rules.c.
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

#include "node/detect/detect_int.h"
#include "node/sinks/files.h"

#define NS_PER_S 1000000000ULL
#define PROC_KEEP_NS (120ULL * NS_PER_S) /* after exit, beyond windows */
#define FLOW_SEEN_NS (120ULL * NS_PER_S)
#define POD_KEEP_NS (7ULL * 86400 * NS_PER_S) /* a pod unseen this long is forgotten */

void det_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (fmt[0] == '%' && fmt[1] == 's' && !fmt[2]) { /* a copy: no printf */
		const char *v = va_arg(ap, const char *);
		size_t n = strnlen(v, len ? len - 1 : 0);

		if (len) {
			memcpy(buf, v, n);
			buf[n] = 0;
		}
	} else {
		vsnprintf(buf, len, fmt, ap);
	}
	va_end(ap);
}

/* Keys of connections, built without printf: "proto src:port>dst:port". */
struct ckey {
	char *p, *end;
};

static void ck_str(struct ckey *k, const char *s)
{
	while (s && *s && k->p < k->end)
		*k->p++ = *s++;
	*k->p = 0;
}

static void ck_uint(struct ckey *k, unsigned long long v)
{
	char d[24];
	int i = sizeof(d) - 1;

	d[i] = 0;
	do {
		d[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	ck_str(k, d + i);
}

/* prefix proto src:sport>dst:dport (src NULL: "proto pod>dst:dport") */
static void conn_key(char *buf, size_t len, const char *prefix,
		     const struct dconn *c, const char *pod)
{
	struct ckey k = { buf, buf + len - 1 };

	ck_str(&k, prefix);
	ck_str(&k, c->proto);
	ck_str(&k, " ");
	if (pod) {
		ck_str(&k, pod);
	} else {
		ck_str(&k, c->src_ip);
		ck_str(&k, ":");
		ck_uint(&k, c->src_port);
	}
	ck_str(&k, ">");
	ck_str(&k, c->dst_ip);
	ck_str(&k, ":");
	ck_uint(&k, c->dst_port);
}

/* ---- small JSON helpers ---- */

/* The member at a dotted path ("process.exec_id"), or NULL. */
static struct json_object *jget(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (dot ? 1 : 0);
	}
	return o;
}

static const char *jstr(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	return v && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) : NULL;
}

static long long jint(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	return v ? json_object_get_int64(v) : 0;
}

static struct json_object *jcopy(struct json_object *o)
{
	struct json_object *c = NULL;

	if (o && json_object_deep_copy(o, &c, NULL))
		return NULL;
	return c;
}

static unsigned int str_hash(const char *s)
{
	unsigned int h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* ---- process trees ---- */

struct dproc *det_proc(struct detect *d, const char *id)
{
	struct dproc *p;

	if (!id || !id[0])
		return NULL;
	for (p = d->procs[str_hash(id) % DET_HASH]; p; p = p->next)
		if (!strcmp(p->id, id))
			return p;
	return NULL;
}

/* exec ids are "node:ktime:pid"; the pid and time of one. */
static bool exec_id_split(const char *id, __u64 *ktime, __u32 *pid)
{
	const char *c2 = strrchr(id, ':'), *c1;

	if (!c2)
		return false;
	for (c1 = c2 - 1; c1 >= id && *c1 != ':'; c1--)
		;
	if (c1 < id)
		return false;
	*ktime = strtoull(c1 + 1, NULL, 10);
	*pid = strtoul(c2 + 1, NULL, 10);
	return true;
}

/* A process restored from the state file whose exec id was computed
 * differently after the restart (from /proc, tick resolution): same pid,
 * start within 50 ms. */
static struct dproc *proc_restored_match(struct detect *d, const char *id)
{
	__u64 kt;
	__u32 pid;
	int i;

	if (!d->n_persisted || !exec_id_split(id, &kt, &pid))
		return NULL;
	for (i = 0; i < DET_HASH; i++) {
		struct dproc *p;

		for (p = d->procs[i]; p; p = p->next) {
			__u64 diff = p->ktime > kt ? p->ktime - kt : kt - p->ktime;

			if (p->persisted && p->pid == pid && diff < 50000000ULL)
				return p;
		}
	}
	return NULL;
}

/* A fork that had not exec'd when the daemon restarted runs its
 * parent's image: the latest restored exec with the same arguments that
 * started before it. */
static struct dproc *restored_by_image(struct detect *d, const struct proc *cp,
				       __u64 kt)
{
	struct dproc *best = NULL, *p;
	char args[512];
	__u32 i;
	int h;

	/* NUL-separated, as "sh c.sh" in the table */
	for (i = 0; cp->args && i < cp->args_len && i < sizeof(args) - 1; i++)
		args[i] = cp->args[i] ? cp->args[i] : ' ';
	while (i > 0 && args[i - 1] == ' ')
		i--;
	args[i] = 0;
	for (h = 0; h < DET_HASH; h++)
		for (p = d->procs[h]; p; p = p->next)
			if (p->persisted && p->netns == cp->netns_ino &&
			    p->ktime <= kt + 50000000ULL && !strcmp(p->args, args) &&
			    (!best || p->ktime > best->ktime))
				best = p;
	return best;
}

/* A parent the daemon learned from /proc after a restart (a fork of a
 * tree that was running before): its own parent may be a restored one. */
static struct dproc *parent_via_cache(struct detect *d, const char *id)
{
	struct proc *cp;
	char pid_id[DET_ID];
	__u64 kt;
	__u32 pid;

	if (!d->n_persisted || !d->o.rc->procs || !exec_id_split(id, &kt, &pid))
		return NULL;
	cp = proc_cache_by_pid(d->o.rc->procs, pid);
	if (!cp || !cp->procfs)
		return NULL;
	if (cp->parent.pid) {
		struct dproc *pp;

		exec_id_fmt(d->o.rc, &cp->parent, pid_id, sizeof(pid_id));
		pp = det_proc(d, pid_id) ?: proc_restored_match(d, pid_id);
		if (pp)
			return pp;
	}
	return restored_by_image(d, cp, kt);
}

struct dproc *det_parent(struct detect *d, const struct dproc *p)
{
	struct dproc *pp = det_proc(d, p->parent);

	if (!pp && p->parent[0])
		pp = proc_restored_match(d, p->parent);
	if (!pp && p->parent[0])
		pp = parent_via_cache(d, p->parent);
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

	for (i = 0; i < DET_FOOTHOLDS && pod->foothold[i][0]; i++) {
		struct dproc *p = det_proc(d, pod->foothold[i]);

		if (p && p->foothold >= 0 && now - p->foothold_ns <= d->cfg->chain_ns)
			return p;
	}
	return NULL;
}

void det_pod_add_foothold(struct dpod *pod, const struct dproc *p)
{
	int i;

	for (i = 0; i < DET_FOOTHOLDS; i++)
		if (!strcmp(pod->foothold[i], p->id))
			return;
	memmove(pod->foothold[1], pod->foothold[0],
		sizeof(pod->foothold[0]) * (DET_FOOTHOLDS - 1));
	det_fmt(pod->foothold[0], DET_ID, "%s", p->id);
}

static void proc_free(struct dproc *p)
{
	json_object_put(p->brief);
	json_object_put(p->c2_conns);
	free(p);
}

static struct dproc *proc_insert(struct detect *d, const char *id)
{
	struct dproc *p = det_proc(d, id);
	unsigned int h;

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	det_fmt(p->id, sizeof(p->id), "%s", id);
	p->foothold = -1;
	exec_id_split(id, &p->ktime, &p->pid);
	h = str_hash(id) % DET_HASH;
	p->next = d->procs[h];
	d->procs[h] = p;
	return p;
}

static void args_join(struct json_object *args, char *out, size_t len)
{
	size_t i, n = args ? json_object_array_length(args) : 0, used = 0;

	out[0] = 0;
	for (i = 0; i < n && used + 1 < len; i++) {
		const char *a = json_object_get_string(json_object_array_get_idx(args, i));
		int w = snprintf(out + used, len - used, "%s%s", i ? " " : "", a ? a : "");

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static const char *arg_at(struct json_object *args, size_t i)
{
	if (!args || i >= json_object_array_length(args))
		return "";
	return json_object_get_string(json_object_array_get_idx(args, i));
}

/* ---- pods ---- */

static struct dpod *pod_find(struct detect *d, const char *key)
{
	struct dpod *p;

	for (p = d->pods; p; p = p->next)
		if (!strcmp(p->key, key))
			return p;
	return NULL;
}

/* The pod named ns/name, or of netns when it has no name. */
static struct dpod *pod_at(struct detect *d, const char *ns, const char *name,
			   __u32 netns, __u64 now)
{
	char key[DET_KEY];
	struct dpod *p;

	if (ns && name)
		det_fmt(key, sizeof(key), "%s/%s", ns, name);
	else
		det_fmt(key, sizeof(key), "netns:%u", netns);
	p = pod_find(d, key);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		det_fmt(p->key, sizeof(p->key), "%s", key);
		p->first_ns = now;
		p->next = d->pods;
		d->pods = p;
		d->dirty = true;
	}
	det_fmt(p->ns, sizeof(p->ns), "%s", ns ? ns : "");
	det_fmt(p->name, sizeof(p->name), "%s", name ? name : "");
	if (netns)
		p->netns = netns;
	p->last_ns = now;
	return p;
}

/* The pod of the local pod netns (a registered one). */
static struct dpod *pod_of_netns(struct detect *d, __u32 netns, __u64 now)
{
	const struct pod_info *pi = d->o.rc && d->o.rc->pods ?
		pods_by_netns(d->o.rc->pods, netns) : NULL;
	struct dpod *p;

	if (!netns)
		return NULL;
	/* a pod met before under this netns and name: no key to format */
	for (p = pi ? d->pods : NULL; p; p = p->next)
		if (p->netns == netns && !strcmp(p->name, pi->name) &&
		    !strcmp(p->ns, pi->namespace)) {
			p->last_ns = now;
			break;
		}
	if (!p)
		p = pod_at(d, pi ? pi->namespace : NULL, pi ? pi->name : NULL,
			   netns, now);
	if (p && !p->pod && d->o.rc)
		p->pod = pod_json(d->o.rc, netns);
	return p;
}

bool det_pod_learning(const struct detect *d, const struct dpod *pod, __u64 now)
{
	return now - pod->first_ns < d->cfg->learning_ns;
}

bool det_baseline_has(const struct dpod *pod, const char *peer)
{
	int i;

	for (i = 0; i < pod->npeers; i++)
		if (!strcmp(pod->peers[i], peer))
			return true;
	return false;
}

void det_baseline_add(struct detect *d, struct dpod *pod, const char *peer)
{
	char **n;

	if (det_baseline_has(pod, peer) || pod->npeers >= 4096)
		return;
	if (pod->npeers == pod->cap) {
		n = realloc(pod->peers, sizeof(*n) * (pod->cap ? pod->cap * 2 : 16));
		if (!n)
			return;
		pod->peers = n;
		pod->cap = pod->cap ? pod->cap * 2 : 16;
	}
	pod->peers[pod->npeers] = strdup(peer);
	if (pod->peers[pod->npeers])
		pod->npeers++;
	d->dirty = true;
}

bool det_allowed(const struct detect *d, int rule, const struct dpod *pod,
		 const struct dproc *p)
{
	return config_allowed(d->cfg->allow, d->cfg->n_allow, rule, pod->ns,
			      pod->name, p ? p->binary : NULL);
}

/* ---- alerts ---- */

static struct dalert *alert_find(struct detect *d, int rule, const char *pod,
				 const char *tree)
{
	struct dalert *a;

	for (a = d->alerts_list; a; a = a->next)
		if (a->rule == rule && !strcmp(a->pod, pod) && !strcmp(a->tree, tree))
			return a;
	return NULL;
}

static void time_add(struct detect *d, struct json_object *o, const char *k,
		     __u64 ns)
{
	char buf[64];

	record_time_fmt(d->o.rc, ns, buf, sizeof(buf));
	json_object_object_add(o, k, json_object_new_string(buf));
}

/* From p back to the container's first process (or as far as known). */
static struct json_object *ancestry_json(struct detect *d, struct dproc *p)
{
	struct json_object *a = json_object_new_array();
	int depth = 0;

	for (; p && depth < 64; p = det_parent(d, p), depth++) {
		struct json_object *e = jcopy(p->brief);

		if (!e)
			continue;
		if (p->first)
			json_object_object_add(e, "container_first", json_object_new_boolean(1));
		if (p->exec_into)
			json_object_object_add(e, "exec_into_pod", json_object_new_boolean(1));
		json_object_array_add(a, e);
		if (p->first || p->exec_into)
			break;
	}
	return a;
}

static void alert_write(struct detect *d, struct dalert *a, struct dpod *pod,
			struct dproc *p, const char *summary,
			struct json_object *evidence, const char *status)
{
	const struct cfg_rule *r = &d->cfg->rule[a->rule];
	struct json_object *rec = record_new(d->o.rc, "alert", a->last_ns);
	struct json_object *al = json_object_new_object();

	if (pod && pod->pod)
		json_object_object_add(rec, "pod", jcopy(pod->pod));
	json_object_object_add(al, "id", json_object_new_string(a->id));
	json_object_object_add(al, "rule", json_object_new_string(det_rule_names[a->rule]));
	json_object_object_add(al, "severity", json_object_new_string(r->severity));
	json_object_object_add(al, "mitre", json_object_new_string(det_rule_mitre[a->rule]));
	json_object_object_add(al, "summary", json_object_new_string(summary));
	json_object_object_add(al, "action", json_object_new_string(
		r->action == ACTION_DENY ? "deny" : "alert"));
	json_object_object_add(al, "status", json_object_new_string(status));
	json_object_object_add(al, "count", json_object_new_int64(a->count));
	time_add(d, al, "first", a->first_ns);
	time_add(d, al, "last", a->last_ns);
	json_object_object_add(al, "tree", json_object_new_string(a->tree));
	json_object_object_add(rec, "alert", al);
	if (p) {
		json_object_object_add(rec, "process", jcopy(p->brief));
		json_object_object_add(rec, "ancestry", ancestry_json(d, p));
	}
	if (evidence)
		json_object_object_add(rec, "evidence", evidence);
	if (d->alerts_open)
		exporter_write(&d->alerts, rec);
	d->o.emit(d->o.arg, rec, a->netns); /* takes the record */
}

bool det_alert(struct detect *d, int rule, struct dpod *pod, struct dproc *p,
	       struct dproc *tree, const char *summary,
	       struct json_object *evidence, __u64 now)
{
	const char *tkey = tree ? tree->id : (p ? p->id : "pod");
	struct dalert *a = alert_find(d, rule, pod->key, tkey);

	if (a && now - a->last_ns < d->cfg->dedup_ns) {
		a->count++;
		a->last_ns = now;
		d->dirty = true;
		json_object_put(evidence);
		return false;
	}
	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a) {
			json_object_put(evidence);
			return false;
		}
		a->next = d->alerts_list;
		d->alerts_list = a;
	}
	det_fmt(a->id, sizeof(a->id), "%llx-%llu",
		 (unsigned long long)(now + d->o.rc->boot_to_real_ns), ++d->seq);
	a->rule = rule;
	det_fmt(a->pod, sizeof(a->pod), "%s", pod->key);
	det_fmt(a->tree, sizeof(a->tree), "%s", tkey);
	a->first_ns = a->last_ns = now;
	a->count = 1;
	a->netns = pod->netns;
	d->n_alerts++;
	d->dirty = true;
	alert_write(d, a, pod, p, summary, evidence, "open");
	return true;
}

/* An alert idle for the dedup window closes; when it counted repeats, a
 * closing record with the final count is written. */
static void alerts_expire(struct detect *d, __u64 now)
{
	struct dalert **pp = &d->alerts_list, *a;

	while ((a = *pp)) {
		if (now - a->last_ns < d->cfg->dedup_ns) {
			pp = &a->next;
			continue;
		}
		if (a->count > 1) {
			char s[256];

			det_fmt(s, sizeof(s), "%s repeated %u times on one process tree.",
				 det_rule_names[a->rule], a->count);
			alert_write(d, a, pod_find(d, a->pod), NULL, s, NULL, "closed");
		}
		*pp = a->next;
		free(a);
		d->dirty = true;
	}
}

/* ---- records in ---- */

static struct dproc *proc_from_json(struct detect *d, struct json_object *pj,
				    __u32 netns)
{
	const char *id = jstr(pj, "exec_id");
	struct json_object *args = jget(pj, "args"), *b;
	struct dproc *p;

	if (!id)
		return NULL;
	p = det_proc(d, id);
	if (p)
		return p;
	p = proc_insert(d, id);
	if (!p)
		return NULL;
	det_fmt(p->parent, sizeof(p->parent), "%s", jstr(pj, "parent_exec_id") ?: "");
	det_fmt(p->binary, sizeof(p->binary), "%s", jstr(pj, "binary") ?: "");
	args_join(args, p->args, sizeof(p->args));
	rules_tool_name(p->binary, arg_at(args, 0), arg_at(args, 1), p->tool,
			sizeof(p->tool));
	p->netns = jint(pj, "netns") ? (__u32)jint(pj, "netns") : netns;
	b = json_object_new_object();
	json_object_object_add(b, "exec_id", json_object_new_string(id));
	json_object_object_add(b, "pid", json_object_new_int64(p->pid));
	json_object_object_add(b, "binary", json_object_new_string(p->binary));
	json_object_object_add(b, "args", args ? jcopy(args) : json_object_new_array());
	p->brief = b;
	return p;
}

/* The same from the daemon's process cache. */
static struct dproc *proc_from_cache(struct detect *d, const struct proc *cp,
				     __u32 netns)
{
	struct json_object *pj;
	struct dproc *p;
	char id[DET_ID];

	exec_id_fmt(d->o.rc, &cp->id, id, sizeof(id));
	p = det_proc(d, id);
	if (p)
		return p;
	pj = process_json(d->o.rc, cp); /* once per process the engine learns */
	p = pj ? proc_from_json(d, pj, netns) : NULL;
	json_object_put(pj);
	return p;
}

static void on_exec(struct detect *d, struct proc *cp, __u64 now)
{
	struct dpod *pod;
	struct dproc *p, *pp;
	__u32 pnetns = cp->parent_netns;
	char id[DET_ID];

	if (!record_pod_known(d->o.rc, cp->netns_ino) ||
	    !(pod = pod_of_netns(d, cp->netns_ino, now)))
		return;
	exec_id_fmt(d->o.rc, &cp->id, id, sizeof(id));
	if (det_proc(d, id))
		return;
	p = proc_from_cache(d, cp, pod->netns);
	if (!p)
		return;
	pp = det_proc(d, p->parent);
	/* a new exec on the same pid replaces its image: not a new process */
	if (!pp || pp->pid != p->pid)
		pod->live++;
	if (pp && pp->pid == p->pid) {
		pp->exited = true;
		pp->gone_ns = now;
		p->first = pp->first;
		p->exec_into = pp->exec_into;
		if (p->first)
			det_fmt(pod->first_exec, DET_ID, "%s", p->id);
	} else if ((pnetns && pnetns != p->netns) || (pp && pp->netns != p->netns)) {
		/* from outside the pod: the container starts, or kubectl exec */
		if (pod->live <= 1 || !det_proc(d, pod->first_exec) ||
		    det_proc(d, pod->first_exec)->exited) {
			p->first = true;
			det_fmt(pod->first_exec, DET_ID, "%s", p->id);
		} else {
			p->exec_into = true;
		}
	}
	rules_exec(d, pod, p, now);
}

/* The container's first process ended while a process that entered the
 * pod from outside runs (they raced at start): the oldest such root is
 * the container's first process, not an exec into it. */
static void first_promote(struct detect *d, struct dpod *pod)
{
	struct dproc *best = NULL, *p;
	int h;

	for (h = 0; h < DET_HASH; h++)
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
	det_fmt(pod->first_exec, DET_ID, "%s", best->id);
}

static void on_exit_proc(struct detect *d, const struct ps_exec_id *eid,
			 __u32 netns, __u64 now)
{
	struct dpod *pod;
	struct dproc *p;
	char id[DET_ID];

	if (!record_pod_known(d->o.rc, netns) ||
	    !(pod = pod_of_netns(d, netns, now)))
		return;
	exec_id_fmt(d->o.rc, eid, id, sizeof(id));
	p = det_proc(d, id);
	if (pod->live > 0)
		pod->live--;
	if (p && !p->exited) {
		p->exited = true;
		p->gone_ns = now;
		if (p->first && !strcmp(pod->first_exec, p->id))
			first_promote(d, pod);
	}
}

/* A private (RFC 1918, CGNAT, link-local, ULA) or loopback address. */
static bool ip_internal(const char *ip)
{
	unsigned a, b;

	if (!ip)
		return false;
	if (strchr(ip, ':'))
		return !strncasecmp(ip, "fc", 2) || !strncasecmp(ip, "fd", 2) ||
		       !strncasecmp(ip, "fe80", 4);
	if (sscanf(ip, "%u.%u", &a, &b) != 2)
		return false;
	return a == 10 || (a == 172 && b >= 16 && b < 32) ||
	       (a == 192 && b == 168) || (a == 100 && b >= 64 && b < 128) ||
	       (a == 169 && b == 254);
}

static void conn_fill(struct detect *d, struct dconn *c,
		      const struct conn_rec *r)
{
	const struct pod_info *pi = r->dst_netns && d->o.rc && d->o.rc->pods ?
		pods_by_netns(d->o.rc->pods, r->dst_netns) : NULL;
	static char peer_pod[DET_KEY];

	c->rec = r;
	c->proto = r->proto ? r->proto : "?";
	c->src_ip = r->src_ip;
	c->src_port = r->src_port > 0 ? r->src_port : 0;
	c->dst_ip = r->dst_ip;
	c->dst_port = r->dst_port > 0 ? r->dst_port : 0;
	c->pod_peer = r->dst_netns != 0;
	c->internal = c->pod_peer || ip_internal(c->dst_ip);
	if (pi) {
		det_fmt(peer_pod, sizeof(peer_pod), "%s/%s", pi->namespace, pi->name);
		c->peer_pod = peer_pod;
	}
}

static struct json_object *endpoint_json(struct detect *d, const char *ip,
					 int port, __u32 netns)
{
	struct json_object *o = json_object_new_object(), *pod;

	if (ip)
		json_object_object_add(o, "ip", json_object_new_string(ip));
	if (port >= 0)
		json_object_object_add(o, "port", json_object_new_int(port));
	if (netns && d->o.rc && (pod = pod_json(d->o.rc, netns)))
		json_object_object_add(o, "pod", pod);
	return o;
}

struct json_object *det_conn_evidence(struct detect *d, struct dconn *c)
{
	const struct conn_rec *r = c->rec;
	struct json_object *ev, *src;
	char t[64];

	if (c->evidence || !r)
		return c->evidence;
	ev = json_object_new_object();
	json_object_object_add(ev, "source", json_object_new_string(
		r->flow ? "flow" : "connect"));
	record_time_fmt(d->o.rc, r->ktime, t, sizeof(t));
	json_object_object_add(ev, "time", json_object_new_string(t));
	json_object_object_add(ev, "protocol", json_object_new_string(c->proto));
	src = endpoint_json(d, r->src_ip, r->src_port, r->src_netns);
	if (c->pod && c->pod->pod && !json_object_object_get_ex(src, "pod", NULL))
		json_object_object_add(src, "pod", jcopy(c->pod->pod));
	json_object_object_add(ev, "src", src);
	json_object_object_add(ev, "dst", endpoint_json(d, r->dst_ip, r->dst_port,
							r->dst_netns));
	if (r->flow) {
		record_time_fmt(d->o.rc, r->start, t, sizeof(t));
		json_object_object_add(ev, "start", json_object_new_string(t));
		json_object_object_add(ev, "state", json_object_new_string(r->state));
		json_object_object_add(ev, "verdict", json_object_new_string(r->verdict));
	}
	if (c->refused)
		json_object_object_add(ev, "refused", json_object_new_boolean(1));
	if (c->proc)
		json_object_object_add(ev, "exec_id", json_object_new_string(c->proc->id));
	c->evidence = ev;
	return ev;
}

static void flow_seen_add(struct detect *d, const char *key, __u64 now)
{
	if (seen_put(&d->flows_seen, key, now))
		fprintf(stderr, "podsentryd: detection: no memory for a flow key\n");
}

/* Rules on a connection; its evidence is built only if a rule wants it. */
static void conn_rules(struct detect *d, struct dpod *pod, struct dconn *c,
		       __u64 now)
{
	if (c->rec->proc)
		c->proc = proc_from_cache(d, c->rec->proc, pod->netns);
	c->pod = pod;
	rules_connection(d, pod, c, now);
	json_object_put(c->evidence);
	c->evidence = NULL;
}

/* A private or loopback address at side `side` of a flow key. */
static bool ip_internal_key(const struct ps_flow_key *k, int side)
{
	char ip[INET6_ADDRSTRLEN];

	record_ip_fmt(k->family, k->addr[side].b, ip);
	return ip_internal(ip);
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

void det_mark_tree(struct detect *d, struct dproc *root)
{
	struct ps_mark m = { .flags = PS_MARK_FOOTHOLD };
	__u32 key, next, *prev = NULL;
	struct ps_proc kp;
	char id[DET_ID];

	if (d->marks_fd < 0 || d->procs_fd < 0)
		return;
	m.root.ktime = root->ktime;
	m.root.pid = root->pid;
	/* every process whose image is the foothold's or a descendant's:
	 * those it forked before the daemon saw it too */
	while (!bpf_map_get_next_key(d->procs_fd, prev, &next)) {
		struct dproc *p;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(d->procs_fd, &key, &kp) ||
		    kp.netns_ino != root->netns)
			continue;
		exec_id_fmt(d->o.rc, &kp.exec, id, sizeof(id));
		p = det_proc(d, id);
		if (!p || !tree_has(d, p, root))
			continue;
		if (bpf_map_update_elem(d->marks_fd, &key, &m, BPF_NOEXIST) &&
		    errno != EEXIST)
			d->marks_errors++;
	}
}

/* The kernel's peers map: what the pod now knows of this destination.
 * A peer learned (the learning window, or the baseline by pod name when
 * the peer pod came back at another address) costs no notice any more;
 * one reported after learning stays quiet for the dedup window. */
static void peer_tell(struct detect *d, const struct dpod *pod,
		      const struct dconn *c, bool learned, __u64 now)
{
	struct ps_peer_key k = { .netns_ino = pod->netns };
	struct ps_peer v = {};

	if (d->peers_fd < 0 || !c->dst_ip || c->refused)
		return;
	k.proto = !strcmp(c->proto, "udp") ? 17 : !strcmp(c->proto, "tcp") ? 6 : 0;
	k.port = htons(c->dst_port);
	if (inet_pton(AF_INET, c->dst_ip, k.addr.b) == 1)
		k.family = AF_INET;
	else if (inet_pton(AF_INET6, c->dst_ip, k.addr.b) == 1)
		k.family = AF_INET6;
	if (!k.family || !k.proto)
		return;
	v.flags = learned ? PS_PEER_LEARNED : PS_PEER_QUIET;
	v.until = now + d->cfg->dedup_ns;
	if (bpf_map_update_elem(d->peers_fd, &k, &v, BPF_ANY))
		d->peers_errors++;
}

/* Connection notices from the socket programs: a connection that failed,
 * of a marked tree, or to a peer not in the pod's peers map. */
static void on_notice(struct detect *d, const struct conn_rec *r, __u64 now)
{
	struct dpod *pod;
	struct dconn c = {};
	char key[256];
	bool marked = r->notice & PS_SOCK_MARKED;

	if (!r->dst_ip || !record_pod_known(d->o.rc, r->netns) ||
	    !(pod = pod_of_netns(d, r->netns, now)))
		return;
	conn_fill(d, &c, r);
	c.refused = r->refused;
	/* the flow of this connection must not count twice */
	if (c.src_ip && c.src_port)
		conn_key(key, sizeof(key), "c ", &c, NULL);
	else
		conn_key(key, sizeof(key), "", &c, pod->key);
	flow_seen_add(d, key, now);
	conn_rules(d, pod, &c, now);
	if (!marked && c.internal) {
		char peer[DET_KEY + 32];

		rules_peer_fmt(&c, peer, sizeof(peer));
		peer_tell(d, pod, &c, det_pod_learning(d, pod, now) ||
			  det_baseline_has(pod, peer), now);
	}
}

/* A flow's record: detection looks only at what notices could not show,
 * a connection opened by a pod of this node whose tree is a foothold
 * (the tree may have been found after it connected to a peer the pod
 * knows), or that no socket named (no socket program saw it). */
static void on_flow(struct detect *d, const struct flow_view *v, __u64 now)
{
	static char src_ip[INET6_ADDRSTRLEN], dst_ip[INET6_ADDRSTRLEN];
	int src = v->src, dst = !v->src;
	struct proc *cp = v->proc[src];
	struct dpod *pod;
	struct dconn c = {};
	struct conn_rec r = {};
	char key[256], ckey[256], pbuf[16];
	struct dproc *p = NULL;
	bool footholds = d->last_foothold_ns &&
			 now - d->last_foothold_ns <= d->cfg->chain_ns;

	if (!v->opened_known || !v->netns[src] || !v->final || v->refused)
		return;
	if (cp) {
		if (!footholds)
			return;
		exec_id_fmt(d->o.rc, &cp->id, key, sizeof(key));
		p = det_proc(d, key);
		if (!p || !det_foothold_of(d, p, now))
			return;
	} else if (!footholds && !v->netns[dst] &&
		   !ip_internal_key(&v->key, dst)) {
		return;
	}
	if (!record_pod_known(d->o.rc, v->netns[src]) ||
	    !(pod = pod_of_netns(d, v->netns[src], now)))
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
	conn_fill(d, &c, &r);
	/* reported by its notice already */
	conn_key(ckey, sizeof(ckey), "c ", &c, NULL);
	if (seen_del(&d->flows_seen, ckey))
		return;
	conn_key(ckey, sizeof(ckey), "", &c, pod->key);
	if (seen_get(&d->flows_seen, ckey, NULL))
		return;
	conn_rules(d, pod, &c, now);
}

void detect_conn(struct detect *d, const struct conn_rec *r)
{
	if (d && r)
		on_notice(d, r, clock_boot_ns());
}

void detect_flow(struct detect *d, const struct flow_view *v)
{
	if (d && v)
		on_flow(d, v, clock_boot_ns());
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

/* ---- the state file ---- */

static struct json_object *proc_state_json(struct detect *d, struct dproc *p)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "exec_id", json_object_new_string(p->id));
	json_object_object_add(o, "parent", json_object_new_string(p->parent));
	json_object_object_add(o, "netns", json_object_new_int64(p->netns));
	json_object_object_add(o, "first", json_object_new_boolean(p->first));
	json_object_object_add(o, "exec_into", json_object_new_boolean(p->exec_into));
	json_object_object_add(o, "brief", jcopy(p->brief));
	return o;
}

/* Every open alert's tree (root and ancestors) is saved, so that its
 * repeats after a restart count on it. */
static void state_add_tree(struct detect *d, struct json_object *procs,
			   const char *tree)
{
	struct dproc *p = det_proc(d, tree);
	int depth = 0;

	for (; p && depth < 64; p = det_parent(d, p), depth++)
		if (!json_object_object_get_ex(procs, p->id, NULL))
			json_object_object_add(procs, p->id, proc_state_json(d, p));
}

static struct json_object *state_json(struct detect *d)
{
	struct json_object *root = json_object_new_object(),
			   *pods = json_object_new_object(),
			   *alerts = json_object_new_array(),
			   *procs = json_object_new_object();
	__s64 off = d->o.rc->boot_to_real_ns;
	struct dpod *p;
	struct dalert *a;
	int i;

	for (p = d->pods; p; p = p->next) {
		struct json_object *o, *peers;

		if (clock_boot_ns() - p->last_ns > POD_KEEP_NS)
			continue;
		o = json_object_new_object();
		peers = json_object_new_array();
		json_object_object_add(o, "first_seen", json_object_new_int64(p->first_ns + off));
		json_object_object_add(o, "last_seen", json_object_new_int64(p->last_ns + off));
		for (i = 0; i < p->npeers; i++)
			json_object_array_add(peers, json_object_new_string(p->peers[i]));
		json_object_object_add(o, "peers", peers);
		json_object_object_add(pods, p->key, o);
	}
	for (a = d->alerts_list; a; a = a->next) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_string(a->id));
		json_object_object_add(o, "rule", json_object_new_string(det_rule_names[a->rule]));
		json_object_object_add(o, "pod", json_object_new_string(a->pod));
		json_object_object_add(o, "tree", json_object_new_string(a->tree));
		json_object_object_add(o, "netns", json_object_new_int64(a->netns));
		json_object_object_add(o, "first", json_object_new_int64(a->first_ns + off));
		json_object_object_add(o, "last", json_object_new_int64(a->last_ns + off));
		json_object_object_add(o, "count", json_object_new_int64(a->count));
		json_object_array_add(alerts, o);
		state_add_tree(d, procs, a->tree);
	}
	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "pods", pods);
	json_object_object_add(root, "alerts", alerts);
	json_object_object_add(root, "processes", procs);
	return root;
}

static int state_save(struct detect *d)
{
	struct json_object *s;
	const char *text;
	size_t len;
	int err = 0;

	if (!d->o.state_file)
		return 0;
	s = state_json(d);
	text = json_object_to_json_string_length(s, JSON_C_TO_STRING_PLAIN, &len);
	/* 0600: the state names pods and their peers */
	err = text ? sink_file_replace(d->o.state_file, text, len, SINK_PRIVATE_MODE)
		   : -ENOMEM;
	if (err)
		fprintf(stderr, "podsentryd: save state %s: %s\n", d->o.state_file,
			strerror(-err));
	json_object_put(s);
	d->dirty = false;
	return err;
}

static void state_load_pods(struct detect *d, struct json_object *pods, __s64 off)
{
	json_object_object_foreach(pods, key, o) {
		struct json_object *peers = jget(o, "peers");
		struct dpod *p = calloc(1, sizeof(*p));
		size_t i;

		if (!p)
			return;
		det_fmt(p->key, sizeof(p->key), "%s", key);
		p->first_ns = (__u64)(jint(o, "first_seen") - off);
		p->last_ns = jget(o, "last_seen") ? (__u64)(jint(o, "last_seen") - off)
						  : clock_boot_ns();
		p->next = d->pods;
		d->pods = p;
		for (i = 0; peers && i < json_object_array_length(peers); i++)
			det_baseline_add(d, p, json_object_get_string(
					       json_object_array_get_idx(peers, i)));
	}
}

static void state_load_alerts(struct detect *d, struct json_object *alerts,
			      __s64 off)
{
	size_t i;

	for (i = 0; alerts && i < json_object_array_length(alerts); i++) {
		struct json_object *o = json_object_array_get_idx(alerts, i);
		int rule = det_rule_by_name(jstr(o, "rule") ?: "");
		struct dalert *a;

		if (rule < 0)
			continue;
		a = calloc(1, sizeof(*a));
		if (!a)
			return;
		det_fmt(a->id, sizeof(a->id), "%s", jstr(o, "id") ?: "");
		det_fmt(a->pod, sizeof(a->pod), "%s", jstr(o, "pod") ?: "");
		det_fmt(a->tree, sizeof(a->tree), "%s", jstr(o, "tree") ?: "");
		a->rule = rule;
		a->netns = (__u32)jint(o, "netns");
		a->first_ns = (__u64)(jint(o, "first") - off);
		a->last_ns = (__u64)(jint(o, "last") - off);
		a->count = (__u32)jint(o, "count");
		a->next = d->alerts_list;
		d->alerts_list = a;
	}
}

static void state_load_procs(struct detect *d, struct json_object *procs)
{
	json_object_object_foreach(procs, id, o) {
		struct dproc *p = proc_from_json(d, jget(o, "brief"),
						 (__u32)jint(o, "netns"));

		if (!p)
			continue;
		det_fmt(p->parent, sizeof(p->parent), "%s", jstr(o, "parent") ?: "");
		p->first = json_object_get_boolean(jget(o, "first"));
		p->exec_into = json_object_get_boolean(jget(o, "exec_into"));
		p->persisted = true;
		d->n_persisted++;
		(void)id;
	}
}

/* A missing file is a first start; a broken one is reported and set
 * aside (FILE.broken) so the daemon still starts. */
static int state_load(struct detect *d)
{
	__s64 off = d->o.rc->boot_to_real_ns;
	struct json_object *s;
	char bad[4096];

	if (!d->o.state_file || access(d->o.state_file, F_OK))
		return 0;
	s = json_object_from_file(d->o.state_file);
	if (!s || jint(s, "version") != 1) {
		det_fmt(bad, sizeof(bad), "%s.broken", d->o.state_file);
		fprintf(stderr, "podsentryd: state file %s: not a podsentry state (moved to %s)\n",
			d->o.state_file, bad);
		json_object_put(s);
		return rename(d->o.state_file, bad) ? -errno : 0;
	}
	state_load_pods(d, jget(s, "pods"), off);
	state_load_alerts(d, jget(s, "alerts"), off);
	state_load_procs(d, jget(s, "processes"));
	json_object_put(s);
	d->dirty = false;
	return 0;
}

static int mkdir_parents(const char *file)
{
	char dir[4096], *s;

	det_fmt(dir, sizeof(dir), "%s", file);
	s = strrchr(dir, '/');
	if (!s || s == dir)
		return 0;
	*s = 0;
	return dir_make(dir, 0755, SINK_PRIVATE_DIR_MODE);
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
	d->peers_fd = d->marks_fd = d->procs_fd = -1;
	enforce_open(d, o->bpffs);
	if (o->bpffs) {
		d->peers_fd = pin_open(o->bpffs, PS_PIN_PEERS);
		d->marks_fd = pin_open(o->bpffs, PS_PIN_MARKS);
		d->procs_fd = pin_open(o->bpffs, PS_PIN_PROCS);
	}
	if (o->alerts_path) {
		*err = exporter_open(&d->alerts, o->alerts_path);
		if (*err) {
			fprintf(stderr, "podsentryd: --alerts %s: %s\n", o->alerts_path,
				strerror(-*err));
			goto fail;
		}
		d->alerts_open = true;
	}
	if (o->state_file) {
		*err = mkdir_parents(o->state_file);
		if (*err) {
			fprintf(stderr, "podsentryd: --state-file %s: folder: %s\n",
				o->state_file, strerror(-*err));
			goto fail;
		}
		*err = state_load(d);
		if (*err) {
			fprintf(stderr, "podsentryd: --state-file %s: %s\n",
				o->state_file, strerror(-*err));
			goto fail;
		}
	}
	return d;
fail:
	d->o.state_file = NULL; /* keep what is on disk */
	detect_free(d);
	return NULL;
}

static void procs_reap(struct detect *d, __u64 now)
{
	int i;

	for (i = 0; i < DET_HASH; i++) {
		struct dproc **pp = &d->procs[i], *p;

		while ((p = *pp)) {
			if (p->exited && now - p->gone_ns > d->cfg->chain_ns + PROC_KEEP_NS) {
				*pp = p->next;
				proc_free(p);
			} else {
				pp = &p->next;
			}
		}
	}
}

static void flows_seen_reap(struct detect *d, __u64 now)
{
	seen_reap(&d->flows_seen, now > FLOW_SEEN_NS ? now - FLOW_SEEN_NS : 0);
}

void detect_tick(struct detect *d)
{
	__u64 now = clock_boot_ns();

	if (!d)
		return;
	alerts_expire(d, now);
	enforce_expire(d, now, false);
	if (now - d->last_save_ns > 10 * NS_PER_S) {
		procs_reap(d, now);
		flows_seen_reap(d, now);
	}
	if (d->dirty) {
		state_save(d);
		d->last_save_ns = now;
	}
	if (d->alerts_open)
		exporter_flush(&d->alerts);
}

void detect_reopen(struct detect *d)
{
	if (d && d->alerts_open && exporter_reopen(&d->alerts))
		fprintf(stderr, "podsentryd: reopen %s: %s\n", d->alerts.path,
			strerror(errno));
}

unsigned long long detect_alerts(const struct detect *d)
{
	return d ? d->n_alerts : 0;
}

void detect_free(struct detect *d)
{
	struct dpod *p;
	struct dalert *a;
	int i;

	if (!d)
		return;
	state_save(d);
	enforce_expire(d, 0, true);
	if (d->deny_fd >= 0)
		close(d->deny_fd);
	if (d->peers_fd >= 0)
		close(d->peers_fd);
	if (d->marks_fd >= 0)
		close(d->marks_fd);
	if (d->procs_fd >= 0)
		close(d->procs_fd);
	for (i = 0; i < DET_HASH; i++)
		while (d->procs[i]) {
			struct dproc *n = d->procs[i]->next;

			proc_free(d->procs[i]);
			d->procs[i] = n;
		}
	while ((p = d->pods)) {
		d->pods = p->next;
		for (i = 0; i < p->npeers; i++)
			free(p->peers[i]);
		free(p->peers);
		json_object_put(p->pod);
		free(p);
	}
	while ((a = d->alerts_list)) {
		d->alerts_list = a->next;
		free(a);
	}
	seen_free(&d->flows_seen);
	if (d->alerts_open)
		exporter_close(&d->alerts);
	free(d);
}
