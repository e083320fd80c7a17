// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "podsentry.h"
#include "cni/args.h"
#include "cni/shared/attach.h"
#include "cni/cmd.h"
#include "cni/conf.h"
#include "cni/log.h"
#include "cni/shared/pod.h"
#include "cni/result.h"
#include "cni/shared/addr.h"
#include "cni/shared/jsonparse.h"
#include "cni/shared/state.h"

struct cmd {
	const struct cni_env *env;
	struct cni_conf conf;
	struct cni_args args;
	struct cni_log log;
	struct cni_err *e;
	FILE *out;
	/* the environment and the pod's name as log values (log_val) */
	char l_cmd[96], l_cid[4 * 80], l_ifname[4 * IFNAMSIZ + 8];
	char pod[4 * 64 + 1 + 4 * 256]; /* namespace/name */
	char err[POD_ERR_LEN];
};

/* The log values of the environment (every one may be anything). */
static void cmd_log_values(struct cmd *c)
{
	log_val(c->l_cmd, sizeof(c->l_cmd), c->env->command);
	log_val(c->l_cid, sizeof(c->l_cid), c->env->container_id);
	log_val(c->l_ifname, sizeof(c->l_ifname), c->env->ifname);
	snprintf(c->pod, sizeof(c->pod), "-");
}

/* "namespace/name" (or the name alone) of the pod as one log value. */
static void pod_label(struct cmd *c, const char *ns, const char *name)
{
	/* escaped, a byte takes at most 4 */
	char a[4 * sizeof(c->args.pod_namespace)], b[4 * 256];

	log_val(a, sizeof(a), ns);
	log_val(b, sizeof(b), name);
	snprintf(c->pod, sizeof(c->pod), "%s%s%s", ns[0] ? a : "",
		 ns[0] ? "/" : "", b);
}

void cni_env_get(struct cni_env *env)
{
	env->command = getenv("CNI_COMMAND");
	env->container_id = getenv("CNI_CONTAINERID");
	env->netns = getenv("CNI_NETNS");
	env->ifname = getenv("CNI_IFNAME");
	env->args = getenv("CNI_ARGS");
	env->path = getenv("CNI_PATH");
}

static int json_print(FILE *out, json_object *o)
{
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return fflush(out) ? -1 : 0;
}

/* ---- environment ---- */

/* CNI spec: alphanumeric first, then alphanumerics, '_', '.', '-'. */
static bool container_id_valid(const char *s)
{
	if (!isalnum((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

static bool ifname_valid(const char *s)
{
	if (!s[0] || strlen(s) >= IFNAMSIZ || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s))
			return false;
	return true;
}

/* The variables a command needs: id and ifname always, netns unless
 * need_netns is false (DEL may come without it). An ADD's id must leave
 * room for its state file's name; DEL and CHECK take any id that has
 * room in struct pod_state, to find what an earlier version wrote. */
static int env_check(struct cmd *c, bool need_netns, bool add)
{
	const struct cni_env *env = c->env;
	size_t max = add ? STATE_CID_MAX : sizeof(((struct pod_state *)0)->container_id) - 1;
	char q[CNI_ESC_LEN];
	size_t n;

	if (!env->container_id || !env->container_id[0])
		return cni_fail(c->e, CNI_ERR_ENV, "CNI_CONTAINERID is not set");
	n = strlen(env->container_id);
	if (n > max)
		return cni_fail(c->e, CNI_ERR_ENV,
				"CNI_CONTAINERID is %zu bytes long, at most %zu (its state file name \"<id>:<ifname>.json\" must fit %d bytes)",
				n, max, NAME_MAX);
	if (!container_id_valid(env->container_id))
		return cni_fail(c->e, CNI_ERR_ENV,
				"CNI_CONTAINERID \"%s\" is not a valid container id (letters, digits, '_', '.', '-', a letter or digit first)",
				cni_esc(q, env->container_id, n));
	if (!env->ifname || !env->ifname[0])
		return cni_fail(c->e, CNI_ERR_ENV, "CNI_IFNAME is not set");
	if (!ifname_valid(env->ifname))
		return cni_fail(c->e, CNI_ERR_ENV,
				"CNI_IFNAME \"%s\" is not a valid interface name",
				cni_esc(q, env->ifname, strlen(env->ifname)));
	if (need_netns && (!env->netns || !env->netns[0]))
		return cni_fail(c->e, CNI_ERR_ENV, "CNI_NETNS is not set");
	if (env->netns && env->netns[0] &&
	    strlen(env->netns) >= sizeof(((struct pod_state *)0)->netns))
		return cni_fail(c->e, CNI_ERR_ENV, "CNI_NETNS is too long");
	if (cni_args_parse(env->args, &c->args, c->e))
		return -1;
	if (c->args.pod_name[0])
		pod_label(c, c->args.pod_namespace, c->args.pod_name);
	else
		pod_label(c, "", env->container_id);
	return 0;
}

/* DEL and CHECK may come without K8S_* keys: name the pod as ADD did. */
static void pod_from_state(struct cmd *c, const struct pod_state *st)
{
	if (c->args.pod_name[0])
		return;
	pod_label(c, st->pod_namespace_raw.bytes, st->pod_name_raw.bytes);
}

static int version_at_least(struct cmd *c, const char *min)
{
	if (cni_version_cmp(c->conf.cni_version, min) >= 0)
		return 0;
	return cni_fail(c->e, CNI_ERR_VERSION,
			"config version %s does not allow %s (needs %s or later)",
			c->conf.cni_version, c->env->command, min);
}

/* ---- shared steps ---- */

static void state_init(struct cmd *c, struct pod_state *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->network, sizeof(st->network), "%s", c->conf.name);
	snprintf(st->container_id, sizeof(st->container_id), "%s",
		 c->env->container_id);
	snprintf(st->ifname, sizeof(st->ifname), "%s", c->env->ifname);
	/* Names are kept as given and in a display form (state.h): a
	 * runtime may send any bytes, and pod creation must not break. */
	STATE_NAME_SET(st, pod_namespace, c->args.pod_namespace);
	/* Without Kubernetes keys the container id names the pod. */
	STATE_NAME_SET(st, pod_name,
		       c->args.pod_name[0] ? c->args.pod_name : c->env->container_id);
	STATE_NAME_SET(st, pod_uid, c->args.pod_uid);
	STATE_NAME_SET(st, infra_id, c->args.infra_id);
	snprintf(st->netns, sizeof(st->netns), "%s", c->env->netns);
	snprintf(st->bpffs, sizeof(st->bpffs), "%s", c->conf.bpffs);
	st->xdp = c->conf.xdp;
	st->flags = PS_POD_MONITOR | (c->conf.enforce ? PS_POD_ENFORCE : 0) |
		    (c->conf.xdp ? PS_POD_XDP : 0);
	st->created = (long long)time(NULL);
}

static int find_state(const struct pod_state *all, int n, const char *cid,
		      const char *ifname)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(all[i].container_id, cid) &&
		    !strcmp(all[i].ifname, ifname))
			return i;
	return -1;
}

/* Does another attachment than st share its netns or its slot? */
static void shared_with(const struct pod_state *all, int n,
			const struct pod_state *st, bool *netns, bool *slot)
{
	int i;

	*netns = *slot = false;
	for (i = 0; i < n; i++) {
		if (!strcmp(all[i].container_id, st->container_id) &&
		    !strcmp(all[i].ifname, st->ifname))
			continue;
		*netns |= all[i].netns_ino == st->netns_ino;
		*slot |= all[i].slot == st->slot;
	}
}

/* st without what another attachment has too: the host veth (its
 * filters and pod_ifindex entry) and the addresses of another attachment
 * of the same slot (their pod_ip entries). An ADD that named another
 * pod's netns and interface must not take them away on its DEL. */
static void unshared(const struct pod_state *all, int n,
		     const struct pod_state *st, struct pod_state *mine)
{
	int i, j, k, kept = 0;

	*mine = *st;
	for (i = 0; i < n; i++) {
		if (!strcmp(all[i].container_id, st->container_id) &&
		    !strcmp(all[i].ifname, st->ifname))
			continue;
		if (all[i].host_ifindex == st->host_ifindex &&
		    !strcmp(all[i].host_ifname, st->host_ifname))
			mine->host_ifindex = 0;
	}
	for (j = 0; j < st->nips; j++) {
		for (i = 0; i < n; i++) {
			if (all[i].slot != st->slot ||
			    (!strcmp(all[i].container_id, st->container_id) &&
			     !strcmp(all[i].ifname, st->ifname)))
				continue;
			for (k = 0; k < all[i].nips &&
				    !addr_same(&all[i].ips[k], &st->ips[j]); k++)
				;
			if (k < all[i].nips)
				break;
		}
		if (i == n)
			mine->ips[kept++] = st->ips[j];
	}
	mine->nips = kept;
}

/* Undo an attachment in the kernel: programs, then map entries. */
static int teardown(struct cmd *c, const struct pins *p, struct pod_state *st,
		    const struct pod_state *all, int n)
{
	bool keep_netns, keep_slot;
	struct pod_state mine;
	char more[POD_ERR_LEN];
	int ret = 0, r;

	unshared(all, n, st, &mine);
	if (mine.host_ifindex && (st->attached || st->host_ifindex))
		ret = pod_detach(st, c->err);
	if (!p)
		return ret;
	shared_with(all, n, st, &keep_netns, &keep_slot);
	r = pod_unregister(p, &mine, keep_netns, keep_slot, ret ? more : c->err);
	return ret ? ret : r;
}

/* Fail-open: record why the pod is not watched and carry on. Fail-closed:
 * the command fails with code. */
static int degrade(struct cmd *c, struct pod_state *st, int code,
		   const char *why)
{
	if (c->conf.fail_policy == FAIL_CLOSED)
		return cni_fail(c->e, code, "%s", why);
	st->pending = true;
	st->attached = 0;
	snprintf(st->pending_reason, sizeof(st->pending_reason), "%s", why);
	log_line(&c->log, LOG_WARN,
		 "%s container=%s pod=%s ifname=%s: pod not watched yet (failPolicy open): %s",
		 c->l_cmd, c->l_cid, c->pod, c->l_ifname, why);
	return 0;
}

/* Every command but STATUS runs under the state folder's lock. Without it
 * fail-open skips podsentry's part of the command (*skip set, a warning
 * logged) and fail-closed fails with code 5. */
static int cmd_lock(struct cmd *c, bool *skip)
{
	int lock = state_lock(c->conf.state_dir, c->err);

	*skip = false;
	if (lock >= 0)
		return lock;
	if (c->conf.fail_policy == FAIL_CLOSED)
		return cni_fail(c->e, CNI_ERR_IO, "%s", c->err);
	*skip = true;
	log_line(&c->log, LOG_WARN,
		 "%s container=%s pod=%s ifname=%s: skipped (failPolicy open): %s",
		 c->l_cmd, c->l_cid, c->pod, c->l_ifname, c->err);
	return -1;
}

/* Lock stateDir and read every state file. Returns how many there are,
 * or -1 with *skip telling a fail-open skip (nothing to do) from an
 * error already reported. */
static int cmd_states(struct cmd *c, struct pod_state **all, int *lock,
		      bool *skip)
{
	int n;

	*lock = cmd_lock(c, skip);
	if (*lock < 0)
		return -1;
	n = state_list(c->conf.state_dir, all, c->err);
	if (n < 0) {
		state_unlock(*lock);
		cni_fail(c->e, CNI_ERR_IO, "%s", c->err);
	}
	return n < 0 ? -1 : n;
}

/* ---- ADD ---- */

/* prevResult is a cross-check only: the pod's addresses are those its
 * interface has (a forged prevResult must not map another pod's address
 * to this one). What it lists beyond them is named and ignored. */
static void add_ips_check(struct cmd *c, const struct pod_state *st,
			  const struct prev_result *pr)
{
	struct link_addr listed[RESULT_IPS_MAX];
	char list[RESULT_IPS_MAX * 52] = "", a[52];
	int n = result_pod_ips(pr, st->ifname, listed, RESULT_IPS_MAX), i, j;
	size_t len = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < st->nips && !addr_same(&listed[i], &st->ips[j]); j++)
			;
		if (j < st->nips)
			continue;
		addr_format(&listed[i], a, sizeof(a));
		len += snprintf(list + len, sizeof(list) - len, "%s%s",
				len ? "," : "", a);
	}
	if (len)
		log_line(&c->log, LOG_WARN,
			 "ADD container=%s pod=%s ifname=%s: prevResult lists %s, not on %s in the pod's netns: ignored",
			 c->l_cid, c->pod, c->l_ifname, list, c->l_ifname);
}

static int add_lookup(struct cmd *c, struct pod_state *st,
		      const struct prev_result *pr)
{
	int fd, r;

	/* Refused whatever the fail policy: a pod in the host's netns would
	 * be every host process, named as the caller chose. */
	fd = pod_netns_open(st->netns, &st->netns_ino, c->err);
	if (fd < 0)
		return cni_fail(c->e, CNI_ERR_ENV, "CNI_NETNS: %s", c->err);
	r = pod_host_link_fd(st, fd, c->err);
	close(fd);
	if (r)
		return degrade(c, st, PS_ERR_LINK, c->err);
	add_ips_check(c, st, pr);
	/* Some main plugins name the host side wrongly or not at all. */
	r = result_has_host_iface(pr, st->host_ifname);
	if (r == 0)
		log_line(&c->log, LOG_WARN,
			 "ADD container=%s: prevResult does not list host veth %s; using the netlink peer",
			 c->l_cid, st->host_ifname);
	return 0;
}

/* Replace an earlier ADD of the same attachment: its map entries and, if
 * it was on another veth, its filters go. */
static void add_replace(struct cmd *c, const struct pins *p,
			struct pod_state *old, const struct pod_state *st,
			const struct pod_state *all, int n)
{
	bool keep_netns, keep_slot;
	struct pod_state mine;

	unshared(all, n, old, &mine);
	if (mine.host_ifindex && old->host_ifindex != st->host_ifindex)
		pod_detach(old, c->err);
	shared_with(all, n, old, &keep_netns, &keep_slot);
	keep_netns |= old->netns_ino == st->netns_ino;
	pod_unregister(p, &mine, keep_netns, true, c->err);
}

/* The state file of an ADD. When it cannot be written, fail-closed fails
 * with code 5 and fail-open goes on without watching the pod (st is then
 * marked pending, for the caller to undo what it did). */
static int add_state_write(struct cmd *c, struct pod_state *st)
{
	char why[POD_ERR_LEN];

	if (!state_write(c->conf.state_dir, st, why))
		return 0;
	if (c->conf.fail_policy == FAIL_CLOSED)
		return cni_fail(c->e, CNI_ERR_IO, "%s", why);
	st->pending = true;
	log_line(&c->log, LOG_WARN,
		 "ADD container=%s pod=%s ifname=%s: pod not watched (failPolicy open): %s",
		 c->l_cid, c->pod, c->l_ifname, why);
	return 0;
}

/* Addresses of the pod that pod_ip maps to another live pod. */
static void add_held_log(struct cmd *c, const struct pod_state *st)
{
	char list[STATE_IPS_MAX * 52] = "", a[52];
	size_t len = 0;
	int i;

	for (i = 0; i < st->nips_held; i++) {
		addr_format(&st->ips_held[i], a, sizeof(a));
		len += snprintf(list + len, sizeof(list) - len, "%s%s",
				len ? "," : "", a);
	}
	if (len)
		log_line(&c->log, LOG_WARN,
			 "ADD container=%s pod=%s ifname=%s: pod_ip maps %s to another live pod: its entry is kept, not this pod's",
			 c->l_cid, c->pod, c->l_ifname, list);
}

static int add_kernel(struct cmd *c, struct pod_state *st,
		      struct pod_state *all, int n)
{
	struct pins p;
	int old = find_state(all, n, st->container_id, st->ifname), i, ret;
	bool fresh_slot = true;

	if (pins_open(c->conf.bpffs, st->xdp, &p, c->err))
		return degrade(c, st, CNI_ERR_TRY_LATER, c->err) ?:
		       add_state_write(c, st);
	for (i = 0; i < n; i++)
		if (all[i].slot == st->slot && i != old)
			fresh_slot = false;
	if (old >= 0) {
		add_replace(c, &p, &all[old], st, all, n);
		fresh_slot = false;
	}
	/* A new pod starts from zero even if its slot was used before. */
	if (fresh_slot)
		pod_stats_zero(p.pod_stats, st->slot);
	if (pod_register(&p, st, c->err) || pod_attach(&p, st, c->err)) {
		teardown(c, &p, st, all, n);
		pins_close(&p);
		return degrade(c, st, PS_ERR_ATTACH, c->err) ?:
		       add_state_write(c, st);
	}
	add_held_log(c, st);
	ret = add_state_write(c, st);
	if (ret || st->pending)
		/* Without its state DEL could not undo the attachment. */
		teardown(c, &p, st, all, n);
	pins_close(&p);
	return ret;
}

static int cmd_add(struct cmd *c)
{
	struct pod_state st, *all = NULL;
	struct prev_result pr;
	int lock, n, ret;
	bool skip;

	if (env_check(c, true, true))
		return -1;
	if (!c->conf.prev_result)
		return cni_fail(c->e, CNI_ERR_CONFIG,
				"prevResult is missing: podsentry-cni is a chained plugin and runs after the main plugin");
	if (result_parse(c->conf.prev_result, &pr, c->e))
		return -1;
	state_init(c, &st);
	if (add_lookup(c, &st, &pr))
		return -1;
	n = cmd_states(c, &all, &lock, &skip);
	if (n < 0) {
		if (skip)
			goto out;
		return -1;
	}
	st.slot = state_slot_alloc(all, n, st.netns_ino, st.container_id,
				   st.ifname);
	if (st.pending) /* the host veth was not found */
		ret = add_state_write(c, &st);
	else
		ret = add_kernel(c, &st, all, n);
	free(all);
	state_unlock(lock);
	if (ret)
		return ret;
out:
	return json_print(c->out, result_output(c->conf.prev_result,
						c->conf.cni_version));
}

/* ---- DEL and GC ---- */

static int remove_one(struct cmd *c, const struct pins *p, struct pod_state *st,
		      const struct pod_state *all, int n)
{
	int ret = teardown(c, p, st, all, n);
	char why[POD_ERR_LEN], cid[320];

	if (ret && c->conf.fail_policy == FAIL_CLOSED)
		return cni_fail(c->e, PS_ERR_ATTACH, "%s", c->err);
	if (ret)
		log_line(&c->log, LOG_WARN,
			 "%s container=%s ifname=%s: %s (failPolicy open: state removed)",
			 c->l_cmd, log_val(cid, sizeof(cid), st->container_id),
			 st->ifname, c->err);
	if (state_remove(c->conf.state_dir, st->container_id, st->ifname, why))
		return cni_fail(c->e, CNI_ERR_IO, "%s", why);
	return 0;
}

/* Pins are optional for DEL and GC: without the daemon's maps there are
 * no entries to remove, but our filters may still be on the veth. */
static struct pins *pins_maybe(struct cmd *c, struct pins *p)
{
	char why[POD_ERR_LEN];

	if (pins_open(c->conf.bpffs, false, p, why))
		return NULL;
	return p;
}

static int cmd_del(struct cmd *c)
{
	struct pod_state *all = NULL;
	struct pins pins, *p;
	int lock, n, i, ret = 0;
	bool skip;

	if (env_check(c, false, false))
		return -1;
	n = cmd_states(c, &all, &lock, &skip);
	if (n < 0)
		return skip ? 0 : -1;
	i = find_state(all, n, c->env->container_id, c->env->ifname);
	if (i >= 0) {
		pod_from_state(c, &all[i]);
		p = pins_maybe(c, &pins);
		ret = remove_one(c, p, &all[i], all, n);
		if (p)
			pins_close(p);
	}
	free(all);
	state_unlock(lock);
	return ret;
}

static bool gc_valid(json_object *valid, const struct pod_state *st)
{
	json_object *it, *cid, *ifn;
	size_t i, n = json_object_array_length(valid);

	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(valid, i);
		if (json_object_object_get_ex(it, "containerID", &cid) &&
		    json_object_object_get_ex(it, "ifname", &ifn) &&
		    !strcmp(json_object_get_string(cid), st->container_id) &&
		    !strcmp(json_object_get_string(ifn), st->ifname))
			return true;
	}
	return false;
}

static int gc_check(struct cmd *c)
{
	json_object *v = c->conf.valid_attachments, *it, *f;
	size_t i, n;

	if (!v)
		return cni_fail(c->e, CNI_ERR_CONFIG,
				"GC: \"cni.dev/valid-attachments\" is missing");
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(v, i);
		if (!json_object_is_type(it, json_type_object) ||
		    !json_object_object_get_ex(it, "containerID", &f) ||
		    !json_object_is_type(f, json_type_string) ||
		    !json_object_object_get_ex(it, "ifname", &f) ||
		    !json_object_is_type(f, json_type_string))
			return cni_fail(c->e, CNI_ERR_CONFIG,
					"GC: cni.dev/valid-attachments[%zu] needs string containerID and ifname",
					i);
	}
	return 0;
}

static int cmd_gc(struct cmd *c)
{
	struct pod_state *all = NULL;
	struct pins pins, *p;
	int lock, n, i, ret = 0, removed = 0;
	bool skip;

	if (version_at_least(c, "1.1.0") || gc_check(c))
		return -1;
	n = cmd_states(c, &all, &lock, &skip);
	if (n < 0)
		return skip ? 0 : -1;
	p = pins_maybe(c, &pins);
	for (i = 0; i < n && !ret; i++) {
		if (strcmp(all[i].network, c->conf.name) ||
		    gc_valid(c->conf.valid_attachments, &all[i]))
			continue;
		ret = remove_one(c, p, &all[i], all, n);
		/* Later slot/netns sharing checks must not see it. */
		all[i].netns_ino = 0;
		all[i].slot = 0;
		removed += !ret;
	}
	if (p)
		pins_close(p);
	free(all);
	state_unlock(lock);
	if (!ret)
		snprintf(c->pod, sizeof(c->pod), "(%d stale removed)", removed);
	return ret;
}

/* ---- CHECK, STATUS, VERSION ---- */

static int cmd_check(struct cmd *c)
{
	struct pod_state st;
	struct pins p;
	int lock, ret;
	bool skip;

	if (env_check(c, true, false) || version_at_least(c, "0.4.0"))
		return -1;
	if (!c->conf.prev_result)
		return cni_fail(c->e, CNI_ERR_CONFIG,
				"prevResult is missing: CHECK needs the result of ADD");
	lock = cmd_lock(c, &skip);
	if (lock < 0)
		return skip ? 0 : -1;
	ret = state_read(c->conf.state_dir, c->env->container_id,
			 c->env->ifname, &st, c->err);
	if (ret) {
		state_unlock(lock);
		return cni_fail(c->e, PS_ERR_CHECK, "%s", c->err);
	}
	pod_from_state(c, &st);
	if (st.pending) {
		state_unlock(lock);
		err_fmt(c->err, sizeof(c->err), "pending: %s",
			st.pending_reason);
		return degrade(c, &st, PS_ERR_CHECK, c->err);
	}
	if (pins_open(c->conf.bpffs, st.attached & ATTACHED_XDP, &p, c->err)) {
		state_unlock(lock);
		return degrade(c, &st, CNI_ERR_TRY_LATER, c->err);
	}
	ret = pod_verify(&p, &st, c->err);
	pins_close(&p);
	state_unlock(lock);
	if (ret)
		return cni_fail(c->e, PS_ERR_CHECK, "CHECK %s: %s",
				c->env->container_id, c->err);
	return 0;
}

static int cmd_status(struct cmd *c)
{
	if (version_at_least(c, "1.1.0"))
		return -1;
	if (c->conf.fail_policy == FAIL_CLOSED &&
	    pins_check(c->conf.bpffs, c->conf.xdp, c->err))
		return cni_fail(c->e, CNI_ERR_UNAVAILABLE,
				"podsentry is not running (failPolicy closed): %s",
				c->err);
	return 0;
}

/* VERSION needs no network config, only an optional cniVersion. */
static int cmd_version(const char *in, size_t len, FILE *out,
		       struct cni_err *e)
{
	json_object *o, *cfg = NULL, *v, *arr;
	const char *ver = CNI_VERSION_LATEST;
	char why[JSON_WHY_LEN];
	int i;

	if (len) {
		cfg = json_parse_exact(in, len, why);
		if (!cfg)
			return cni_fail(e, CNI_ERR_DECODE, "VERSION: stdin: %s",
					why);
		if (!json_object_is_type(cfg, json_type_object)) {
			json_object_put(cfg);
			return cni_fail(e, CNI_ERR_DECODE,
					"VERSION: stdin is not a JSON object");
		}
		if (json_object_object_get_ex(cfg, "cniVersion", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    cni_version_supported(json_object_get_string(v)))
			ver = json_object_get_string(v);
	}
	o = json_object_new_object();
	json_object_object_add(o, "cniVersion", json_object_new_string(ver));
	arr = json_object_new_array();
	for (i = 0; cni_versions[i]; i++)
		json_object_array_add(arr, json_object_new_string(cni_versions[i]));
	json_object_object_add(o, "supportedVersions", arr);
	json_object_put(cfg);
	return json_print(out, o);
}

/* ---- entry ---- */

static int cmd_dispatch(struct cmd *c)
{
	const char *cmd = c->env->command;
	char q[CNI_ESC_LEN];

	if (!strcmp(cmd, "ADD"))
		return cmd_add(c);
	if (!strcmp(cmd, "DEL"))
		return cmd_del(c);
	if (!strcmp(cmd, "CHECK"))
		return cmd_check(c);
	if (!strcmp(cmd, "STATUS"))
		return cmd_status(c);
	if (!strcmp(cmd, "GC"))
		return cmd_gc(c);
	return cni_fail(c->e, CNI_ERR_ENV, "CNI_COMMAND \"%s\" is not known",
			cni_esc(q, cmd, strlen(cmd)));
}

/* libbpf's messages (kernel extended ACKs among them) go to the log at
 * debug level: a missing clsact on DEL is not worth a line. */
static struct cni_log *libbpf_log;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	char line[512];
	size_t n;

	if (!libbpf_log || libbpf_log->level < LOG_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = 0;
	log_line(libbpf_log, LOG_DEBUG, "libbpf: %s", line);
	return 0;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void cmd_log(struct cmd *c, int ret, const struct timespec *t0)
{
	if (!ret)
		log_line(&c->log, LOG_INFO,
			 "%s container=%s pod=%s ifname=%s result=ok duration=%.3fms",
			 c->l_cmd, c->l_cid, c->pod, c->l_ifname, ms_since(t0));
	else
		log_line(&c->log, LOG_ERROR,
			 "%s container=%s pod=%s ifname=%s result=error code=%d msg=\"%s\"%s%s duration=%.3fms",
			 c->l_cmd, c->l_cid, c->pod, c->l_ifname, c->e->code,
			 c->e->msg, c->e->details[0] ? " details=" : "",
			 c->e->details, ms_since(t0));
}

int cni_main(const struct cni_env *env, const char *in, size_t len, FILE *out)
{
	struct cni_err e = {};
	struct cmd c = { .env = env, .e = &e, .out = out };
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cmd_log_values(&c);
	log_open(&c.log, NULL, LOG_INFO);
	libbpf_log = &c.log;
	libbpf_set_print(libbpf_print);
	if (!env->command || !env->command[0]) {
		ret = cni_fail(&e, CNI_ERR_ENV, "CNI_COMMAND is not set");
	} else if (!strcmp(env->command, "VERSION")) {
		ret = cmd_version(in, len, out, &e);
	} else if (conf_parse(in, len, &c.conf, &e)) {
		ret = -1;
	} else {
		log_close(&c.log);
		log_open(&c.log, c.conf.log_file, c.conf.log_level);
		ret = cmd_dispatch(&c);
	}
	if (ret && !e.code)
		cni_fail(&e, CNI_ERR_IO, "writing the result: %s",
			 strerror(errno));
	if (env->command && env->command[0])
		cmd_log(&c, ret, &t0);
	if (ret)
		json_print(out, cni_err_json(&e, c.conf.cni_version ?
					     c.conf.cni_version :
					     CNI_VERSION_LATEST));
	libbpf_log = NULL;
	log_close(&c.log);
	conf_free(&c.conf);
	return ret ? 1 : 0;
}
