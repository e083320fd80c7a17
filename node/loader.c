// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>

#include "node/loader.h"
#include "process.skel.h"
#include "flow.skel.h"

static bool is_bpffs(const char *path)
{
	struct statfs sf;

	return !statfs(path, &sf) && sf.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int bpffs_ensure(const char *dir)
{
	const char *root = "/sys/fs/bpf";

	if (!strncmp(dir, root, strlen(root)) && !is_bpffs(root)) {
		if (mount("bpf", root, "bpf", 0, "mode=0700")) {
			fprintf(stderr, "podsentryd: mount bpffs on %s: %s\n", root,
				strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int loader_lock(struct loader *l, const char *dir)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->dir_fd = -1;
	err = bpffs_ensure(dir);
	if (err)
		return err;
	err = mkdir_p(dir);
	if (err) {
		fprintf(stderr, "podsentryd: create %s: %s\n", dir, strerror(-err));
		return err;
	}
	if (!is_bpffs(dir)) {
		fprintf(stderr, "podsentryd: %s: not on a bpf filesystem\n", dir);
		return -EINVAL;
	}
	l->dir = strdup(dir);
	l->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!l->dir || l->dir_fd < 0) {
		err = l->dir ? -errno : -ENOMEM;
		fprintf(stderr, "podsentryd: open %s: %s\n", dir, strerror(-err));
		return err;
	}
	if (flock(l->dir_fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		fprintf(stderr,
			"podsentryd: %s: %s\n", dir,
			err == -EBUSY ? "in use by another podsentryd (choose another --bpffs)"
				      : strerror(-err));
		close(l->dir_fd);
		l->dir_fd = -1;
		return err;
	}
	return 0;
}

static int prog_pin(struct loader *l, struct bpf_program *prog, const char *name)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s", l->dir, name);
	unlink(path); /* our own pin from a run with --keep-pins */
	err = bpf_program__pin(prog, path);
	if (err)
		fprintf(stderr, "podsentryd: pin %s: %s\n", path, strerror(-err));
	return err;
}

int loader_start(struct loader *l, enum ps_scope scope, __u64 flow_update_ns)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = l->dir);
	int err;

	l->proc = process_bpf__open_opts(&opts);
	if (!l->proc) {
		err = -errno;
		fprintf(stderr, "podsentryd: open process.bpf.o: %s\n", strerror(-err));
		return err;
	}
	l->proc->rodata->scope = scope;
	err = process_bpf__load(l->proc);
	if (err) {
		fprintf(stderr, "podsentryd: load process.bpf.o: %s (run with -v for the verifier log; pins in %s from another version can be removed with rm -r)\n",
			strerror(-err), l->dir);
		return err;
	}
	l->flow = flow_bpf__open_opts(&opts);
	if (!l->flow) {
		err = -errno;
		fprintf(stderr, "podsentryd: open flow.bpf.o: %s\n", strerror(-err));
		return err;
	}
	l->flow->rodata->flow_update_ns = flow_update_ns;
	err = flow_bpf__load(l->flow);
	if (err) {
		fprintf(stderr, "podsentryd: load flow.bpf.o: %s\n", strerror(-err));
		return err;
	}
	err = prog_pin(l, l->flow->progs.tc_ingress, PS_PIN_PROG_TC_INGRESS) ?:
	      prog_pin(l, l->flow->progs.tc_egress, PS_PIN_PROG_TC_EGRESS) ?:
	      prog_pin(l, l->flow->progs.xdp_pod, PS_PIN_PROG_XDP);
	if (err)
		return err;
	err = process_bpf__attach(l->proc);
	if (err) {
		fprintf(stderr, "podsentryd: attach process tracepoints: %s\n",
			strerror(-err));
		return err;
	}
	return 0;
}

int loader_map_fd(struct loader *l, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(l->proc->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

static void obj_unpin(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj)
		if (bpf_map__is_pinned(m))
			bpf_map__unpin(m, NULL);
}

void loader_stop(struct loader *l)
{
	char path[PATH_MAX];

	if (!l->keep_pins && l->dir && l->dir_fd >= 0) {
		if (l->proc)
			obj_unpin(l->proc->obj);
		if (l->flow)
			obj_unpin(l->flow->obj);
		snprintf(path, sizeof(path), "%s/%s", l->dir, PS_PIN_PROG_TC_INGRESS);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", l->dir, PS_PIN_PROG_TC_EGRESS);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", l->dir, PS_PIN_PROG_XDP);
		unlink(path);
		rmdir(l->dir);
	}
	process_bpf__destroy(l->proc);
	flow_bpf__destroy(l->flow);
	l->proc = NULL;
	l->flow = NULL;
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	l->dir_fd = -1;
	free(l->dir);
	l->dir = NULL;
}
