// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every program of every BPF object in the build folder loads into this
 * kernel and attaches to its hook; the programs the daemon and the CNI
 * plugin rely on must be among them. Runs in a private netns (TC and XDP
 * attach to its loopback) with maps pinned in the test's bpffs folder.
 */
#include <errno.h>
#include <glob.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tests/harness.h"

static const struct {
	const char *object, *program;
} required[] = {
	{ "process.bpf.o", "ps_exec" },
	{ "process.bpf.o", "ps_fork" },
	{ "process.bpf.o", "ps_exit" },
	{ "flow.bpf.o", "tc_ingress" },
	{ "flow.bpf.o", "tc_egress" },
	{ "flow.bpf.o", "xdp_pod" },
	{ "sock.bpf.o", "ps_sendmsg4" },
	{ "sock.bpf.o", "ps_sendmsg6" },
	{ "sock.bpf.o", "ps_bind4" },
	{ "sock.bpf.o", "ps_bind6" },
	{ "sock.bpf.o", "ps_sock_release" },
	{ "sock.bpf.o", "ps_sock_state" },
	{ "sock.bpf.o", "ps_sock_send" },
	{ "sock.bpf.o", "ps_syn_again" },
};

static char build_dir[4096], pin_dir[4096];
static int cgroup_fd = -1;

static int cgroup2_root_open(void)
{
	char line[1024], dev[256], mnt[512], type[64];
	FILE *f = fopen("/proc/mounts", "re");
	int fd = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %511s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			break;
		}
	}
	fclose(f);
	return fd;
}

static int tc_attach(struct bpf_program *prog, bool ingress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1,
		    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(prog),
		    .flags = BPF_TC_F_REPLACE, .handle = 1, .priority = 1);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		return err;
	opts.prog_fd = opts.prog_id = opts.flags = 0;
	return bpf_tc_detach(&hook, &opts);
}

/* Attach one loaded program to the hook its type needs, then detach. */
static int prog_attach(struct bpf_program *prog, char *why, size_t len)
{
	enum bpf_prog_type type = bpf_program__type(prog);
	struct bpf_link *link = NULL;
	int err;

	switch (type) {
	case BPF_PROG_TYPE_SCHED_CLS:
		err = tc_attach(prog, true) ?: tc_attach(prog, false);
		snprintf(why, len, "tc attach on lo: %s", strerror(-err));
		return err;
	case BPF_PROG_TYPE_XDP:
		err = bpf_xdp_attach(1, bpf_program__fd(prog), XDP_FLAGS_SKB_MODE, NULL);
		if (!err)
			err = bpf_xdp_detach(1, XDP_FLAGS_SKB_MODE, NULL);
		snprintf(why, len, "xdp attach on lo: %s", strerror(-err));
		return err;
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
	case BPF_PROG_TYPE_CGROUP_SOCK:
	case BPF_PROG_TYPE_CGROUP_SKB:
	case BPF_PROG_TYPE_SOCK_OPS:
		link = bpf_program__attach_cgroup(prog, cgroup_fd);
		break;
	default:
		link = bpf_program__attach(prog);
		break;
	}
	err = libbpf_get_error(link);
	if (err) {
		snprintf(why, len, "attach: %s", strerror(-err));
		return err;
	}
	bpf_link__destroy(link);
	return 0;
}

static int object_check(const char *path, int *progs_ok)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct bpf_object *obj = bpf_object__open_file(path, &opts);
	struct bpf_program *prog;
	char why[256];
	int err, failed = 0;

	err = libbpf_get_error(obj);
	if (err) {
		printf("not ok load/%s: open: %s\n", base, strerror(-err));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		printf("not ok load/%s: load: %s (verifier log on stderr)\n", base,
		       strerror(-err));
		bpf_object__close(obj);
		return 1;
	}
	printf("ok load/%s\n", base);
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);

		if (prog_attach(prog, why, sizeof(why))) {
			printf("not ok attach/%s/%s: %s\n", base, name, why);
			failed++;
			continue;
		}
		printf("ok attach/%s/%s\n", base, name);
		for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
			if (!strcmp(required[i].object, base) &&
			    !strcmp(required[i].program, name))
				progs_ok[i] = 1;
	}
	bpf_object__unpin_maps(obj, NULL);
	bpf_object__close(obj);
	return failed;
}

int main(int argc, char **argv)
{
	int progs_ok[sizeof(required) / sizeof(required[0])] = {};
	int failed = 0;
	char pattern[4200];
	glob_t g;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(build_dir, sizeof(build_dir), "%s", test_env("PS_BUILD", "build"));
	snprintf(pin_dir, sizeof(pin_dir), "%s/load",
		 test_env("PS_TEST_BPFFS", "/sys/fs/bpf/pstest-load"));
	mkdir(test_env("PS_TEST_BPFFS", "/sys/fs/bpf/pstest-load"), 0700);
	mkdir(pin_dir, 0700);
	if (unshare(CLONE_NEWNET)) {
		printf("not ok setup: unshare netns: %s\n", strerror(errno));
		return 1;
	}
	system("ip link set lo up");
	cgroup_fd = cgroup2_root_open();
	if (cgroup_fd < 0) {
		printf("not ok setup: no cgroup2 mount in /proc/mounts\n");
		return 1;
	}
	snprintf(pattern, sizeof(pattern), "%s/*.bpf.o", build_dir);
	if (glob(pattern, 0, NULL, &g) || !g.gl_pathc) {
		printf("not ok setup: no BPF objects match %s\n", pattern);
		return 1;
	}
	for (i = 0; i < g.gl_pathc; i++)
		failed += object_check(g.gl_pathv[i], progs_ok);
	globfree(&g);
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (progs_ok[i])
			continue;
		printf("not ok required/%s/%s: missing or not attachable\n",
		       required[i].object, required[i].program);
		failed++;
	}
	if (!failed)
		printf("ok required-programs\n");
	rmdir(pin_dir);
	return failed ? 1 : 0;
}
