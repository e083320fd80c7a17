// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "cni/shared/addr.h"
#include "cni/shared/jsonparse.h"
#include "cni/shared/state.h"
#include "cni/shared/text.h"
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

void state_name_set(char *text, size_t text_len, struct state_raw *raw,
		    const char *bytes)
{
	size_t n = strnlen(bytes, sizeof(raw->bytes) - 1);

	memcpy(raw->bytes, bytes, n);
	raw->bytes[n] = 0;
	raw->len = (__u16)n;
	raw->not_text = !text_is_clean(bytes, n);
	text_display(text, text_len, bytes, n);
}

static json_object *state_ips_json(const struct link_addr *ips, int n)
{
	json_object *a = json_object_new_array();
	char buf[64];
	int i;

	for (i = 0; i < n; i++) {
		addr_format(&ips[i], buf, sizeof(buf));
		json_object_array_add(a, json_object_new_string(buf));
	}
	return a;
}

/* KEY, and KEYRaw + KEYNotText when the bytes are not text (state.h). */
static void state_put_str(json_object *o, const char *key, const char *s,
			  size_t n)
{
	char k[64], *buf;
	size_t len;

	if (text_is_clean(s, n)) {
		json_object_object_add(o, key, json_object_new_string_len(s, (int)n));
		return;
	}
	len = 3 * n + 1;
	buf = malloc(len);
	if (!buf)
		return;
	text_display(buf, len, s, n);
	json_object_object_add(o, key, json_object_new_string(buf));
	text_pct_encode(buf, len, s, n);
	snprintf(k, sizeof(k), "%sRaw", key);
	json_object_object_add(o, k, json_object_new_string(buf));
	snprintf(k, sizeof(k), "%sNotText", key);
	json_object_object_add(o, k, json_object_new_boolean(true));
	free(buf);
}

static json_object *state_json(const struct pod_state *st)
{
	json_object *o = json_object_new_object(), *pod, *att;

#define S(obj, k, v) state_put_str(obj, k, v, strlen(v))
/* a name whose bytes were never set is its display form */
#define R(obj, k, f)                                                           \
	state_put_str(obj, k, st->f##_raw.len ? st->f##_raw.bytes : st->f,     \
		      st->f##_raw.len ? st->f##_raw.len : strlen(st->f))
#define I(obj, k, v) json_object_object_add(obj, k, json_object_new_int64(v))
#define B(obj, k, v) json_object_object_add(obj, k, json_object_new_boolean(v))
	I(o, "version", STATE_VERSION);
	S(o, "network", st->network);
	S(o, "containerId", st->container_id);
	S(o, "ifname", st->ifname);
	pod = json_object_new_object();
	R(pod, "namespace", pod_namespace);
	R(pod, "name", pod_name);
	R(pod, "uid", pod_uid);
	R(pod, "infraContainerId", infra_id);
	json_object_object_add(o, "pod", pod);
	S(o, "netns", st->netns);
	I(o, "netnsIno", st->netns_ino);
	I(o, "hostIfindex", st->host_ifindex);
	S(o, "hostIfname", st->host_ifname);
	json_object_object_add(o, "ips", state_ips_json(st->ips, st->nips));
	if (st->nips_held)
		json_object_object_add(o, "ipsHeld",
				       state_ips_json(st->ips_held, st->nips_held));
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
#undef R
#undef I
#undef B
	return o;
}

char *state_format(const struct pod_state *st)
{
	json_object *o = state_json(st);
	char *text;

	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

int state_write(const char *dir, const struct pod_state *st, char *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	char *text;
	size_t len;
	int fd, ret = 0;

	if (state_path(dir, st->container_id, st->ifname, path, sizeof(path)))
		return state_fail(err, -ENAMETOOLONG, "state file in", dir);
	/* The temporary's name does not grow with the container id: a
	 * state file whose name fits has a temporary that fits. */
	snprintf(tmp, sizeof(tmp), "%s/.tmp.%d", dir, getpid());
	text = state_format(st);
	if (!text)
		return state_fail(err, -ENOMEM, "format", path);
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
	free(text);
	return ret;
}

/* Reading: where a problem is, for the message. */
struct state_in {
	const char *name; /* the file */
	const char *obj;  /* "" or "pod." */
	char *err;
};

static int state_bad(struct state_in *in, const char *key, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));

static int state_bad(struct state_in *in, const char *key, const char *fmt,
		     ...)
{
	char why[STATE_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	err_fmt(in->err, STATE_ERR_LEN, "state %s: %s%s: %s", in->name,
		in->obj, key, why);
	return -EBADMSG;
}

/* The bytes of string KEY into dst (len bytes): from KEYRaw when it is
 * there (state.h). Absent: dst stays as it is. */
static int state_get_str(struct state_in *in, json_object *o, const char *key,
			 char *dst, size_t len, size_t *n)
{
	json_object *v;
	char k[64];
	const char *s;
	size_t bad, sl;
	ssize_t r;

	snprintf(k, sizeof(k), "%sRaw", key);
	if (json_object_object_get_ex(o, k, &v)) {
		s = json_text(v);
		if (!s)
			return state_bad(in, k, "not a string without NUL");
		r = text_pct_decode(dst, len, s, &bad);
		if (r < 0)
			return state_bad(in, k, "bad percent-encoding at byte %zu",
					 bad);
		*n = (size_t)r;
		return 0;
	}
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	s = json_text(v);
	if (!s)
		return state_bad(in, key, "not a string without NUL");
	sl = strlen(s);
	if (sl >= len)
		return state_bad(in, key, "%zu bytes, at most %zu", sl, len - 1);
	memcpy(dst, s, sl + 1);
	*n = sl;
	return 0;
}

static int state_get_name(struct state_in *in, json_object *o, const char *key,
			  char *text, size_t text_len, struct state_raw *raw)
{
	/* no more bytes than the display field is made for */
	size_t n = 0, max = (text_len - 1) / 3 + 1;
	int ret = state_get_str(in, o, key, raw->bytes,
				max < sizeof(raw->bytes) ? max : sizeof(raw->bytes),
				&n);

	if (!ret)
		state_name_set(text, text_len, raw, raw->bytes);
	return ret;
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

static int state_ips(json_object *o, const char *key, struct link_addr *ips,
		     int *nips)
{
	json_object *arr;
	const char *s;
	size_t i, n;

	if (!json_object_object_get_ex(o, key, &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return 0;
	n = json_object_array_length(arr);
	for (i = 0; i < n && *nips < STATE_IPS_MAX; i++) {
		s = json_text(json_object_array_get_idx(arr, i));
		if (s && !addr_parse(s, &ips[*nips]))
			(*nips)++;
	}
	return 0;
}

static int state_from_json(struct state_in *in, json_object *o,
			   struct pod_state *st)
{
	json_object *pod, *att;
	size_t n;

#define STR(obj, k, f) state_get_str(in, obj, k, st->f, sizeof(st->f), &n)
#define NAME(obj, k, f) state_get_name(in, obj, k, st->f, sizeof(st->f), \
				       &st->f##_raw)
	if (STR(o, "network", network) || STR(o, "containerId", container_id) ||
	    STR(o, "ifname", ifname))
		return -EBADMSG;
	if (json_object_object_get_ex(o, "pod", &pod) &&
	    json_object_is_type(pod, json_type_object)) {
		in->obj = "pod.";
		if (NAME(pod, "namespace", pod_namespace) ||
		    NAME(pod, "name", pod_name) || NAME(pod, "uid", pod_uid) ||
		    NAME(pod, "infraContainerId", infra_id))
			return -EBADMSG;
		in->obj = "";
	}
	if (STR(o, "netns", netns) || STR(o, "hostIfname", host_ifname) ||
	    STR(o, "pendingReason", pending_reason) || STR(o, "bpffs", bpffs))
		return -EBADMSG;
#undef STR
#undef NAME
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
	state_ips(o, "ips", st->ips, &st->nips);
	state_ips(o, "ipsHeld", st->ips_held, &st->nips_held);
	return 0;
}

int state_parse(const char *buf, size_t len, const char *name,
		struct pod_state *st, char *err)
{
	struct state_in in = { .name = name, .obj = "", .err = err };
	char why[JSON_WHY_LEN];
	json_object *o;
	int ret;

	memset(st, 0, sizeof(*st));
	o = json_parse_exact(buf, len, why);
	if (!o) {
		err_fmt(err, STATE_ERR_LEN, "parse %s: %s", name, why);
		return -EBADMSG;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		err_fmt(err, STATE_ERR_LEN, "parse %s: not a JSON object", name);
		return -EBADMSG;
	}
	ret = state_from_json(&in, o, st);
	json_object_put(o);
	if (!ret && (!st->container_id[0] || !st->ifname[0] || !st->slot))
		ret = state_fail(err, -EBADMSG, "incomplete state", name);
	return ret;
}

/* A state file is a few kB; anything much larger is not one. */
#define STATE_FILE_MAX (1U << 20)

int state_load(const char *path, struct pod_state *st, char *err)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	memset(st, 0, sizeof(*st));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return state_fail(err, -errno, "state", path);
	buf = malloc(STATE_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		return state_fail(err, -ENOMEM, "read", path);
	}
	while ((n = read(fd, buf + len, STATE_FILE_MAX + 1 - len)) > 0 &&
	       len + n <= STATE_FILE_MAX)
		len += n;
	if (n < 0)
		ret = state_fail(err, -errno, "read", path);
	else if (n > 0)
		ret = state_fail(err, -EFBIG, "read", path);
	else
		ret = state_parse(buf, len, path, st, err);
	free(buf);
	close(fd);
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
