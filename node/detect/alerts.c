// SPDX-License-Identifier: GPL-2.0-only
/*
 * Verdicts into alerts: one alert per rule, pod, process tree (and, for
 * lateral movement, target) while it keeps happening within the dedup
 * window; repeats are counted, and an alert that repeated gets a closing
 * record with its final count. Alert records are written with jw (the
 * records' writer: UTF-8 whatever the bytes) to the daemon's sinks and
 * the alerts file. A verdict whose rule says deny goes to enforcement.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/detect/engine.h"

static struct dalert *alert_find(struct detect *d, int rule, const char *pod,
				 const struct ps_exec_id *tree, const char *target)
{
	struct dalert *a;

	for (a = d->alerts; a; a = a->next)
		if (a->rule == rule && a->tree.ktime == tree->ktime &&
		    a->tree.pid == tree->pid && !strcmp(a->pod, pod) &&
		    !strcmp(a->target, target))
			return a;
	return NULL;
}

static void time_w(struct detect *d, struct jw *w, const char *key, __u64 ns)
{
	char buf[64];

	record_time_fmt(d->o.rc, ns, buf, sizeof(buf));
	jw_str(w, key, buf);
}

/* From p back to the container's first process (or as far as known). */
static void ancestry_w(struct detect *d, struct jw *w, struct dproc *p)
{
	int depth = 0;

	jw_arr(w, "ancestry");
	for (; p && depth < 64; p = det_parent(d, p), depth++) {
		if (!p->brief)
			continue;
		/* the brief object, with where the chain starts */
		if (p->first || p->exec_into) {
			jw_raw(w, NULL, p->brief, p->brief_len - 1);
			const char *end = p->first ? ",\"container_first\":true}"
						   : ",\"exec_into_pod\":true}";

			jw_append(w, end, strlen(end));
			break;
		}
		jw_raw(w, NULL, p->brief, p->brief_len);
	}
	jw_arr_end(w);
}

/* The opening record of a, kept; an alert whose copy cannot be made
 * shows without its chain. */
static void alert_keep(struct dalert *a, const char *line, size_t len)
{
	char *b = malloc(len);

	free(a->record);
	a->record = b;
	a->record_len = b ? len : 0;
	if (b)
		memcpy(b, line, len);
}

static void alert_write(struct detect *d, struct dalert *a,
			struct dpod *pod, struct dproc *p, const char *summary,
			const struct jw *evidence, const char *status)
{
	const struct cfg_rule *r = &d->cfg->rule[a->rule];
	struct jw *w = &d->w;
	char tree[96];

	record_head_w(d->o.rc, w, "alert", a->last_ns);
	if (pod)
		record_pod_w(d->o.rc, w, "pod", pod->netns);
	jw_obj(w, "alert");
	jw_str(w, "id", a->id);
	jw_str(w, "rule", det_rule_names[a->rule]);
	jw_str(w, "severity", r->severity);
	jw_str(w, "mitre", det_rule_mitre[a->rule]);
	jw_str(w, "summary", summary);
	jw_str(w, "action", r->action == ACTION_DENY ? "deny" : "alert");
	jw_str(w, "status", status);
	jw_uint(w, "count", a->count);
	time_w(d, w, "first", a->first_ns);
	time_w(d, w, "last", a->last_ns);
	det_exec_id_fmt(d, &a->tree, tree, sizeof(tree));
	jw_str(w, "tree", a->tree.pid ? tree : "pod");
	if (a->target[0])
		jw_str(w, "target", a->target);
	jw_obj_end(w);
	if (p) {
		ev_brief_w(w, "process", p);
		ancestry_w(d, w, p);
	}
	if (evidence && !evidence->oom && evidence->len > 1) {
		/* evidence is "{members": the members follow the key */
		jw_raw(w, "evidence", evidence->buf, evidence->len);
		jw_append(w, "}", 1);
	}
	jw_obj_end(w);
	if (w->oom)
		return;
	if (!strcmp(status, "open"))
		alert_keep(a, w->buf, w->len);
	if (d->alerts_open)
		exporter_write_line(&d->alerts_out, w->buf, w->len);
	d->o.emit(d->o.arg, w->buf, w->len, a->netns);
	d->c.alerts++;
}

void alerts_verdict(struct detect *d, struct verdict *v, __u64 now)
{
	static const struct ps_exec_id none;
	const struct ps_exec_id *tkey = v->pod_wide ? &none :
					v->tree ? &v->tree->id :
					v->proc ? &v->proc->id : &none;
	struct dalert *a = alert_find(d, v->rule, v->pod->key, tkey, v->target);
	const struct cfg_rule *r = &d->cfg->rule[v->rule];

	if (r->action == ACTION_DENY && v->conn)
		enforce_deny_conn(d, v->pod, v->conn, now);
	if (a && now - a->last_ns < d->cfg->dedup_ns) {
		a->count++;
		a->last_ns = now;
		d->c.repeats++;
		d->dirty = true;
		goto out;
	}
	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a)
			goto out;
		a->next = d->alerts;
		d->alerts = a;
	}
	det_fmt(a->id, sizeof(a->id), "%llx-%llu",
		(unsigned long long)(now + d->o.rc->boot_to_real_ns), ++d->seq);
	a->rule = v->rule;
	det_fmt(a->pod, sizeof(a->pod), "%s", v->pod->key);
	a->tree = *tkey;
	det_fmt(a->target, sizeof(a->target), "%s", v->target);
	a->first_ns = a->last_ns = now;
	a->count = 1;
	a->netns = v->pod->netns;
	d->n_alerts++;
	d->dirty = true;
	alert_write(d, a, v->pod, v->proc, v->summary, &v->evidence, "open");
out:
	jw_free(&v->evidence);
}

/* An alert idle for the dedup window closes; when it counted repeats, a
 * closing record with the final count is written. */
void alerts_expire(struct detect *d, __u64 now)
{
	struct dalert **pp = &d->alerts, *a;

	while ((a = *pp)) {
		if (now - a->last_ns < d->cfg->dedup_ns) {
			pp = &a->next;
			continue;
		}
		if (a->count > 1) {
			char s[256];

			det_fmt(s, sizeof(s), "%s repeated %u times on one process tree.",
				det_rule_names[a->rule], a->count);
			alert_write(d, a, det_pod_by_key(d, a->pod), NULL, s, NULL,
				    "closed");
		}
		*pp = a->next;
		free(a->record);
		free(a);
		d->dirty = true;
	}
}

void alerts_free(struct detect *d)
{
	struct dalert *a;

	while ((a = d->alerts)) {
		d->alerts = a->next;
		free(a->record);
		free(a);
	}
}

void detect_alerts_each(struct detect *d,
			void (*fn)(void *arg, const struct detect_alert_view *a),
			void *arg)
{
	const struct dalert *a;

	if (!d)
		return;
	for (a = d->alerts; a; a = a->next) {
		struct detect_alert_view v = {
			.id = a->id, .rule = det_rule_names[a->rule],
			.severity = d->cfg->rule[a->rule].severity, .pod = a->pod,
			.target = a->target, .count = a->count,
			.first_ns = a->first_ns, .last_ns = a->last_ns,
			.netns = a->netns, .record = a->record,
			.record_len = a->record_len,
		};

		fn(arg, &v);
	}
}
