// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "podsentry.h"
#include "cni/shared/util.h"
#include "cni/shared/pod.h"
#include "cni/shared/addr.h"
#include "cni/shared/text.h"
#include "netlink/link.h"

/* A path from the environment in a message: visible, not raw. */
#define PATH_ESC_LEN 160

static const char *path_esc(char buf[PATH_ESC_LEN], const char *path)
{
	if (text_escape(buf, PATH_ESC_LEN - 3, path, strlen(path), 0) >=
	    PATH_ESC_LEN - 3)
		strcat(buf, "...");
	return buf;
}

__u32 pod_netns_ino(const char *path, char *err)
{
	char q[PATH_ESC_LEN];
	struct stat sb;

	if (stat(path, &sb)) {
		err_fmt(err, POD_ERR_LEN, "netns %s: %s", path_esc(q, path),
			strerror(errno));
		return 0;
	}
	return (__u32)sb.st_ino;
}

static const char *file_kind(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR:
		return "a folder";
	case S_IFREG:
		return "a regular file";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	}
	return "not a namespace file";
}

static const char *ns_kind(int type)
{
	switch (type) {
	case CLONE_NEWNS:
		return "mount";
	case CLONE_NEWUTS:
		return "uts";
	case CLONE_NEWIPC:
		return "ipc";
	case CLONE_NEWUSER:
		return "user";
	case CLONE_NEWPID:
		return "pid";
	case CLONE_NEWCGROUP:
		return "cgroup";
	}
	return "non-network";
}

/* Is the file at path (the host's netns) the one of sb? */
static bool same_file(const char *path, const struct stat *sb)
{
	struct stat h;

	return !stat(path, &h) && h.st_dev == sb->st_dev &&
	       h.st_ino == sb->st_ino;
}

int pod_netns_open(const char *path, __u32 *ino, char *err)
{
	char q[PATH_ESC_LEN], self[64];
	struct statfs fs;
	struct stat sb;
	int pfd, fd, type, ret;

	/* O_PATH opens no device and waits on no FIFO; the checks and the
	 * netns entered later are the same file. */
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &sb) || fstatfs(pfd, &fs)) {
		ret = -errno;
		err_fmt(err, POD_ERR_LEN, "netns %s: %s", path_esc(q, path),
			strerror(-ret));
		goto fail;
	}
	if (fs.f_type != NSFS_MAGIC) {
		err_fmt(err, POD_ERR_LEN, "netns %s: %s, not a network namespace",
			path_esc(q, path), file_kind(sb.st_mode));
		ret = -EINVAL;
		goto fail;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		err_fmt(err, POD_ERR_LEN, "netns %s: %s", path_esc(q, path),
			strerror(-ret));
		goto fail;
	}
	close(pfd);
	pfd = fd;
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		err_fmt(err, POD_ERR_LEN, "netns %s: a %s namespace, not a network namespace",
			path_esc(q, path), ns_kind(type));
		ret = -EINVAL;
		goto fail;
	}
	/* The plugin runs in the host's netns (so does init): a "pod" there
	 * would be every host process. */
	if (same_file("/proc/self/ns/net", &sb) ||
	    same_file("/proc/1/ns/net", &sb)) {
		err_fmt(err, POD_ERR_LEN,
			"netns %s: is the host's network namespace (net:[%lu]), not a pod's",
			path_esc(q, path), (unsigned long)sb.st_ino);
		ret = -EPERM;
		goto fail;
	}
	*ino = (__u32)sb.st_ino;
	return fd;
fail:
	if (pfd >= 0)
		close(pfd);
	return ret;
}

static int host_link(struct pod_state *st, int netns_fd, char *err)
{
	struct link_info inside, host;
	struct link_addr addrs[STATE_IPS_MAX];
	char q[PATH_ESC_LEN];
	int ret, n = 0;
	struct nl nl;

	ret = link_in_netns_fd(netns_fd, path_esc(q, st->netns), st->ifname,
			       &inside, addrs, STATE_IPS_MAX, &n, err);
	if (ret)
		return ret;
	if (!inside.link || inside.link == inside.ifindex) {
		err_fmt(err, POD_ERR_LEN,
			"link %s in netns %s: has no peer (kind \"%s\"), not a veth",
			st->ifname, path_esc(q, st->netns), inside.kind);
		return -ENODEV;
	}
	ret = nl_open(&nl);
	if (!ret)
		ret = link_by_index(&nl, inside.link, &host);
	if (ret) {
		err_fmt(err, POD_ERR_LEN, "peer of %s in netns %s: %s",
			st->ifname, path_esc(q, st->netns), nl.err);
		nl_close(&nl);
		return ret;
	}
	nl_close(&nl);
	/* The index is the peer's in its own netns: make sure the link of
	 * that index here really is the other end. */
	if (host.link != inside.ifindex) {
		err_fmt(err, POD_ERR_LEN,
			"peer of %s in netns %s: ifindex %d here is %s, whose peer is ifindex %d, not %d",
			st->ifname, path_esc(q, st->netns), inside.link,
			host.name, host.link, inside.ifindex);
		return -ENODEV;
	}
	st->host_ifindex = host.ifindex;
	snprintf(st->host_ifname, sizeof(st->host_ifname), "%s", host.name);
	/* The pod's addresses are what its interface has, whatever a
	 * caller's prevResult says. */
	memcpy(st->ips, addrs, n * sizeof(addrs[0]));
	st->nips = n;
	return 0;
}

int pod_host_link(struct pod_state *st, char *err)
{
	__u32 ino;
	int fd = pod_netns_open(st->netns, &ino, err), ret;

	if (fd < 0)
		return fd;
	ret = host_link(st, fd, err);
	close(fd);
	return ret;
}

int pod_host_link_fd(struct pod_state *st, int netns_fd, char *err)
{
	return host_link(st, netns_fd, err);
}

static void ip_key(const struct link_addr *a, struct ps_ip_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = a->family;
	memcpy(k->addr, a->addr, a->family == AF_INET ? 4 : 16);
}

static int map_fail(char *err, const char *map, const char *what, int ret)
{
	err_fmt(err, POD_ERR_LEN, "map %s: %s: %s", map, what, strerror(-ret));
	return ret;
}

/* Is slot some pod's in the pods map? */
static bool slot_live(int pods, __u32 slot)
{
	__u32 key, *prev = NULL, next;
	struct ps_pod pod;

	while (!bpf_map_get_next_key(pods, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(pods, &key, &pod) && pod.slot == slot)
			return true;
	}
	return false;
}

/* pod_ip[a] = slot unless another live pod's slot holds it: 0 when the
 * entry is slot's, 1 when it is another's, or a negative errno. An entry
 * of a slot no pod has any more is stale and taken over. */
static int ip_claim(const struct pins *p, const struct link_addr *a,
		    __u32 slot)
{
	struct ps_ip_key k;
	__u32 cur;

	ip_key(a, &k);
	if (!bpf_map_update_elem(p->pod_ip, &k, &slot, BPF_NOEXIST))
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (bpf_map_lookup_elem(p->pod_ip, &k, &cur))
		cur = 0; /* gone meanwhile */
	if (cur == slot)
		return 0;
	if (cur && slot_live(p->pods, cur))
		return 1;
	if (bpf_map_update_elem(p->pod_ip, &k, &slot, BPF_ANY))
		return -errno;
	return 0;
}

int pod_register(const struct pins *p, struct pod_state *st, char *err)
{
	struct ps_pod pod = { .slot = st->slot, .flags = st->flags };
	struct ps_pod_iface pi = { .slot = st->slot, .netns_ino = st->netns_ino };
	__u32 ino = st->netns_ino, ifindex = st->host_ifindex;
	char what[64];
	int i, r, kept = 0;

	if (bpf_map_update_elem(p->pods, &ino, &pod, BPF_ANY))
		return map_fail(err, PS_PIN_PODS, "update", -errno);
	if (bpf_map_update_elem(p->pod_ifindex, &ifindex, &pi, BPF_ANY)) {
		snprintf(what, sizeof(what), "update ifindex %u", ifindex);
		return map_fail(err, PS_PIN_POD_IFINDEX, what, -errno);
	}
	if (ifindex < PS_IFINDEX_LOW &&
	    bpf_map_update_elem(p->pod_ifindex_low, &ifindex, &pi, BPF_ANY)) {
		snprintf(what, sizeof(what), "update ifindex %u", ifindex);
		return map_fail(err, PS_PIN_POD_IFINDEX_LOW, what, -errno);
	}
	st->nips_held = 0;
	for (i = 0; i < st->nips; i++) {
		r = ip_claim(p, &st->ips[i], st->slot);
		if (r < 0) {
			st->nips = kept + (st->nips - i);
			memmove(&st->ips[kept], &st->ips[i],
				(st->nips - kept) * sizeof(st->ips[0]));
			addr_format(&st->ips[kept], what, sizeof(what));
			return map_fail(err, PS_PIN_POD_IP, what, r);
		}
		if (r)
			st->ips_held[st->nips_held++] = st->ips[i];
		else
			st->ips[kept++] = st->ips[i];
	}
	st->nips = kept;
	return 0;
}

/* Delete key when its value starts with slot (every value does). */
static int map_delete_if(int fd, const void *key, __u32 slot, const char *map,
			 char *err)
{
	__u32 val[2];

	if (fd < 0 || bpf_map_lookup_elem(fd, key, val))
		return 0;
	if (val[0] != slot)
		return 0; /* someone else's now */
	if (bpf_map_delete_elem(fd, key) && errno != ENOENT)
		return map_fail(err, map, "delete", -errno);
	return 0;
}

/* Clear the array entry at key when it holds slot. */
static int array_clear_if(int fd, const void *key, __u32 slot,
			  const char *map, char *err)
{
	struct ps_pod_iface cur, none = {};

	if (fd < 0 || bpf_map_lookup_elem(fd, key, &cur) || cur.slot != slot)
		return 0;
	if (bpf_map_update_elem(fd, key, &none, BPF_EXIST))
		return map_fail(err, map, "clear", -errno);
	return 0;
}

int pod_unregister(const struct pins *p, const struct pod_state *st,
		   bool keep_netns, bool keep_slot, char *err)
{
	__u32 ino = st->netns_ino, ifindex = st->host_ifindex, slot = st->slot;
	struct ps_ip_key k;
	int i, ret = 0, r;

	if (!keep_netns && ino)
		ret = map_delete_if(p->pods, &ino, slot, PS_PIN_PODS, err);
	if (ifindex) {
		if (ifindex < PS_IFINDEX_LOW) {
			r = array_clear_if(p->pod_ifindex_low, &ifindex, slot,
					   PS_PIN_POD_IFINDEX_LOW, err);
			ret = ret ? ret : r;
		}
		r = map_delete_if(p->pod_ifindex, &ifindex, slot,
				  PS_PIN_POD_IFINDEX, err);
		ret = ret ? ret : r;
	}
	for (i = 0; i < st->nips; i++) {
		ip_key(&st->ips[i], &k);
		r = map_delete_if(p->pod_ip, &k, slot, PS_PIN_POD_IP, err);
		ret = ret ? ret : r;
	}
	if (!keep_slot) {
		r = pod_stats_zero(p->pod_stats, slot);
		if (r && !ret)
			ret = map_fail(err, PS_PIN_POD_STATS, "zero", r);
	}
	return ret;
}

int pod_stats_zero(int fd, __u32 slot)
{
	int ncpu = libbpf_num_possible_cpus(), ret = 0;
	struct ps_pod_stats *zero;

	if (fd < 0)
		return 0;
	if (ncpu < 0)
		return ncpu;
	zero = calloc(ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	/* E2BIG: beyond the array; ENOENT: a hash (pins of an older
	 * daemon) without that slot */
	if (bpf_map_update_elem(fd, &slot, zero, BPF_EXIST) && errno != E2BIG &&
	    errno != ENOENT)
		ret = -errno;
	free(zero);
	return ret;
}

int pod_attach(const struct pins *p, struct pod_state *st, char *err)
{
	int ret;

	ret = tc_attach(st->host_ifindex, st->host_ifname, BPF_TC_INGRESS,
			p->tc_ingress, err);
	if (ret)
		return ret;
	st->attached |= ATTACHED_TC_INGRESS;
	ret = tc_attach(st->host_ifindex, st->host_ifname, BPF_TC_EGRESS,
			p->tc_egress, err);
	if (ret)
		return ret;
	st->attached |= ATTACHED_TC_EGRESS;
	if (!st->xdp)
		return 0;
	ret = xdp_attach(st->host_ifindex, st->host_ifname, p->xdp, err);
	if (ret)
		return ret;
	st->attached |= ATTACHED_XDP;
	return 0;
}

/* Is the link at st's host ifindex still the one we attached to? */
static int pod_link_same(const struct pod_state *st, char *err)
{
	struct link_info li;
	struct nl nl;
	int ret;

	if (!st->host_ifindex)
		return 0;
	ret = nl_open(&nl);
	if (ret) {
		err_fmt(err, POD_ERR_LEN, "%s", nl.err);
		return ret;
	}
	ret = link_by_index(&nl, st->host_ifindex, &li);
	nl_close(&nl);
	if (ret == -ENODEV)
		return 0;
	if (ret) {
		err_fmt(err, POD_ERR_LEN, "%s", nl.err);
		return ret;
	}
	return !strcmp(li.name, st->host_ifname);
}

int pod_detach(struct pod_state *st, char *err)
{
	int ret = pod_link_same(st, err), r;
	char more[POD_ERR_LEN];

	if (ret <= 0)
		return ret;
	/* Try every detach; report the first failure. */
	ret = tc_detach(st->host_ifindex, st->host_ifname, BPF_TC_INGRESS, err);
	r = tc_detach(st->host_ifindex, st->host_ifname, BPF_TC_EGRESS,
		      ret ? more : err);
	ret = ret ? ret : r;
	if (st->attached & ATTACHED_XDP) {
		r = xdp_detach(st->host_ifindex, st->host_ifname, 0,
			       ret ? more : err);
		ret = ret ? ret : r;
	}
	if (!ret)
		st->attached = 0;
	return ret;
}

static int verify_map(int fd, const void *key, const void *want, size_t len,
		      const char *map, const char *what, char *err)
{
	__u8 val[16];

	if (bpf_map_lookup_elem(fd, key, val)) {
		err_fmt(err, POD_ERR_LEN, "map %s: no entry for %s", map, what);
		return -ENOENT;
	}
	if (memcmp(val, want, len)) {
		err_fmt(err, POD_ERR_LEN, "map %s: entry for %s is not slot %u",
			map, what, *(const __u32 *)want);
		return -ESTALE;
	}
	return 0;
}

static int verify_tc(const struct pins *p, const struct pod_state *st,
		     enum bpf_tc_attach_point point, char *err)
{
	int fd = point == BPF_TC_INGRESS ? p->tc_ingress : p->tc_egress;
	__u32 want = prog_id_of(fd), id;
	int ret;

	ret = tc_query(st->host_ifindex, st->host_ifname, point, &id, err);
	if (ret)
		return ret;
	if (!id) {
		err_fmt(err, POD_ERR_LEN,
			"tc %s filter on %s (handle 0x%x prio 0x%x): missing",
			tc_point_name(point), st->host_ifname, PS_TC_HANDLE,
			PS_TC_PRIORITY);
		return -ENOENT;
	}
	if (id != want) {
		err_fmt(err, POD_ERR_LEN,
			"tc %s filter on %s: runs program id %u, not podsentry's %u",
			tc_point_name(point), st->host_ifname, id, want);
		return -ESTALE;
	}
	return 0;
}

static int verify_link(const struct pod_state *st, char *err)
{
	struct pod_state now = *st;
	__u32 ino = pod_netns_ino(st->netns, err);
	int ret;

	if (!ino)
		return -ENOENT;
	if (ino != st->netns_ino) {
		err_fmt(err, POD_ERR_LEN, "netns %s: inode %u, recorded %u",
			st->netns, ino, st->netns_ino);
		return -ESTALE;
	}
	ret = pod_host_link(&now, err);
	if (ret)
		return ret;
	if (now.host_ifindex != st->host_ifindex ||
	    strcmp(now.host_ifname, st->host_ifname)) {
		err_fmt(err, POD_ERR_LEN,
			"host veth of %s: is %s (ifindex %d), recorded %s (ifindex %d)",
			st->ifname, now.host_ifname, now.host_ifindex,
			st->host_ifname, st->host_ifindex);
		return -ESTALE;
	}
	return 0;
}

int pod_verify(const struct pins *p, const struct pod_state *st, char *err)
{
	struct ps_pod pod = { .slot = st->slot, .flags = st->flags };
	struct ps_pod_iface pi = { .slot = st->slot, .netns_ino = st->netns_ino };
	__u32 ino = st->netns_ino, ifindex = st->host_ifindex, slot = st->slot;
	char what[64], ip[64];
	struct ps_ip_key k;
	__u32 id;
	int i, ret;

	err[0] = 0;
	ret = verify_link(st, err);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "netns %u", ino);
	ret = verify_map(p->pods, &ino, &pod, sizeof(pod), PS_PIN_PODS, what,
			 err);
	if (ret)
		return ret;
	snprintf(what, sizeof(what), "ifindex %u (%s)", ifindex,
		 st->host_ifname);
	ret = verify_map(p->pod_ifindex, &ifindex, &pi, sizeof(pi),
			 PS_PIN_POD_IFINDEX, what, err);
	if (!ret && ifindex < PS_IFINDEX_LOW)
		ret = verify_map(p->pod_ifindex_low, &ifindex, &pi, sizeof(pi),
				 PS_PIN_POD_IFINDEX_LOW, what, err);
	for (i = 0; !ret && i < st->nips; i++) {
		ip_key(&st->ips[i], &k);
		addr_format(&st->ips[i], ip, sizeof(ip));
		ret = verify_map(p->pod_ip, &k, &slot, sizeof(slot),
				 PS_PIN_POD_IP, ip, err);
	}
	if (!ret)
		ret = verify_tc(p, st, BPF_TC_INGRESS, err);
	if (!ret)
		ret = verify_tc(p, st, BPF_TC_EGRESS, err);
	if (ret || !(st->attached & ATTACHED_XDP))
		return ret;
	ret = xdp_query(st->host_ifindex, st->host_ifname, &id, err);
	if (!ret && id != prog_id_of(p->xdp)) {
		err_fmt(err, POD_ERR_LEN, "xdp on %s: program id %u, not podsentry's",
			st->host_ifname, id);
		ret = -ENOENT;
	}
	return ret;
}
