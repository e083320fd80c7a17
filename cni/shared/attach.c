// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/if_link.h>

#include "podsentry.h"
#include "cni/shared/attach.h"
#include "cni/shared/util.h"

static int attach_fail(char *err, int ret, const char *fmt, const char *a,
		       const char *b)
{
	char what[ATTACH_ERR_LEN];

	err_fmt(what, sizeof(what), fmt, a, b);
	err_fmt(err, ATTACH_ERR_LEN, "%s: %s", what, strerror(-ret));
	return ret;
}

static int pin_get(const char *bpffs, const char *name, int *fd, char *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", bpffs, name);
	*fd = bpf_obj_get(path);
	if (*fd < 0) {
		*fd = -1;
		return attach_fail(err, -errno, "pin %s%s", path, "");
	}
	return 0;
}

void pins_close(struct pins *p)
{
	int *fds[] = { &p->tc_ingress, &p->tc_egress, &p->xdp, &p->pods,
		       &p->pod_ifindex, &p->pod_ifindex_low, &p->pod_ip,
		       &p->pod_stats };
	unsigned int i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int pins_open(const char *bpffs, bool xdp, struct pins *p, char *err)
{
	int ret;

	p->tc_ingress = p->tc_egress = p->xdp = -1;
	p->pods = p->pod_ifindex = p->pod_ifindex_low = -1;
	p->pod_ip = p->pod_stats = -1;
	ret = pin_get(bpffs, PS_PIN_PODS, &p->pods, err);
	if (!ret)
		ret = pin_get(bpffs, PS_PIN_POD_IFINDEX, &p->pod_ifindex, err);
	if (!ret)
		ret = pin_get(bpffs, PS_PIN_POD_IFINDEX_LOW,
			      &p->pod_ifindex_low, err);
	if (!ret)
		ret = pin_get(bpffs, PS_PIN_POD_IP, &p->pod_ip, err);
	if (!ret)
		ret = pin_get(bpffs, PS_PIN_POD_STATS, &p->pod_stats, err);
	if (!ret)
		ret = pin_get(bpffs, PS_PIN_PROG_TC_INGRESS, &p->tc_ingress, err);
	if (!ret)
		ret = pin_get(bpffs, PS_PIN_PROG_TC_EGRESS, &p->tc_egress, err);
	if (!ret && xdp)
		ret = pin_get(bpffs, PS_PIN_PROG_XDP, &p->xdp, err);
	if (ret)
		pins_close(p);
	return ret;
}

int pins_check(const char *bpffs, bool xdp, char *err)
{
	static const char *const names[] = {
		PS_PIN_PODS, PS_PIN_POD_IFINDEX, PS_PIN_POD_IFINDEX_LOW,
		PS_PIN_POD_IP,
		PS_PIN_POD_STATS, PS_PIN_PROG_TC_INGRESS,
		PS_PIN_PROG_TC_EGRESS, PS_PIN_PROG_XDP,
	};
	char path[PATH_MAX];
	unsigned int i, n = sizeof(names) / sizeof(names[0]) - !xdp;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", bpffs, names[i]);
		if (access(path, F_OK))
			return attach_fail(err, -errno, "pin %s%s", path, "");
	}
	return 0;
}

const char *tc_point_name(enum bpf_tc_attach_point point)
{
	return point == BPF_TC_INGRESS ? "ingress" : "egress";
}

__u32 prog_id_of(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

int tc_attach(int ifindex, const char *ifname, enum bpf_tc_attach_point point,
	      int prog_fd, char *err)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PS_TC_HANDLE,
			    .priority = PS_TC_PRIORITY, .prog_fd = prog_fd,
			    .flags = BPF_TC_F_REPLACE);
	int ret;

	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return attach_fail(err, ret, "create clsact on %s%s", ifname, "");
	ret = bpf_tc_attach(&hook, &opts);
	if (ret)
		return attach_fail(err, ret, "attach tc %s on %s",
				   tc_point_name(point), ifname);
	return 0;
}

int tc_detach(int ifindex, const char *ifname, enum bpf_tc_attach_point point,
	      char *err)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PS_TC_HANDLE,
			    .priority = PS_TC_PRIORITY);
	int ret;

	ret = bpf_tc_detach(&hook, &opts);
	/* No clsact, no filter or no device: nothing of ours is there. */
	if (ret == -ENOENT || ret == -EINVAL || ret == -ENODEV)
		return 0;
	if (ret)
		return attach_fail(err, ret, "detach tc %s from %s",
				   tc_point_name(point), ifname);
	return 0;
}

int tc_query(int ifindex, const char *ifname, enum bpf_tc_attach_point point,
	     __u32 *prog_id, char *err)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PS_TC_HANDLE,
			    .priority = PS_TC_PRIORITY);
	int ret;

	*prog_id = 0;
	ret = bpf_tc_query(&hook, &opts);
	if (ret == -ENOENT || ret == -EINVAL)
		return 0;
	if (ret)
		return attach_fail(err, ret, "query tc %s on %s",
				   tc_point_name(point), ifname);
	*prog_id = opts.prog_id;
	return 0;
}

int xdp_attach(int ifindex, const char *ifname, int prog_fd, char *err)
{
	int ret = bpf_xdp_attach(ifindex, prog_fd, 0, NULL);

	if (ret)
		return attach_fail(err, ret, "attach xdp on %s%s", ifname, "");
	return 0;
}

int xdp_query(int ifindex, const char *ifname, __u32 *prog_id, char *err)
{
	int ret;

	*prog_id = 0;
	ret = bpf_xdp_query_id(ifindex, 0, prog_id);
	if (ret)
		return attach_fail(err, ret, "query xdp on %s%s", ifname, "");
	return 0;
}

/* The name of podsentry's XDP program (its function in bpf/flow.bpf.c). */
#define PS_XDP_PROG_NAME "xdp_pod"

int xdp_detach(int ifindex, const char *ifname, __u32 prog_id, char *err)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	struct bpf_prog_info info = {};
	__u32 cur, len = sizeof(info);
	int ret, fd;

	ret = xdp_query(ifindex, ifname, &cur, err);
	if (ret == -ENODEV)
		return 0;
	if (ret)
		return ret;
	if (!cur || (prog_id && cur != prog_id))
		return 0; /* not ours */
	fd = bpf_prog_get_fd_by_id(cur);
	if (fd < 0)
		return errno == ENOENT ? 0 : attach_fail(err, -errno,
			"read the xdp program on %s%s", ifname, "");
	/* without a recorded id, only a program of podsentry's is taken off */
	if (!prog_id && (bpf_obj_get_info_by_fd(fd, &info, &len) ||
			 strcmp(info.name, PS_XDP_PROG_NAME))) {
		close(fd);
		return 0;
	}
	/* and only if it is still the one attached */
	opts.old_prog_fd = fd;
	ret = bpf_xdp_detach(ifindex, XDP_FLAGS_REPLACE, &opts);
	close(fd);
	if (ret && ret != -ENODEV && ret != -EEXIST)
		return attach_fail(err, ret, "detach xdp from %s%s", ifname, "");
	return 0;
}
