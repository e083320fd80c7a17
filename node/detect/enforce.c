// SPDX-License-Identifier: GPL-2.0-only
/*
 * Opt-in enforcement. A rule whose action is "deny" acts only on pods
 * whose CNI config has enforce (PS_POD_ENFORCE in the pods map), through
 * the deny map the XDP program on the pod's host veth consults (CNI
 * config xdp: true): what it drops is counted in the flow with verdict
 * "dropped". A foothold quarantines the pod (every other pod of the node
 * is denied, the destinations it learned stay open); a connection rule
 * denies that destination. Entries expire after the chain window.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "podsentry.h"
#include "node/detect/engine.h"

void enforce_open(struct detect *d, const char *bpffs)
{
	char path[4096];
	bool wanted = false;
	int i;

	d->deny_fd = -1;
	for (i = 0; i < RULE_MAX; i++)
		wanted |= d->cfg->rule[i].action == ACTION_DENY;
	if (!wanted || !bpffs)
		return;
	det_fmt(path, sizeof(path), "%s/%s", bpffs, PS_PIN_DENY);
	d->deny_fd = bpf_obj_get(path);
	if (d->deny_fd < 0)
		fprintf(stderr, "podsentryd: deny map %s: %s (rules with action deny only alert)\n",
			path, strerror(errno));
}

/* The pod's slot when it may be enforced on. */
static bool pod_enforced(struct detect *d, const struct dpod *pod, __u32 *slot)
{
	struct ps_pod kp;
	__u32 netns = pod->netns;

	if (d->deny_fd < 0 || d->o.rc->pods_map_fd < 0 ||
	    bpf_map_lookup_elem(d->o.rc->pods_map_fd, &netns, &kp) ||
	    !(kp.flags & PS_POD_ENFORCE))
		return false;
	*slot = kp.slot;
	return true;
}

static int deny_put(struct detect *d, const struct ps_deny_key *k, __u32 action,
		    __u64 expire)
{
	struct ps_deny v = { .action = action };
	struct deny_entry *e;

	if (bpf_map_update_elem(d->deny_fd, k, &v, BPF_ANY)) {
		fprintf(stderr, "podsentryd: deny map update (slot %u): %s\n", k->slot,
			strerror(errno));
		return -errno;
	}
	for (e = d->denies; e; e = e->next)
		if (!memcmp(e->key, k, sizeof(*k))) {
			e->expire_ns = expire;
			return 0;
		}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	memcpy(e->key, k, sizeof(*k));
	e->expire_ns = expire;
	e->next = d->denies;
	d->denies = e;
	return 0;
}

static bool key_fill(struct ps_deny_key *k, __u32 slot, __u8 family,
		     const union ps_addr *addr, __u8 proto, int port)
{
	memset(k, 0, sizeof(*k));
	k->slot = slot;
	k->proto = proto;
	k->port = htons(port);
	k->family = family;
	memcpy(k->addr.b, addr->b, sizeof(k->addr.b));
	return (family == AF_INET || family == AF_INET6) &&
	       (proto == IPPROTO_TCP || proto == IPPROTO_UDP);
}

bool enforce_quarantine(struct detect *d, struct dpod *pod, __u64 now)
{
	struct ps_ip_key key, next, *prev = NULL;
	__u64 expire = now + d->cfg->chain_ns;
	struct ps_deny_key k;
	__u32 slot, peer;
	int i;

	if (!pod_enforced(d, pod, &slot) || d->o.rc->pod_ip_fd < 0)
		return false;
	while (!bpf_map_get_next_key(d->o.rc->pod_ip_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(d->o.rc->pod_ip_fd, &key, &peer) || peer == slot)
			continue;
		memset(&k, 0, sizeof(k));
		k.slot = slot;
		k.family = key.family;
		memcpy(k.addr.b, key.addr, sizeof(k.addr.b));
		k.proto = 6;
		deny_put(d, &k, PS_DENY_DROP, expire);
		k.proto = 17;
		deny_put(d, &k, PS_DENY_DROP, expire);
	}
	/* an exact entry without drop is an exception to the port-0 one */
	for (i = 0; i < pod->nlearned; i++)
		if (key_fill(&k, slot, pod->learned[i].family, &pod->learned[i].addr,
			     pod->learned[i].proto, pod->learned[i].port))
			deny_put(d, &k, PS_DENY_NONE, expire);
	pod->quarantined_ns = now;
	return true;
}

bool enforce_deny_conn(struct detect *d, struct dpod *pod,
		       const struct dconn *c, __u64 now)
{
	struct ps_deny_key k;
	__u32 slot;

	if (!pod_enforced(d, pod, &slot) ||
	    !key_fill(&k, slot, c->family, &c->dst_addr, c->proto_num, c->dst_port))
		return false;
	return !deny_put(d, &k, PS_DENY_DROP, now + d->cfg->chain_ns);
}

void enforce_expire(struct detect *d, __u64 now, bool all)
{
	struct deny_entry **pp = &d->denies, *e;

	while ((e = *pp)) {
		if (!all && now < e->expire_ns) {
			pp = &e->next;
			continue;
		}
		if (d->deny_fd >= 0)
			bpf_map_delete_elem(d->deny_fd, e->key);
		*pp = e->next;
		free(e);
	}
}
