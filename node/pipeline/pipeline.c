// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>

#include "node/pipeline/pipeline.h"
#include "node/records/flow.h"
#include "node/records/process.h"

void pipeline_line(struct pipeline *pl, struct jw *w, __u32 netns_a,
		   __u32 netns_b)
{
	if (w->oom) {
		pl->unwritten++;
		return;
	}
	sinks_write(pl->sinks, w->buf, w->len, netns_a, netns_b);
}

static __u32 pod_netns(struct pipeline *pl, __u32 netns)
{
	return record_pod_known(pl->rc, netns) ? netns : 0;
}

static void on_exec(void *arg, const struct ps_exec_event *e)
{
	struct pipeline *pl = arg;
	struct proc *p = proc_from_exec(e), *pp, stub;

	if (!p) {
		pl->unwritten++;
		return;
	}
	if (!p->parent.ktime) {
		/* the kernel did not know the parent's exec: ask the cache */
		pp = proc_cache_by_pid(pl->procs, p->parent.pid);
		if (pp)
			p->parent = pp->id;
	}
	proc_cache_add(pl->procs, p);
	pp = proc_cache_get(pl->procs, &p->parent);
	if (!pp && p->parent.pid) {
		/* an exec the daemon did not report (outside the pods) */
		memset(&stub, 0, sizeof(stub));
		stub.id = p->parent;
		stub.pid = p->parent.pid;
		pp = &stub;
	}
	process_exec_w(pl->rc, &pl->w, p, pp, e->hdr.ktime);
	if (pp == &stub)
		free(stub.json);
	pipeline_line(pl, &pl->w, pod_netns(pl, p->netns_ino), 0);
	detect_exec(pl->detect, p);
}

static void on_exit_event(void *arg, const struct ps_exit_event *e)
{
	struct pipeline *pl = arg;
	struct proc *p = proc_cache_get(pl->procs, &e->exec), tmp = {};

	if (!p) {
		/* exec'd before the cache knew it: report what the kernel has */
		tmp.id = e->exec;
		tmp.pid = e->tgid;
		tmp.netns_ino = e->netns_ino;
	}
	process_exit_w(pl->rc, &pl->w, p ? p : &tmp,
		       p ? proc_cache_get(pl->procs, &p->parent) : NULL,
		       e->exit_code, e->hdr.ktime);
	free(tmp.json);
	pipeline_line(pl, &pl->w, pod_netns(pl, e->netns_ino), 0);
	detect_exit(pl->detect, &e->exec, e->netns_ino);
	if (p)
		proc_cache_exit(pl->procs, p, e->hdr.ktime, e->flags & PS_EXIT_NET);
}

/* A fork of a gone image uses sockets: their flows will name it. */
static void on_net_use(void *arg, const struct ps_exit_event *e)
{
	proc_cache_net_use(((struct pipeline *)arg)->procs, &e->exec);
}

static void on_flow_event(void *arg, const struct ps_flow_event *e)
{
	flows_event(((struct pipeline *)arg)->flows, e);
}

static int on_sock_event(void *arg, const struct ps_sock_event *e, size_t len)
{
	return sockets_event(((struct pipeline *)arg)->sockets, e, len);
}

struct event_handlers pipeline_handlers(struct pipeline *pl)
{
	return (struct event_handlers){
		.exec = on_exec, .exit = on_exit_event, .net_use = on_net_use,
		.flow = on_flow_event, .sock = on_sock_event, .arg = pl,
	};
}

static void flow_out(void *arg, const struct flow_view *v)
{
	struct pipeline *pl = arg;

	flow_record_w(pl->rc, &pl->w, v);
	pipeline_line(pl, &pl->w, v->netns[0], v->netns[1]);
	detect_flow(pl->detect, v);
}

static void agg_out(void *arg, const struct agg_view *a)
{
	struct pipeline *pl = arg;

	agg_record_w(pl->rc, &pl->w, a);
	pipeline_line(pl, &pl->w, a->netns, a->peer_netns);
}

static struct proc *flow_holder(void *arg, const struct ps_flow_key *k, int side)
{
	return sockets_holder(((struct pipeline *)arg)->sockets, k, side);
}

static void agg_since(void *arg, __u64 ns)
{
	struct pipeline *pl = arg;

	if (pl->agg_since)
		pl->agg_since(pl->agg_arg, ns);
}

void pipeline_flows_opts(struct pipeline *pl, struct flows_opts *o)
{
	o->rc = pl->rc;
	o->out = flow_out;
	o->agg_out = agg_out;
	o->holder = flow_holder;
	o->agg_since = agg_since;
	o->arg = pl;
}

static void sock_line(void *arg, const char *line, size_t len, __u32 netns)
{
	sinks_write(((struct pipeline *)arg)->sinks, line, len, netns, 0);
}

static void sock_notice(void *arg, const struct conn_rec *c)
{
	detect_conn(((struct pipeline *)arg)->detect, c);
}

static void sock_failed(void *arg, const struct ps_sock_event *e)
{
	flows_connect_failed(((struct pipeline *)arg)->flows, e);
}

void pipeline_sockets_opts(struct pipeline *pl, struct sockets_opts *o)
{
	o->rc = pl->rc;
	o->line = sock_line;
	o->notice = sock_notice;
	o->failed = sock_failed;
	o->arg = pl;
}

/* Alert records: the detection engine writes them with jw. */
static void alert_out(void *arg, const char *line, size_t len, __u32 netns)
{
	struct pipeline *pl = arg;

	sinks_write(pl->sinks, line, len, pod_netns(pl, netns), 0);
}

void pipeline_detect_opts(struct pipeline *pl, struct detect_opts *o)
{
	o->rc = pl->rc;
	o->emit = alert_out;
	o->arg = pl;
}
