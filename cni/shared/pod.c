// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "podsentry.h"
#include "cni/shared/util.h"
#include "cni/shared/pod.h"
#include "cni/shared/addr.h"
#include "netlink/link.h"

__u32 pod_netns_ino(const char *path, char *err)
{
	struct stat sb;

	if (stat(path, &sb)) {
		err_fmt(err, POD_ERR_LEN, "netns %s: %s", path, strerror(errno));
		return 0;
	}
	return (__u32)sb.st_ino;
}

int pod_host_link(struct pod_state *st, char *err)
{
	struct link_info inside, host;
	struct link_addr addrs[STATE_IPS_MAX];
	int ret, n = 0;
	struct nl nl;

	ret = link_in_netns(st->netns, st->ifname, &inside, addrs,
			    STATE_IPS_MAX, &n, err);
	if (ret)
		return ret;
	if (!inside.link || inside.link == inside.ifindex) {
		err_fmt(err, POD_ERR_LEN,
			"link %s in netns %s: has no peer (kind \"%s\"), not a veth",
			st->ifname, st->netns, inside.kind);
		return -ENODEV;
	}
	ret = nl_open(&nl);
	if (!ret)
		ret = link_by_index(&nl, inside.link, &host);
	if (ret) {
		err_fmt(err, POD_ERR_LEN, "peer of %s in netns %s: %s",
			st->ifname, st->netns, nl.err);
		nl_close(&nl);
		return ret;
	}
	nl_close(&nl);
	/* The index is the peer's in its own netns: make sure the link of
	 * that index here really is the other end. */
	if (host.link != inside.ifindex) {
		err_fmt(err, POD_ERR_LEN,
			"peer of %s in netns %s: ifindex %d here is %s, whose peer is ifindex %d, not %d",
			st->ifname, st->netns, inside.link, host.name, host.link,
			inside.ifindex);
		return -ENODEV;
	}
	st->host_ifindex = host.ifindex;
	snprintf(st->host_ifname, sizeof(st->host_ifname), "%s", host.name);
	if (!st->nips) {
		memcpy(st->ips, addrs, n * sizeof(addrs[0]));
		st->nips = n;
	}
	return 0;
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

int pod_register(const struct pins *p, const struct pod_state *st, char *err)
{
	struct ps_pod pod = { .slot = st->slot, .flags = st->flags };
	struct ps_pod_iface pi = { .slot = st->slot, .netns_ino = st->netns_ino };
	__u32 ino = st->netns_ino, ifindex = st->host_ifindex, slot = st->slot;
	struct ps_ip_key k;
	char what[64];
	int i;

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
	for (i = 0; i < st->nips; i++) {
		ip_key(&st->ips[i], &k);
		if (bpf_map_update_elem(p->pod_ip, &k, &slot, BPF_ANY)) {
			addr_format(&st->ips[i], what, sizeof(what));
			return map_fail(err, PS_PIN_POD_IP, what, -errno);
		}
	}
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
	now.nips = 1; /* the addresses are not checked here */
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
