// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rules: behaviours stated over the kernel's facts (README.md,
 * "Detection"). Exec rules find footholds: a shell on the network
 * (stdin and stdout a connected socket, or a pty or pipe to a parent
 * that holds one: the kernel's file table at exec), a network tool, a
 * process that entered the pod from another netns. Connection rules look
 * at each connection detection sees (a notice, or a flow no notice
 * showed): a peer the pod did not learn, a sensitive service its binary
 * did not learn, a scan, and the chain, a foothold's tree connecting
 * east-west to anything but its own channel. Every rule hands verdicts
 * to `emit`; none writes anything itself.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "node/detect/engine.h"

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* The i-th argument of a NUL-separated vector, or NULL. */
static const char *arg_at(const char *args, __u32 len, int i)
{
	__u32 off = 0;

	while (args && off < len) {
		if (!i--)
			return args + off;
		off += strnlen(args + off, len - off) + 1;
	}
	return NULL;
}

void rules_tool_name(const char *binary, const char *args, __u32 args_len,
		     char *out, size_t len)
{
	const char *b = base(binary), *a0 = arg_at(args, args_len, 0),
		   *a1 = arg_at(args, args_len, 1);

	if (!strcmp(b, "busybox")) {
		b = a0 ? base(a0) : "";
		if (!strcmp(b, "busybox") || !b[0])
			b = a1 ? base(a1) : "busybox";
	}
	det_fmt(out, len, "%s", b);
}

/* The index of the first argument after the program's own name (after
 * the applet of "busybox sh"). */
static int first_operand(const struct dproc *p)
{
	const char *a0 = arg_at(p->args, p->args_len, 0);

	return a0 && !strcmp(base(a0), "busybox") &&
	       !strcmp(base(p->binary), "busybox") ? 2 : 1;
}

static bool listed(const char (*list)[64], int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

static bool is_shell(const struct det_config *c, const char *tool)
{
	return listed(c->shells, c->n_shells, tool);
}

/* python3.11 is a python: a listed name, or one followed by a version */
static bool is_interpreter(const struct det_config *c, const char *tool)
{
	int i;

	for (i = 0; i < c->n_interpreters; i++) {
		size_t n = strlen(c->interpreters[i]);

		if (!strncmp(tool, c->interpreters[i], n) &&
		    (!tool[n] || strspn(tool + n, "0123456789.") == strlen(tool + n)))
			return true;
	}
	return false;
}

/*
 * A shell or interpreter that reads its commands from its stdin: no
 * script operand, no command string (-c; interpreters also -e, -m, -r,
 * -E), or -i / -s / "-" asked for it. `sh -c '...'` in a CGI and
 * `python3 app.py` are not; `sh`, `bash -i`, `python3` are.
 */
static bool reads_commands(const struct det_config *c, const struct dproc *p)
{
	bool interp = is_interpreter(c, p->tool), shell = is_shell(c, p->tool);
	int i = first_operand(p);
	const char *a;

	if (!shell && !interp)
		return false;
	for (; (a = arg_at(p->args, p->args_len, i)); i++) {
		if (!strcmp(a, "-i") || !strcmp(a, "-s") || !strcmp(a, "-"))
			return true;
		if (a[0] != '-' || !strcmp(a, "--"))
			return false; /* a script file */
		if (shell && a[1] != '-' && strchr(a + 1, 'c'))
			return false; /* -c, -ec, -xc... */
		if (interp && (!strcmp(a, "-c") || !strcmp(a, "-e") ||
			       !strcmp(a, "-E") || !strcmp(a, "-m") ||
			       !strcmp(a, "-r") || !strcmp(a, "--eval") ||
			       !strcmp(a, "--command") || !strcmp(a, "-f")))
			return false;
		if (shell && (!strcmp(a, "-o") || !strcmp(a, "-O") ||
			      !strcmp(a, "--rcfile") || !strcmp(a, "--init-file")))
			i++; /* takes a value */
	}
	return true;
}

static bool rule_on(const struct detect *d, int rule, const struct dpod *pod,
		    const struct dproc *p)
{
	return d->cfg->rule[rule].enabled &&
	       !config_allowed(d->cfg->allow, d->cfg->n_allow, rule, pod->ns,
			       pod->name, p ? p->binary : NULL);
}

static void channel_of(struct dchannel *ch, const struct ps_fd_fact *x,
		       __u64 ktime)
{
	ch->known = true;
	ch->family = x->family;
	ch->proto = x->proto;
	ch->addr = x->raddr;
	ch->port = ntohs(x->rport);
	ch->laddr = x->laddr;
	ch->lport = ntohs(x->lport);
	ch->ktime = ktime;
}

static bool fact_net(const struct ps_fd_fact *x)
{
	return x->kind == PS_FD_SOCKET && (x->family == 2 || x->family == 10) &&
	       x->rport;
}

/* Whether an argument of p is one of opts (exact), or starts with one of
 * prefixes (case-insensitive): "exec:", "system:" of socat. */
static bool has_arg(const struct dproc *p, const char *const *opts,
		    const char *const *prefixes)
{
	const char *a;
	int i, j;

	for (i = first_operand(p); (a = arg_at(p->args, p->args_len, i)); i++) {
		for (j = 0; opts && opts[j]; j++)
			if (!strcmp(a, opts[j]))
				return true;
		for (j = 0; prefixes && prefixes[j]; j++)
			if (!strncasecmp(a, prefixes[j], strlen(prefixes[j])))
				return true;
	}
	return false;
}

/* The words of a command line that connect a shell to the network:
 * never proof (the kernel's facts are), but what a person reading the
 * alert wants to see. */
static const char *idiom_of(const struct dproc *p)
{
	static const char *const nc_exec[] = { "-e", "-c", "--exec", "--sh-exec",
					       "--lua-exec", NULL };
	static const char *const socat_exec[] = { "exec:", "system:", NULL };
	const char *t = p->tool;
	__u32 i;

	for (i = 0; p->args && i + 9 <= p->args_len; i++)
		if (!memcmp(p->args + i, "/dev/tcp/", 9) ||
		    !memcmp(p->args + i, "/dev/udp/", 9))
			return "/dev/tcp redirection";
	if ((!strcmp(t, "nc") || !strcmp(t, "ncat") || !strcmp(t, "netcat")) &&
	    has_arg(p, nc_exec, NULL))
		return "nc -e";
	if (!strcmp(t, "socat") && has_arg(p, NULL, socat_exec))
		return "socat exec";
	return NULL;
}

void ev_brief_w(struct jw *w, const char *key, const struct dproc *p)
{
	if (p->brief)
		jw_raw(w, key, p->brief, p->brief_len);
	else
		jw_raw(w, key, "null", 4);
}

static void addr_w(struct detect *d, struct jw *w, const char *key,
		   __u8 family, const union ps_addr *a, int port)
{
	char ip[INET6_ADDRSTRLEN];
	__u32 netns;

	jw_obj(w, key);
	record_ip_fmt(family == 10 ? 10 : 2, a->b, ip);
	jw_str(w, "ip", ip);
	if (port > 0)
		jw_int(w, "port", port);
	netns = record_ip_netns(d->o.rc, family == 10 ? 10 : 2, a->b);
	if (netns)
		record_pod_brief_w(d->o.rc, w, "pod", netns);
	jw_obj_end(w);
}

void ev_channel_w(struct detect *d, struct jw *w, const char *key,
		  const struct dproc *fh)
{
	char pbuf[16];

	if (!fh->channel.known)
		return;
	jw_obj(w, key);
	jw_str(w, "protocol", ip_proto_name(fh->channel.proto, pbuf, sizeof(pbuf)));
	addr_w(d, w, "remote", fh->channel.family, &fh->channel.addr,
	       fh->channel.port);
	addr_w(d, w, "local", fh->channel.family, &fh->channel.laddr,
	       fh->channel.lport);
	jw_obj_end(w);
}

/* The channel as a connection of the evidence (it was opened before the
 * foothold was found: the kernel's facts at its exec name it). */
static void ev_channel_conn_w(struct detect *d, struct jw *w,
			      const struct dproc *fh, const struct dpod *pod)
{
	char t[64], pbuf[16];

	if (!fh->channel.known)
		return;
	jw_obj(w, NULL);
	jw_str(w, "source", "stdio");
	record_time_fmt(d->o.rc, fh->channel.ktime, t, sizeof(t));
	jw_str(w, "time", t);
	jw_str(w, "protocol", ip_proto_name(fh->channel.proto, pbuf, sizeof(pbuf)));
	addr_w(d, w, "src", fh->channel.family, &fh->channel.laddr, fh->channel.lport);
	addr_w(d, w, "dst", fh->channel.family, &fh->channel.addr, fh->channel.port);
	det_exec_id_fmt(d, &fh->id, t, sizeof(t));
	jw_str(w, "exec_id", t);
	jw_bool(w, "channel", true);
	jw_obj_end(w);
}

void ev_conn_w(struct detect *d, struct jw *w, const char *key,
	       const struct dconn *c, __u64 ktime)
{
	char t[64];

	jw_obj(w, key);
	jw_str(w, "source", c->from_flow ? "flow" : "notice");
	record_time_fmt(d->o.rc, ktime, t, sizeof(t));
	jw_str(w, "time", t);
	jw_str(w, "protocol", c->proto);
	jw_obj(w, "src");
	if (c->src_ip)
		jw_str(w, "ip", c->src_ip);
	if (c->src_port)
		jw_int(w, "port", c->src_port);
	record_pod_brief_w(d->o.rc, w, "pod", c->pod->netns);
	jw_obj_end(w);
	jw_obj(w, "dst");
	jw_str(w, "ip", c->dst_ip);
	if (c->dst_port)
		jw_int(w, "port", c->dst_port);
	if (c->dst_netns)
		record_pod_brief_w(d->o.rc, w, "pod", c->dst_netns);
	jw_obj_end(w);
	if (c->proc) {
		det_exec_id_fmt(d, &c->proc->id, t, sizeof(t));
		jw_str(w, "exec_id", t);
	}
	if (c->refused)
		jw_bool(w, "refused", true);
	if (c->from_flow && c->rec && c->rec->verdict)
		jw_str(w, "verdict", c->rec->verdict);
	jw_obj_end(w);
}

/* "httpd → sh → nc" from the tree root to p */
static void chain_fmt(struct detect *d, struct dproc *p, char *out, size_t len)
{
	const char *names[16];
	int n = 0, used = 0;

	for (; p && n < 16; p = det_parent(d, p)) {
		names[n++] = p->tool;
		if (p->first || p->exec_into)
			break;
	}
	out[0] = 0;
	while (n-- > 0 && used < (int)len)
		used += snprintf(out + used, len - used, "%s%s", out[0] ? " → " : "",
				 names[n]);
}

static void channel_fmt(const struct dchannel *ch, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!ch->known) {
		det_fmt(out, len, "no network channel");
		return;
	}
	record_ip_fmt(ch->family == 10 ? 10 : 2, ch->addr.b, ip);
	det_fmt(out, len, ch->family == 10 ? "[%s]:%u" : "%s:%u", ip, ch->port);
}

static void verdict_init(struct verdict *v, int rule, struct dpod *pod,
			 struct dproc *p, struct dproc *tree)
{
	memset(v, 0, sizeof(*v));
	v->rule = rule;
	v->pod = pod;
	v->proc = p;
	v->tree = tree;
	jw_obj(&v->evidence, NULL);
}

/* ---- exec rules ---- */

/* A shell on the network: what its stdio is, from the kernel. Returns
 * true and fills the channel when it is one. */
static bool shell_on_network(struct detect *d, struct dproc *p)
{
	__u8 k0 = p->stdio[0].kind;

	if (p->procfs || !reads_commands(d->cfg, p))
		return false;
	if ((p->exec_flags & PS_EXEC_STDIO_NET) && fact_net(&p->stdio[0])) {
		channel_of(&p->channel, &p->stdio[0], p->ktime);
		det_fmt(dproc_why(p), DET_WHY, "%s reads its commands from a %s socket (stdin and stdout)",
			p->tool, p->stdio[0].proto == 17 ? "UDP" : "TCP");
		return true;
	}
	if ((p->exec_flags & PS_EXEC_PARENT_NET) && fact_net(&p->parent_sock) &&
	    (k0 == PS_FD_PTY || k0 == PS_FD_PIPE ||
	     (k0 == PS_FD_SOCKET && p->stdio[0].family == 1))) {
		channel_of(&p->channel, &p->parent_sock, p->ktime);
		det_fmt(dproc_why(p), DET_WHY, "%s reads its commands from a %s its parent relays to a %s socket",
			p->tool, k0 == PS_FD_PTY ? "pty" : k0 == PS_FD_PIPE ? "pipe" : "socket pair",
			p->parent_sock.proto == 17 ? "UDP" : "TCP");
		return true;
	}
	return false;
}

/* No operand: what it runs comes from its stdin, not from a file or an
 * argument (options only, as a shell started bare). */
static bool no_operands(const struct dproc *p)
{
	const char *a;
	int i;

	for (i = first_operand(p); (a = arg_at(p->args, p->args_len, i)); i++)
		if (a[0] != '-')
			return false;
	return true;
}

static bool on_socket(const struct ps_fd_fact *x, __u64 ino)
{
	return x->kind == PS_FD_SOCKET && x->ino == ino;
}

/*
 * A program on the network that runs what it is sent: started with no
 * operand on a connected socket (stdin and stdout), it runs a child on
 * that very socket (its stdin or its stdout: the command typed over the
 * channel, its output sent back). That is a shell whatever its name: a
 * renamed copy, a dropped binary. A handler of an inetd-style service
 * runs a script or has arguments; a web server's child runs on pipes.
 */
static struct dproc *session_of(struct detect *d, struct dproc *p)
{
	struct dproc *pp = det_parent(d, p);

	if (!pp || pp->pid == p->pid || pp->procfs || p->procfs ||
	    !(pp->exec_flags & PS_EXEC_STDIO_NET) || !fact_net(&pp->stdio[0]) ||
	    !no_operands(pp) ||
	    !(on_socket(&p->stdio[0], pp->stdio[0].ino) ||
	      on_socket(&p->stdio[1], pp->stdio[0].ino)))
		return NULL;
	channel_of(&pp->channel, &pp->stdio[0], pp->ktime);
	det_fmt(dproc_why(pp), DET_WHY, "%s on a %s socket (stdin and stdout) runs %s on that socket",
		pp->tool, pp->stdio[0].proto == 17 ? "UDP" : "TCP", p->tool);
	return pp;
}

static void reverse_shell(struct detect *d, struct dpod *pod, struct dproc *p,
			  __u64 now, verdict_fn emit)
{
	struct dproc *pp = det_parent(d, p);
	const char *idiom = idiom_of(p);
	struct verdict v;
	char ch[96], chain[512];

	verdict_init(&v, RULE_REVERSE_SHELL, pod, p, det_tree_root(d, p));
	/* nc -e, socat: the parent that put the shell on its socket */
	if (!idiom && pp)
		idiom = idiom_of(pp);
	channel_fmt(&p->channel, ch, sizeof(ch));
	chain_fmt(d, p, chain, sizeof(chain));
	det_fmt(v.summary, sizeof(v.summary),
		"Reverse shell in pod %s: %s (%s), the channel is %s%s%s.",
		pod->key, dproc_why_text(p), chain, ch, idiom ? "; command line: " : "",
		idiom ? idiom : "");
	ev_brief_w(&v.evidence, "exec", p);
	jw_obj(&v.evidence, "stdio");
	record_fd_fact_w(&v.evidence, "stdin", &p->stdio[0]);
	record_fd_fact_w(&v.evidence, "stdout", &p->stdio[1]);
	if (p->exec_flags & PS_EXEC_PARENT_NET)
		record_fd_fact_w(&v.evidence, "parent_socket", &p->parent_sock);
	jw_obj_end(&v.evidence);
	ev_channel_w(d, &v.evidence, "channel", p);
	if (idiom)
		jw_str(&v.evidence, "idiom", idiom);
	emit(d, &v, now);
}

static void network_tool(struct detect *d, struct dpod *pod, struct dproc *p,
			 __u64 now, verdict_fn emit)
{
	struct verdict v;
	char args[320];
	__u32 i;

	for (i = 0; p->args && i < p->args_len && i < sizeof(args) - 1; i++)
		args[i] = p->args[i] ? p->args[i] : ' ';
	while (i > 0 && args[i - 1] == ' ')
		i--;
	args[i] = 0;
	verdict_init(&v, RULE_NETWORK_TOOL, pod, p, det_tree_root(d, p));
	det_fmt(v.summary, sizeof(v.summary), "Network tool %s ran in pod %s: \"%.300s\".",
		p->tool, pod->key, args);
	/* a loop (health checks) runs the same command in new trees: one
	 * alert per pod and command line, its repeats counted */
	v.pod_wide = true;
	det_fmt(v.target, sizeof(v.target), "%s", args);
	ev_brief_w(&v.evidence, "exec", p);
	emit(d, &v, now);
}

void rules_exec(struct detect *d, struct dpod *pod, struct dproc *p, __u64 now,
		verdict_fn emit)
{
	struct dproc *fh = det_foothold_of(d, p, now), *sess;

	/* inside a foothold's tree, a shell or tool is part of its story */
	if (!fh && rule_on(d, RULE_REVERSE_SHELL, pod, p) && shell_on_network(d, p)) {
		det_foothold(d, pod, p, RULE_REVERSE_SHELL, now);
		reverse_shell(d, pod, p, now, emit);
		fh = p;
	}
	if (!fh && (sess = session_of(d, p)) &&
	    rule_on(d, RULE_REVERSE_SHELL, pod, sess)) {
		det_foothold(d, pod, sess, RULE_REVERSE_SHELL, now);
		reverse_shell(d, pod, sess, now, emit);
		fh = sess;
	}
	/* a tool a foothold's tree runs is in that tree's alerts already */
	if (!fh && listed(d->cfg->tools, d->cfg->n_tools, p->tool) &&
	    rule_on(d, RULE_NETWORK_TOOL, pod, p)) {
		if (d->cfg->tool_foothold)
			det_foothold(d, pod, p, RULE_NETWORK_TOOL, now);
		network_tool(d, pod, p, now, emit);
	}
	if (p->exec_into && !fh && rule_on(d, RULE_EXEC_INTO_POD, pod, p)) {
		det_fmt(dproc_why(p), DET_WHY, "%s entered the pod from another network namespace",
			p->tool);
		det_foothold(d, pod, p, RULE_EXEC_INTO_POD, now);
	}
}

/* ---- connections ---- */

void rules_peer_fmt(const struct dconn *c, char *out, size_t len)
{
	if (c->peer_pod)
		det_fmt(out, len, "pod %s:%d/%s", c->peer_pod, c->dst_port, c->proto);
	else
		det_fmt(out, len, "%s:%d/%s", c->dst_ip, c->dst_port, c->proto);
}

bool rules_sensitive(const struct det_config *cfg, const struct dconn *c)
{
	int i;

	for (i = 0; i < cfg->n_sensitive_ports; i++)
		if (c->dst_port == cfg->sensitive_ports[i])
			return true;
	for (i = 0; i < cfg->n_sensitive_addrs; i++)
		if (c->dst_ip && !strcmp(c->dst_ip, cfg->sensitive_addrs[i]))
			return true;
	return false;
}

static __u64 peer_hash(const char *s)
{
	__u64 h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* The pod's recent (tree, peer) pairs, each once (refused connections
 * each time): a bounded ring, so that counting is linear. */
static void scan_add(struct dpod *pod, const struct ps_exec_id *tree,
		     __u64 ph, bool refused, __u64 now)
{
	int n, i;

	if (!pod->scan && !(pod->scan = calloc(DET_SCAN, sizeof(*pod->scan))))
		return;
	n = pod->nscan < DET_SCAN ? pod->nscan : DET_SCAN;
	for (i = 0; !refused && i < n; i++) {
		struct dscan *s = &pod->scan[i];

		if (!s->refused && s->peer_hash == ph && s->tree.ktime == tree->ktime &&
		    s->tree.pid == tree->pid) {
			s->ns = now;
			return;
		}
	}
	pod->scan[pod->nscan++ % DET_SCAN] = (struct dscan){
		.ns = now, .tree = *tree, .peer_hash = ph, .refused = refused,
	};
}

static int scan_count(const struct detect *d, const struct dpod *pod,
		      const struct ps_exec_id *tree, bool refused, __u64 now)
{
	int n = pod->nscan < DET_SCAN ? pod->nscan : DET_SCAN, i, count = 0;

	for (i = 0; pod->scan && i < n; i++) {
		const struct dscan *s = &pod->scan[i];

		count += now - s->ns <= d->cfg->scan_ns && s->refused == refused &&
			 s->tree.ktime == tree->ktime && s->tree.pid == tree->pid;
	}
	return count;
}

static void learn_dst(struct dpod *pod, const struct dconn *c)
{
	int i;

	for (i = 0; i < pod->nlearned; i++)
		if (pod->learned[i].port == c->dst_port &&
		    pod->learned[i].family == c->family &&
		    !memcmp(&pod->learned[i].addr, &c->dst_addr, sizeof(c->dst_addr)))
			return;
	if (pod->nlearned >= DET_LEARNED || !c->proto_num)
		return;
	pod->learned[i].addr = c->dst_addr;
	pod->learned[i].family = c->family;
	pod->learned[i].proto = c->proto_num;
	pod->learned[i].port = c->dst_port;
	pod->nlearned++;
}

static void conn_verdict(struct detect *d, struct verdict *v, struct dconn *c,
			 __u64 now, verdict_fn emit)
{
	jw_arr(&v->evidence, "connections");
	ev_conn_w(d, &v->evidence, NULL, c, c->rec ? c->rec->ktime : now);
	jw_arr_end(&v->evidence);
	v->conn = c;
	emit(d, v, now);
}

static bool is_channel(const struct dproc *fh, const struct dconn *c)
{
	const struct dchannel *ch = &fh->channel;

	return ch->known && ch->port == c->dst_port && ch->family == c->family &&
	       !memcmp(&ch->addr, &c->dst_addr, ch->family == AF_INET ? 4 : 16);
}

static void lateral(struct detect *d, struct dpod *pod, struct dconn *c,
		    struct dproc *fh, struct dproc *ap, struct dproc *tree,
		    __u64 now, verdict_fn emit)
{
	struct verdict v;
	char chain[512], ch[96], t[64];

	verdict_init(&v, RULE_LATERAL, pod, ap, tree);
	/* one alert per tree and target: the pod, or the address */
	det_fmt(v.target, sizeof(v.target), "%s", c->peer_pod ? c->peer_pod : c->dst_ip);
	chain_fmt(d, ap, chain, sizeof(chain));
	channel_fmt(&fh->channel, ch, sizeof(ch));
	det_fmt(v.summary, sizeof(v.summary),
		"Lateral movement from pod %s: after a %s foothold (%s; %s, channel %s) the same process tree connected to %s.",
		pod->key, det_rule_names[fh->foothold], chain, dproc_why_text(fh), ch, c->peer);
	jw_obj(&v.evidence, "foothold");
	jw_str(&v.evidence, "rule", det_rule_names[fh->foothold]);
	ev_brief_w(&v.evidence, "process", fh);
	ev_channel_w(d, &v.evidence, "channel", fh);
	if (fh->channel.known)
		jw_str(&v.evidence, "remote", ch);
	jw_str(&v.evidence, "why", dproc_why_text(fh));
	record_time_fmt(d->o.rc, fh->foothold_ns, t, sizeof(t));
	jw_str(&v.evidence, "found", t);
	jw_obj_end(&v.evidence);
	ev_brief_w(&v.evidence, "exec", fh);
	if (pod->quarantined_ns)
		jw_str(&v.evidence, "enforced",
		       "pod quarantined: new east-west packets dropped by XDP");
	jw_arr(&v.evidence, "connections");
	ev_channel_conn_w(d, &v.evidence, fh, pod);
	ev_conn_w(d, &v.evidence, NULL, c, c->rec ? c->rec->ktime : now);
	jw_arr_end(&v.evidence);
	jw_arr(&v.evidence, "hops");
	ev_conn_w(d, &v.evidence, NULL, c, c->rec ? c->rec->ktime : now);
	jw_arr_end(&v.evidence);
	v.conn = c;
	emit(d, &v, now);
}

void rules_connection(struct detect *d, struct dpod *pod, struct dconn *c,
		      __u64 now, verdict_fn emit)
{
	struct dproc *p = c->proc, *fh, *ap, *tree;
	bool learning = det_pod_learning(d, pod, now), ch;
	struct ps_exec_id troot = {};
	char bpeer[DET_KEY + 320];
	struct verdict v;
	int n;

	fh = p ? det_foothold_of(d, p, now) : det_pod_foothold(d, pod, now);
	ap = p ? p : fh;
	tree = ap ? det_tree_root(d, ap) : det_proc(d, &pod->first_exec);
	if (tree)
		troot = tree->id;
	ch = fh && is_channel(fh, c);

	if (c->internal)
		scan_add(pod, &troot, peer_hash(c->peer), c->refused, now);
	if (c->internal && rule_on(d, RULE_INTERNAL_SCAN, pod, ap)) {
		n = scan_count(d, pod, &troot, c->refused, now);
		if (n >= (int)(c->refused ? d->cfg->scan_refused : d->cfg->scan_peers)) {
			verdict_init(&v, RULE_INTERNAL_SCAN, pod, ap, tree);
			det_fmt(v.summary, sizeof(v.summary),
				"Internal scan from pod %s: one process tree%s%s %s %d %s within %.0f s.",
				pod->key, ap ? " of " : "", ap ? ap->tool : "",
				c->refused ? "had" : "contacted", n,
				c->refused ? "refused connections" : "distinct internal address:port pairs",
				d->cfg->scan_ns / 1e9);
			conn_verdict(d, &v, c, now, emit);
		}
	}
	/* a foothold's tree trying other pods is moving, refused or not */
	if (c->refused) {
		if (fh && c->internal && !ch && rule_on(d, RULE_LATERAL, pod, ap))
			lateral(d, pod, c, fh, ap, tree, now, emit);
		return;
	}

	/* the learning window is the allow-list: what the pod does in it is
	 * its normal traffic, sensitive services included, per binary */
	det_fmt(bpeer, sizeof(bpeer), "%s@%s", p ? p->binary : "?", c->peer);
	if (learning && !fh) {
		if (c->internal) {
			det_baseline_add(d, pod, c->peer);
			learn_dst(pod, c);
		}
		if (rules_sensitive(d->cfg, c))
			det_baseline_add(d, pod, bpeer);
	} else if (c->internal && det_baseline_has(pod, c->peer)) {
		learn_dst(pod, c);
	}
	if (!learning && c->internal && !det_baseline_has(pod, c->peer) &&
	    rule_on(d, RULE_NEW_PEER, pod, ap)) {
		verdict_init(&v, RULE_NEW_PEER, pod, ap, tree);
		det_fmt(v.summary, sizeof(v.summary),
			"Pod %s connected to %s, a peer it did not contact during its learning window.",
			pod->key, c->peer);
		conn_verdict(d, &v, c, now, emit);
	}
	if (rules_sensitive(d->cfg, c) && (!learning || fh) &&
	    !det_baseline_has(pod, bpeer) && rule_on(d, RULE_SENSITIVE, pod, ap) &&
	    !config_allowed(d->cfg->sensitive_allow, d->cfg->n_sensitive_allow,
			    RULE_SENSITIVE, pod->ns, pod->name, ap ? ap->binary : NULL)) {
		verdict_init(&v, RULE_SENSITIVE, pod, ap, tree);
		det_fmt(v.summary, sizeof(v.summary),
			"Pod %s%s%s connected to the sensitive service %s, which %s did not use while the pod learned.",
			pod->key, ap ? " process " : "", ap ? ap->tool : "", c->peer,
			ap ? "this binary" : "it");
		conn_verdict(d, &v, c, now, emit);
	}
	if (fh && fh->foothold == RULE_EXEC_INTO_POD && c->internal && !ch &&
	    rule_on(d, RULE_EXEC_INTO_POD, pod, ap)) {
		struct dproc *root = det_tree_root(d, fh);

		verdict_init(&v, RULE_EXEC_INTO_POD, pod, ap, root);
		det_fmt(v.summary, sizeof(v.summary),
			"A process entered pod %s from outside its network namespace (%s) and its tree connected to %s.",
			pod->key, fh->tool, c->peer);
		conn_verdict(d, &v, c, now, emit);
	}
	if (fh && c->internal && !ch && rule_on(d, RULE_LATERAL, pod, ap))
		lateral(d, pod, c, fh, ap, tree, now, emit);
}
