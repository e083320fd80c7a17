// SPDX-License-Identifier: GPL-2.0-only
/*
 * The seven detection rules. Exec rules mark footholds (reverse shell,
 * network tool, exec into the pod); connection rules look at each new
 * connection of a pod, attributed to its process tree (the process when
 * the record names it, else the pod's most recent foothold tree within
 * the chain window), and a foothold followed by an east-west connection
 * of the same tree is the lateral-movement chain.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "node/detect/detect_int.h"

static const char *const shells[] = { "sh", "bash", "dash", "ash", "zsh",
				      "ksh", "mksh", "csh", "tcsh", "fish" };
static const char *const interpreters[] = { "python", "python2", "python3",
					    "perl", "ruby", "php", "node",
					    "lua" };

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

#define IN(list, s) in_list(list, sizeof(list) / sizeof(list[0]), s)

void rules_tool_name(const char *binary, const char *argv0, const char *argv1,
		     char *out, size_t len)
{
	const char *b = base(binary);

	if (!strcmp(b, "busybox")) {
		b = base(argv0);
		if (!strcmp(b, "busybox") || !b[0])
			b = base(argv1);
	}
	det_fmt(out, len, "%s", b);
}

/* Whole-word argument (" -e ", at the start or the end). */
static bool has_arg(const char *args, const char *arg)
{
	size_t n = strlen(arg);
	const char *s = args;

	while ((s = strstr(s, arg))) {
		if ((s == args || s[-1] == ' ') && (s[n] == ' ' || !s[n]))
			return true;
		s += n;
	}
	return false;
}

static bool is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static bool is_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && !*end && v > 0 && v < 65536;
}

/* The address:port a command line connects to: "IP PORT", "/dev/tcp/IP/PORT",
 * "tcp:IP:PORT". */
static void c2_parse(const char *args, char *out, size_t len)
{
	char buf[512], *save = NULL, *tok, *prev = NULL, *s;

	det_fmt(buf, sizeof(buf), "%s", args);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if ((s = strstr(tok, "/dev/tcp/")) || (s = strstr(tok, "/dev/udp/"))) {
			char ip[64], port[16];

			if (sscanf(s + 9, "%63[^/]/%15[0-9]", ip, port) == 2) {
				det_fmt(out, len, "%s:%s", ip, port);
				return;
			}
		}
		if (!strncasecmp(tok, "tcp", 3) && (s = strchr(tok, ':'))) {
			char ip[64], port[16];

			if (sscanf(s + 1, "%63[0-9.]:%15[0-9]", ip, port) == 2) {
				det_fmt(out, len, "%s:%s", ip, port);
				return;
			}
		}
		if (prev && is_ip(prev) && is_port(tok)) {
			det_fmt(out, len, "%s:%s", prev, tok);
			return;
		}
		prev = tok;
	}
}

/* nc -e, ncat --sh-exec, socat exec:, /dev/tcp/, python -c with socket */
static bool reverse_shell_idiom(const struct dproc *p)
{
	const char *t = p->tool;

	if (strstr(p->args, "/dev/tcp/") || strstr(p->args, "/dev/udp/"))
		return true;
	if (!strcmp(t, "nc") || !strcmp(t, "ncat") || !strcmp(t, "netcat"))
		return has_arg(p->args, "-e") || has_arg(p->args, "-c") ||
		       strstr(p->args, "--sh-exec") || strstr(p->args, "--exec") ||
		       strstr(p->args, "--lua-exec");
	if (!strcmp(t, "socat"))
		return strcasestr(p->args, "exec:") || strcasestr(p->args, "system:");
	if (IN(interpreters, t) || !strncmp(t, "python", 6))
		return (has_arg(p->args, "-c") || has_arg(p->args, "-e") ||
			has_arg(p->args, "-r")) && strstr(p->args, "socket");
	return false;
}

/* A shell whose stdin, stdout or stderr is a socket. */
static bool shell_on_socket(const struct dproc *p)
{
	char path[64], target[64];
	int fd;

	if (!IN(shells, p->tool))
		return false;
	for (fd = 0; fd < 3; fd++) {
		ssize_t n;

		det_fmt(path, sizeof(path), "/proc/%u/fd/%d", p->pid, fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			if (!strncmp(target, "socket:", 7))
				return true;
		}
	}
	return false;
}

static bool tool_listed(const struct det_config *c, const char *tool)
{
	int i;

	for (i = 0; i < c->n_tools; i++)
		if (!strcmp(c->tools[i], tool))
			return true;
	return false;
}

static bool rule_on(const struct detect *d, int rule, const struct dpod *pod,
		    const struct dproc *p)
{
	return d->cfg->rule[rule].enabled && !det_allowed(d, rule, pod, p);
}

static void foothold_mark(struct detect *d, struct dpod *pod, struct dproc *p,
			  int rule, __u64 now)
{
	if (p->foothold < 0) {
		p->foothold = rule;
		p->foothold_ns = now;
		det_mark_tree(d, p);
	}
	d->last_foothold_ns = now;
	det_pod_add_foothold(pod, p);
	/* the rule's action is deny: no new east-west destinations */
	if (d->cfg->rule[rule].action == ACTION_DENY &&
	    enforce_quarantine(d, pod, now))
		fprintf(stderr, "podsentryd: pod %s quarantined after %s (%s)\n",
			pod->key, det_rule_names[rule], p->args);
}

static struct json_object *exec_evidence(struct dproc *p)
{
	struct json_object *ev = json_object_new_object(), *e = NULL;

	if (p->brief && !json_object_deep_copy(p->brief, &e, NULL))
		json_object_object_add(ev, "exec", e);
	return ev;
}

static const char *pod_name(const struct dpod *pod)
{
	return pod->key;
}

void rules_exec(struct detect *d, struct dpod *pod, struct dproc *p, __u64 now)
{
	struct dproc *tree = det_tree_root(d, p), *pp = det_parent(d, p);
	char s[1024];

	if (rule_on(d, RULE_REVERSE_SHELL, pod, p) &&
	    (reverse_shell_idiom(p) || shell_on_socket(p))) {
		c2_parse(p->args, p->c2, sizeof(p->c2));
		if (!p->c2[0] && pp && pp->pid == p->pid)
			det_fmt(p->c2, sizeof(p->c2), "%s", pp->c2);
		foothold_mark(d, pod, p, RULE_REVERSE_SHELL, now);
		det_fmt(s, sizeof(s), "Reverse shell in pod %s: \"%.300s\"%s%s%s%s.",
			 pod_name(pod), p->args, pp ? " started by " : "",
			 pp ? pp->binary : "", p->c2[0] ? " connects a shell to " : "",
			 p->c2);
		det_alert(d, RULE_REVERSE_SHELL, pod, p, tree, s, exec_evidence(p), now);
	}
	if (tool_listed(d->cfg, p->tool) && rule_on(d, RULE_NETWORK_TOOL, pod, p)) {
		if (!p->c2[0])
			c2_parse(p->args, p->c2, sizeof(p->c2));
		foothold_mark(d, pod, p, RULE_NETWORK_TOOL, now);
		det_fmt(s, sizeof(s), "Network tool %s ran in pod %s: \"%.300s\".",
			 p->tool, pod_name(pod), p->args);
		det_alert(d, RULE_NETWORK_TOOL, pod, p, tree, s, exec_evidence(p), now);
	}
	if (p->exec_into && rule_on(d, RULE_EXEC_INTO_POD, pod, p))
		foothold_mark(d, pod, p, RULE_EXEC_INTO_POD, now);
}

/* The rule's action is deny: drop this destination (enforcing pods). */
static void deny_if(struct detect *d, int rule, struct dpod *pod,
		    const struct dconn *c, __u64 now)
{
	if (d->cfg->rule[rule].action == ACTION_DENY)
		enforce_deny_conn(d, pod, c, now);
}

static void learn(struct dpod *pod, const struct dconn *c)
{
	int i;

	for (i = 0; i < pod->nlearned; i++)
		if (pod->learned[i].port == c->dst_port &&
		    !strcmp(pod->learned[i].ip, c->dst_ip))
			return;
	if (pod->nlearned >= (int)(sizeof(pod->learned) / sizeof(pod->learned[0])))
		return;
	det_fmt(pod->learned[i].ip, sizeof(pod->learned[i].ip), "%s", c->dst_ip);
	pod->learned[i].port = c->dst_port;
	pod->learned[i].proto = !strcmp(c->proto, "udp") ? 17 : 6;
	pod->nlearned++;
}

/* ---- connections ---- */

/* The pod's recent (tree, peer) pairs, each once (refused connections
 * each time): a bounded ring, so that counting is linear. */
static void seen_add(struct dpod *pod, const char *tree, const char *peer,
		     bool refused, __u64 now)
{
	int n = pod->nseen < DET_CONNS ? pod->nseen : DET_CONNS, i;
	struct dconn_seen *s;

	for (i = 0; !refused && i < n; i++) {
		s = &pod->seen[i];
		if (!s->refused && !strcmp(s->peer, peer) && !strcmp(s->tree, tree)) {
			s->ns = now;
			return;
		}
	}
	s = &pod->seen[pod->nseen++ % DET_CONNS];

	s->ns = now;
	s->refused = refused;
	det_fmt(s->tree, sizeof(s->tree), "%s", tree);
	det_fmt(s->peer, sizeof(s->peer), "%s", peer);
}

/* Distinct peers (or refused connections) of one tree within the scan
 * interval. */
static int seen_count(const struct detect *d, const struct dpod *pod,
		      const char *tree, bool refused, __u64 now)
{
	int n = pod->nseen < DET_CONNS ? pod->nseen : DET_CONNS, i, count = 0;

	for (i = 0; i < n; i++) {
		const struct dconn_seen *s = &pod->seen[i];

		count += now - s->ns <= d->cfg->scan_ns && s->refused == refused &&
			 !strcmp(s->tree, tree);
	}
	return count;
}

static bool sensitive(const struct det_config *c, const struct dconn *cn)
{
	int i;

	for (i = 0; i < c->n_sensitive_ports; i++)
		if (cn->dst_port == c->sensitive_ports[i])
			return true;
	for (i = 0; i < c->n_sensitive_addrs; i++)
		if (cn->dst_ip && !strcmp(cn->dst_ip, c->sensitive_addrs[i]))
			return true;
	return false;
}

static struct json_object *conn_evidence(struct detect *d, struct dconn *c)
{
	struct json_object *ev = json_object_new_object(),
			   *list = json_object_new_array();

	json_object_array_add(list, json_object_get(det_conn_evidence(d, c)));
	json_object_object_add(ev, "connections", list);
	return ev;
}

void rules_peer_fmt(const struct dconn *c, char *out, size_t len)
{
	if (c->peer_pod)
		det_fmt(out, len, "pod %s:%d/%s", c->peer_pod, c->dst_port, c->proto);
	else
		det_fmt(out, len, "%s:%d/%s", c->dst_ip, c->dst_port, c->proto);
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

static void lateral(struct detect *d, struct dpod *pod, struct dconn *c,
		    struct dproc *fh, struct dproc *ap, struct dproc *tree,
		    const char *peer, __u64 now)
{
	struct json_object *ev = json_object_new_object(), *f = json_object_new_object(),
			   *conns = json_object_new_array(), *e = NULL;
	struct dproc *up;
	char chain[512], s[1024];
	size_t i;

	json_object_object_add(f, "rule", json_object_new_string(det_rule_names[fh->foothold]));
	if (fh->brief && !json_object_deep_copy(fh->brief, &e, NULL))
		json_object_object_add(f, "process", e);
	if (fh->c2[0])
		json_object_object_add(f, "remote", json_object_new_string(fh->c2));
	json_object_object_add(ev, "foothold", f);
	if (pod->quarantined_ns)
		json_object_object_add(ev, "enforced", json_object_new_string(
			"pod quarantined: new east-west packets dropped by XDP"));
	e = NULL;
	if (fh->brief && !json_object_deep_copy(fh->brief, &e, NULL))
		json_object_object_add(ev, "exec", e);
	/* the channel the foothold opened (every foothold up the tree) */
	for (up = ap; up; up = up->first || up->exec_into ? NULL : det_parent(d, up))
		for (i = 0; up->c2_conns && i < json_object_array_length(up->c2_conns); i++)
			json_object_array_add(conns, json_object_get(
				json_object_array_get_idx(up->c2_conns, i)));
	json_object_array_add(conns, json_object_get(det_conn_evidence(d, c)));
	json_object_object_add(ev, "connections", conns);
	chain_fmt(d, ap, chain, sizeof(chain));
	det_fmt(s, sizeof(s), "Lateral movement from pod %s: after a %s foothold (%s%s%s) the same process tree connected to %s.",
		 pod_name(pod), det_rule_names[fh->foothold], chain,
		 fh->c2[0] ? ", remote " : "", fh->c2, peer);
	det_alert(d, RULE_LATERAL, pod, ap, tree, s, ev, now);
}

void rules_connection(struct detect *d, struct dpod *pod, struct dconn *c,
		      __u64 now)
{
	struct dproc *p = c->proc, *fh, *ap, *tree;
	char peer[DET_KEY + 32], dst[96], tkey[DET_ID], s[1024];
	bool c2;
	int n;

	fh = p ? det_foothold_of(d, p, now) : det_pod_foothold(d, pod, now);
	ap = p ? p : fh;
	tree = ap ? det_tree_root(d, ap) : det_proc(d, pod->first_exec);
	det_fmt(tkey, sizeof(tkey), "%s", tree ? tree->id : "pod");
	rules_peer_fmt(c, peer, sizeof(peer));
	det_fmt(dst, sizeof(dst), "%s:%d", c->dst_ip, c->dst_port);
	c2 = fh && fh->c2[0] && !strcmp(fh->c2, dst);
	if (c2 && !c->refused) {
		if (!fh->c2_conns)
			fh->c2_conns = json_object_new_array();
		if (json_object_array_length(fh->c2_conns) < DET_EVIDENCE)
			json_object_array_add(fh->c2_conns, json_object_get(det_conn_evidence(d, c)));
	}
	if (c->internal)
		seen_add(pod, tkey, peer, c->refused, now);

	if (c->internal && rule_on(d, RULE_INTERNAL_SCAN, pod, ap)) {
		n = seen_count(d, pod, tkey, c->refused, now);
		if (n >= (int)(c->refused ? d->cfg->scan_refused : d->cfg->scan_peers)) {
			det_fmt(s, sizeof(s), "Internal scan from pod %s: one process tree%s%s %s %d %s within %.0f s.",
				 pod_name(pod), ap ? " of " : "", ap ? ap->tool : "",
				 c->refused ? "had" : "contacted", n,
				 c->refused ? "refused connections" : "distinct internal address:port pairs",
				 d->cfg->scan_ns / 1e9);
			det_alert(d, RULE_INTERNAL_SCAN, pod, ap, tree, s,
				  conn_evidence(d, c), now);
		}
	}
	if (c->refused)
		return;

	if (c->internal && d->cfg->rule[RULE_NEW_PEER].enabled) {
		if (det_pod_learning(d, pod, now)) {
			det_baseline_add(d, pod, peer);
			learn(pod, c);
		} else if (det_baseline_has(pod, peer)) {
			learn(pod, c);
		}
		else if (!det_baseline_has(pod, peer) &&
			 !det_allowed(d, RULE_NEW_PEER, pod, ap)) {
			det_fmt(s, sizeof(s), "Pod %s connected to %s, a peer it did not contact during its learning window.",
				 pod_name(pod), peer);
			det_alert(d, RULE_NEW_PEER, pod, ap, tree, s, conn_evidence(d, c), now);
			deny_if(d, RULE_NEW_PEER, pod, c, now);
		}
	}
	if (sensitive(d->cfg, c) && rule_on(d, RULE_SENSITIVE, pod, ap) &&
	    !config_allowed(d->cfg->sensitive_allow, d->cfg->n_sensitive_allow,
			    RULE_SENSITIVE, pod->ns, pod->name, ap ? ap->binary : NULL)) {
		det_fmt(s, sizeof(s), "Pod %s%s%s connected to the sensitive service %s without being an allowed client.",
			 pod_name(pod), ap ? " process " : "", ap ? ap->tool : "", peer);
		det_alert(d, RULE_SENSITIVE, pod, ap, tree, s, conn_evidence(d, c), now);
		deny_if(d, RULE_SENSITIVE, pod, c, now);
	}
	if (fh && tree && tree->exec_into && c->internal && !c2 &&
	    rule_on(d, RULE_EXEC_INTO_POD, pod, ap)) {
		det_fmt(s, sizeof(s), "A process entered pod %s from outside its network namespace (\"%.200s\") and its tree connected to %s.",
			 pod_name(pod), tree->args, peer);
		det_alert(d, RULE_EXEC_INTO_POD, pod, ap, tree, s, conn_evidence(d, c), now);
		deny_if(d, RULE_EXEC_INTO_POD, pod, c, now);
	}
	if (fh && c->internal && !c2 && rule_on(d, RULE_LATERAL, pod, ap)) {
		deny_if(d, RULE_LATERAL, pod, c, now);
		lateral(d, pod, c, fh, ap, tree, peer, now);
	}
}
