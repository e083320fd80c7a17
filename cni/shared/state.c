// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "cni/shared/addr.h"
#include "cni/shared/state.h"
#include "cni/shared/util.h"

#define STATE_SUFFIX ".json"
#define STATE_VERSION 1

static int state_fail(char *err, int ret, const char *what, const char *path)
{
	err_fmt(err, STATE_ERR_LEN, "%s %s: %s", what, path, strerror(-ret));
	return ret;
}

int state_lock(const char *dir, char *err)
{
	char path[PATH_MAX];
	int fd, ret;

	ret = dir_make(dir, 0755, 0700);
	if (ret)
		return state_fail(err, ret, "create state folder", dir);
	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return state_fail(err, -errno, "open lock", path);
	while (flock(fd, LOCK_EX)) {
		if (errno == EINTR)
			continue;
		ret = state_fail(err, -errno, "lock", path);
		close(fd);
		return ret;
	}
	return fd;
}

void state_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

int state_path(const char *dir, const char *cid, const char *ifname,
	       char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s:%s" STATE_SUFFIX, dir, cid, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static json_object *state_ips_json(const struct pod_state *st)
{
	json_object *a = json_object_new_array();
	char buf[64];
	int i;

	for (i = 0; i < st->nips; i++) {
		addr_format(&st->ips[i], buf, sizeof(buf));
		json_object_array_add(a, json_object_new_string(buf));
	}
	return a;
}

static json_object *state_json(const struct pod_state *st)
{
	json_object *o = json_object_new_object(), *pod, *att;

#define S(obj, k, v) json_object_object_add(obj, k, json_object_new_string(v))
#define I(obj, k, v) json_object_object_add(obj, k, json_object_new_int64(v))
#define B(obj, k, v) json_object_object_add(obj, k, json_object_new_boolean(v))
	I(o, "version", STATE_VERSION);
	S(o, "network", st->network);
	S(o, "containerId", st->container_id);
	S(o, "ifname", st->ifname);
	pod = json_object_new_object();
	S(pod, "namespace", st->pod_namespace);
	S(pod, "name", st->pod_name);
	S(pod, "uid", st->pod_uid);
	S(pod, "infraContainerId", st->infra_id);
	json_object_object_add(o, "pod", pod);
	S(o, "netns", st->netns);
	I(o, "netnsIno", st->netns_ino);
	I(o, "hostIfindex", st->host_ifindex);
	S(o, "hostIfname", st->host_ifname);
	json_object_object_add(o, "ips", state_ips_json(st));
	I(o, "slot", st->slot);
	I(o, "flags", st->flags);
	B(o, "xdp", st->xdp);
	att = json_object_new_object();
	B(att, "tcIngress", st->attached & ATTACHED_TC_INGRESS);
	B(att, "tcEgress", st->attached & ATTACHED_TC_EGRESS);
	B(att, "xdp", st->attached & ATTACHED_XDP);
	json_object_object_add(o, "attached", att);
	B(o, "pending", st->pending);
	S(o, "pendingReason", st->pending_reason);
	S(o, "bpffs", st->bpffs);
	I(o, "created", st->created);
#undef S
#undef I
#undef B
	return o;
}

int state_write(const char *dir, const struct pod_state *st, char *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	json_object *o;
	const char *text;
	size_t len;
	int fd, ret = 0;

	if (state_path(dir, st->container_id, st->ifname, path, sizeof(path)))
		return state_fail(err, -ENAMETOOLONG, "state file in", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid());
	o = state_json(st);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = state_fail(err, -errno, "create", tmp);
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd)) {
		ret = state_fail(err, errno ? -errno : -EIO, "write", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path)) {
		ret = state_fail(err, -errno, "rename to", path);
		unlink(tmp);
	}
out:
	json_object_put(o);
	return ret;
}

static void state_str(json_object *o, const char *key, char *dst, size_t len)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(dst, len, "%s", json_object_get_string(v));
}

static long long state_int(json_object *o, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return 0;
}

static bool state_bool(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	       json_object_get_boolean(v);
}

static void state_from_json(json_object *o, struct pod_state *st)
{
	json_object *pod, *att, *ips;
	size_t i, n;

#define STR(obj, k, f) state_str(obj, k, st->f, sizeof(st->f))
	STR(o, "network", network);
	STR(o, "containerId", container_id);
	STR(o, "ifname", ifname);
	if (json_object_object_get_ex(o, "pod", &pod)) {
		STR(pod, "namespace", pod_namespace);
		STR(pod, "name", pod_name);
		STR(pod, "uid", pod_uid);
		STR(pod, "infraContainerId", infra_id);
	}
	STR(o, "netns", netns);
	STR(o, "hostIfname", host_ifname);
	STR(o, "pendingReason", pending_reason);
	STR(o, "bpffs", bpffs);
#undef STR
	st->netns_ino = (__u32)state_int(o, "netnsIno");
	st->host_ifindex = (int)state_int(o, "hostIfindex");
	st->slot = (__u32)state_int(o, "slot");
	st->flags = (__u32)state_int(o, "flags");
	st->created = state_int(o, "created");
	st->xdp = state_bool(o, "xdp");
	st->pending = state_bool(o, "pending");
	if (json_object_object_get_ex(o, "attached", &att)) {
		st->attached |= state_bool(att, "tcIngress") ? ATTACHED_TC_INGRESS : 0;
		st->attached |= state_bool(att, "tcEgress") ? ATTACHED_TC_EGRESS : 0;
		st->attached |= state_bool(att, "xdp") ? ATTACHED_XDP : 0;
	}
	if (json_object_object_get_ex(o, "ips", &ips) &&
	    json_object_is_type(ips, json_type_array)) {
		n = json_object_array_length(ips);
		for (i = 0; i < n && st->nips < STATE_IPS_MAX; i++)
			if (!addr_parse(json_object_get_string(
					json_object_array_get_idx(ips, i)),
					&st->ips[st->nips]))
				st->nips++;
	}
}

int state_load(const char *path, struct pod_state *st, char *err)
{
	json_object *o;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	if (access(path, F_OK))
		return state_fail(err, -errno, "state", path);
	o = json_object_from_file(path);
	if (!o || !json_object_is_type(o, json_type_object)) {
		ret = state_fail(err, -EBADMSG, "parse", path);
		goto out;
	}
	state_from_json(o, st);
	if (!st->container_id[0] || !st->ifname[0] || !st->slot)
		ret = state_fail(err, -EBADMSG, "incomplete state", path);
out:
	json_object_put(o);
	return ret;
}

int state_read(const char *dir, const char *cid, const char *ifname,
	       struct pod_state *st, char *err)
{
	char path[PATH_MAX];

	if (state_path(dir, cid, ifname, path, sizeof(path)))
		return state_fail(err, -ENAMETOOLONG, "state file in", dir);
	return state_load(path, st, err);
}

int state_remove(const char *dir, const char *cid, const char *ifname,
		 char *err)
{
	char path[PATH_MAX];

	if (state_path(dir, cid, ifname, path, sizeof(path)))
		return state_fail(err, -ENAMETOOLONG, "state file in", dir);
	if (unlink(path) && errno != ENOENT)
		return state_fail(err, -errno, "remove", path);
	return 0;
}

static bool state_name_ok(const char *name)
{
	size_t n = strlen(name), s = strlen(STATE_SUFFIX);

	return name[0] != '.' && n > s && !strcmp(name + n - s, STATE_SUFFIX) &&
	       strchr(name, ':');
}

int state_list(const char *dir, struct pod_state **out, char *err)
{
	struct pod_state *all = NULL, *grown;
	char path[PATH_MAX], why[STATE_ERR_LEN];
	struct dirent *de;
	int n = 0, cap = 0;
	DIR *d;

	*out = NULL;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : state_fail(err, -errno, "open", dir);
	while ((de = readdir(d))) {
		if (!state_name_ok(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(all, cap * sizeof(*all));
			if (!grown) {
				free(all);
				closedir(d);
				return state_fail(err, -ENOMEM, "list", dir);
			}
			all = grown;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (state_load(path, &all[n], why)) {
			fprintf(stderr, "podsentry: skipping %s\n", why);
			continue;
		}
		n++;
	}
	closedir(d);
	*out = all;
	return n;
}

__u32 state_slot_alloc(const struct pod_state *all, int n, __u32 netns_ino,
		       const char *cid, const char *ifname)
{
	__u32 slot, max = 0;
	unsigned char *used;
	int i;

	for (i = 0; i < n; i++) {
		if (all[i].netns_ino == netns_ino && netns_ino)
			return all[i].slot;
		if (all[i].slot > max)
			max = all[i].slot;
	}
	used = calloc(max + 2, 1);
	if (!used)
		return max + 1;
	for (i = 0; i < n; i++)
		if (strcmp(all[i].container_id, cid) ||
		    strcmp(all[i].ifname, ifname))
			used[all[i].slot] = 1;
	for (slot = 1; used[slot]; slot++)
		;
	free(used);
	return slot;
}
