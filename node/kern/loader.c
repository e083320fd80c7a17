// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cni/shared/util.h"
#include "node/kern/loader.h"
#include "process.skel.h"
#include "flow.skel.h"
#include "sock.skel.h"

static bool is_bpffs(const char *path)
{
	struct statfs sf;

	return !statfs(path, &sf) && sf.f_type == BPF_FS_MAGIC;
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
	err = dir_make(dir, 0700, 0700);
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

/* The cgroup v2 root from /proc/mounts (/sys/fs/cgroup/unified on
 * hybrid hosts, /sys/fs/cgroup on pure v2 ones). */
static int cgroup2_root_open(void)
{
	char dev[256], dir[PATH_MAX], type[64], line[PATH_MAX + 512];
	FILE *f = fopen("/proc/mounts", "re");
	int fd = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) != 3 ||
		    strcmp(type, "cgroup2"))
			continue;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		break;
	}
	fclose(f);
	return fd;
}

/* Every object declares the shared maps: each gets the same sizes, or
 * the second one could not reuse the first one's pins. */
static void flow_tables_size(struct bpf_object *obj, __u32 n4, __u32 n6)
{
	struct bpf_map *m;

	if ((m = bpf_object__find_map_by_name(obj, PS_PIN_FLOWS4)))
		bpf_map__set_max_entries(m, n4);
	if ((m = bpf_object__find_map_by_name(obj, PS_PIN_FLOWS6)))
		bpf_map__set_max_entries(m, n6);
}

/*
 * A map kept pinned (--keep-pins) by another version of podsentryd, or
 * with other sizes (--max-flows), cannot be reused: libbpf would refuse
 * to load. Its pin is removed, so the object pins a new map in its
 * place; its entries are lost, which the log says. Reconciliation then
 * registers and attaches every pod again, with the new maps.
 */
static void pins_replace_unfit(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		const char *path = bpf_map__pin_path(m);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd;

		if (!path || (fd = bpf_obj_get(path)) < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    (info.type != bpf_map__type(m) ||
		     info.key_size != bpf_map__key_size(m) ||
		     info.value_size != bpf_map__value_size(m) ||
		     info.max_entries != bpf_map__max_entries(m) ||
		     info.map_flags != bpf_map__map_flags(m))) {
			fprintf(stderr, "podsentryd: pinned map %s (type %u, key %u B, value %u B, %u entries) does not fit (type %u, key %u B, value %u B, %u entries): replaced, its entries are lost\n",
				path, info.type, info.key_size, info.value_size,
				info.max_entries, bpf_map__type(m),
				bpf_map__key_size(m), bpf_map__value_size(m),
				bpf_map__max_entries(m));
			if (unlink(path))
				fprintf(stderr, "podsentryd: unlink %s: %s\n", path,
					strerror(errno));
		}
		close(fd);
	}
}

/* Pins of maps that this podsentryd no longer has, left by an older one
 * run with --keep-pins: nothing would ever remove them. */
static void pins_remove_obsolete(const char *dir)
{
	static const char *const gone[] = { "flows", "sock_pending" };
	/* (flows4 and flows6 of the per-pod layout have other key and
	 * value sizes: pins_replace_unfit replaces them) */
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, gone[i]);
		if (!unlink(path))
			fprintf(stderr, "podsentryd: pinned map %s is not used any more: removed\n",
				path);
	}
}

/* The program attached as sock_links[i]. */
static struct bpf_program *sock_link_prog(struct loader *l, int i)
{
	struct bpf_program *cg[LOADER_SOCK_LINKS] = {
		l->sock->progs.ps_sendmsg4, l->sock->progs.ps_sendmsg6,
		l->sock->progs.ps_bind4,    l->sock->progs.ps_bind6,
		l->sock->progs.ps_sock_release,
	};

	return i < LOADER_SOCK_LINKS ? cg[i] : NULL;
}

/* Flow-process correlation: the socket hooks, sharing the pinned maps;
 * the cgroup programs on the cgroup v2 root see every process. */
static int sock_start(struct loader *l, const struct loader_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = l->dir);
	struct bpf_program *cg[LOADER_SOCK_LINKS];
	int err, i;

	l->sock = sock_bpf__open_opts(&opts);
	if (!l->sock) {
		err = -errno;
		fprintf(stderr, "podsentryd: open sock.bpf.o: %s\n", strerror(-err));
		return err;
	}
	l->sock->rodata->scope = o->scope;
	l->sock->rodata->sock_records = o->sock_records;
	flow_tables_size(l->sock->obj, o->max_flows4, o->max_flows6);
	if (o->max_connects)
		bpf_map__set_max_entries(l->sock->maps.connecting,
					 o->max_connects);
	pins_replace_unfit(l->sock->obj);
	err = sock_bpf__load(l->sock);
	if (err) {
		fprintf(stderr, "podsentryd: load sock.bpf.o: %s\n", strerror(-err));
		return err;
	}
	l->cgroup_fd = cgroup2_root_open();
	if (l->cgroup_fd < 0) {
		err = l->cgroup_fd;
		fprintf(stderr, "podsentryd: cgroup v2 root (from /proc/mounts): %s\n",
			strerror(-err));
		return err;
	}
	for (i = 0; i < LOADER_SOCK_LINKS; i++)
		cg[i] = sock_link_prog(l, i);
	for (i = 0; i < LOADER_SOCK_LINKS; i++) {
		l->sock_links[i] = bpf_program__attach_cgroup(cg[i], l->cgroup_fd);
		if (!l->sock_links[i]) {
			err = -errno;
			fprintf(stderr, "podsentryd: attach %s to the cgroup v2 root: %s\n",
				bpf_program__name(cg[i]), strerror(-err));
			return err;
		}
	}
	err = sock_bpf__attach(l->sock);
	if (err)
		fprintf(stderr, "podsentryd: attach socket tracepoints: %s\n",
			strerror(-err));
	return err;
}

int loader_start(struct loader *l, const struct loader_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = l->dir);
	int err;

	l->proc = process_bpf__open_opts(&opts);
	if (!l->proc) {
		err = -errno;
		fprintf(stderr, "podsentryd: open process.bpf.o: %s\n", strerror(-err));
		return err;
	}
	l->proc->rodata->scope = o->scope;
	flow_tables_size(l->proc->obj, o->max_flows4, o->max_flows6);
	pins_remove_obsolete(l->dir);
	pins_replace_unfit(l->proc->obj);
	err = process_bpf__load(l->proc);
	if (err) {
		fprintf(stderr, "podsentryd: load process.bpf.o: %s (run with -v for the verifier log)\n",
			strerror(-err));
		return err;
	}
	l->flow = flow_bpf__open_opts(&opts);
	if (!l->flow) {
		err = -errno;
		fprintf(stderr, "podsentryd: open flow.bpf.o: %s\n", strerror(-err));
		return err;
	}
	l->flow->rodata->flow_update_ns = o->flow_update_ns;
	l->flow->rodata->flow_aggregate = o->aggregate;
	flow_tables_size(l->flow->obj, o->max_flows4, o->max_flows6);
	pins_replace_unfit(l->flow->obj);
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
	return sock_start(l, o);
}

int loader_sock_counts_fd(struct loader *l)
{
	return l->sock ? bpf_map__fd(l->sock->maps.sock_counts) : -ENOENT;
}

void loader_agg_since(struct loader *l, __u64 ns)
{
	if (l->flow && l->flow->bss)
		l->flow->bss->agg_since = ns;
}

int loader_map_fd(struct loader *l, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(l->proc->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

long long loader_map_entries(int fd, __u32 *max_entries)
{
	const __u32 chunk = 1024;
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	long long n = 0;
	__u64 in = 0, out = 0;
	void *keys, *vals, *k, *next;
	bool first = true;
	size_t vsz;
	__u32 count;
	int err;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -1;
	*max_entries = info.max_entries;
	vsz = info.value_size;
	if (info.type == BPF_MAP_TYPE_PERCPU_HASH ||
	    info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH)
		vsz = ((vsz + 7) & ~7UL) * libbpf_num_possible_cpus();
	keys = malloc((size_t)info.key_size * chunk);
	vals = malloc(vsz * chunk);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	for (;;) {
		DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, o);

		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals,
					   &count, &o);
		if (err && err != -ENOENT)
			break;
		n += count;
		if (err == -ENOENT)
			goto done;
		in = out;
		first = false;
	}
	/* no batch here (or a bucket larger than a chunk): one by one */
	n = 0;
	k = keys;
	next = (char *)keys + info.key_size;
	err = bpf_map_get_next_key(fd, NULL, next);
	while (!err && n <= info.max_entries) {
		n++;
		memcpy(k, next, info.key_size);
		err = bpf_map_get_next_key(fd, k, next);
	}
	if (err && errno != ENOENT)
		n = -1;
done:
	free(keys);
	free(vals);
	return n;
}

int loader_ringbuf_use(struct loader *l, unsigned long *used, __u32 *size)
{
	long page = sysconf(_SC_PAGESIZE);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	unsigned long cons, prod;
	int fd = l->proc ? loader_map_fd(l, PS_PIN_EVENTS) : -ENOENT, i;

	if (fd < 0)
		return fd;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	/* the consumer position page, then the producer's (read-only) */
	for (i = 0; i < 2; i++) {
		if (l->rb_pos[i])
			continue;
		l->rb_pos[i] = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, i * page);
		if (l->rb_pos[i] == MAP_FAILED) {
			l->rb_pos[i] = NULL;
			return -errno;
		}
	}
	cons = __atomic_load_n((unsigned long *)l->rb_pos[0], __ATOMIC_ACQUIRE);
	prod = __atomic_load_n((unsigned long *)l->rb_pos[1], __ATOMIC_ACQUIRE);
	*used = prod >= cons ? prod - cons : 0;
	*size = info.max_entries;
	return 0;
}

static bool link_alive(struct bpf_link *link)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd = link ? bpf_link__fd(link) : -1;

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len);
}

static bool pinned(struct loader *l, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", l->dir, name);
	return !access(path, F_OK);
}

int loader_programs(struct loader *l, struct loader_prog *out, int max)
{
	const struct bpf_object_skeleton *sk[2] = {
		l->proc ? l->proc->skeleton : NULL, l->sock ? l->sock->skeleton : NULL,
	};
	int n = 0, i, j, c;

	for (i = 0; i < 2; i++) {
		if (!sk[i])
			continue;
		for (j = 0; j < sk[i]->prog_cnt && n < max; j++) {
			const struct bpf_prog_skeleton *ps = (const void *)
				((const char *)sk[i]->progs + (size_t)j * sk[i]->prog_skel_sz);
			struct bpf_program *prog = *ps->prog;
			struct bpf_link *link = *ps->link;

			const char *sec = bpf_program__section_name(prog);

			out[n].name = ps->name;
			out[n].kind = "tracepoint";
			if (sec && !strncmp(sec, "cgroup/", 7)) {
				/* attached by hand to the cgroup v2 root */
				out[n].kind = "cgroup";
				link = NULL;
				for (c = 0; c < LOADER_SOCK_LINKS; c++)
					if (sock_link_prog(l, c) == prog)
						link = l->sock_links[c];
			}
			out[n++].ok = link_alive(link);
		}
	}
	if (l->flow && n + 3 <= max) {
		out[n++] = (struct loader_prog){ "tc_ingress", "tc",
						 pinned(l, PS_PIN_PROG_TC_INGRESS) };
		out[n++] = (struct loader_prog){ "tc_egress", "tc",
						 pinned(l, PS_PIN_PROG_TC_EGRESS) };
		out[n++] = (struct loader_prog){ "xdp_pod", "xdp",
						 pinned(l, PS_PIN_PROG_XDP) };
	}
	return n;
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
		if (l->sock)
			obj_unpin(l->sock->obj);
		snprintf(path, sizeof(path), "%s/%s", l->dir, PS_PIN_PROG_TC_INGRESS);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", l->dir, PS_PIN_PROG_TC_EGRESS);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", l->dir, PS_PIN_PROG_XDP);
		unlink(path);
		rmdir(l->dir);
	}
	for (int i = 0; i < LOADER_SOCK_LINKS; i++) {
		bpf_link__destroy(l->sock_links[i]);
		l->sock_links[i] = NULL;
	}
	for (int i = 0; i < 2; i++)
		if (l->rb_pos[i])
			munmap(l->rb_pos[i], sysconf(_SC_PAGESIZE));
	l->rb_pos[0] = l->rb_pos[1] = NULL;
	if (l->cgroup_fd > 0)
		close(l->cgroup_fd);
	l->cgroup_fd = -1;
	process_bpf__destroy(l->proc);
	flow_bpf__destroy(l->flow);
	sock_bpf__destroy(l->sock);
	l->sock = NULL;
	l->proc = NULL;
	l->flow = NULL;
	if (l->dir_fd >= 0)
		close(l->dir_fd);
	l->dir_fd = -1;
	free(l->dir);
	l->dir = NULL;
}
