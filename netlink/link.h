/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Links and their addresses over rtnetlink, and the question every CNI
 * plugin in a chain asks: which host interface is the peer of the
 * container's interface?
 */
#ifndef PS_NETLINK_LINK_H
#define PS_NETLINK_LINK_H

#include <net/if.h>
#include <linux/types.h>

#include "netlink/nl.h"

struct link_info {
	int ifindex;
	char name[IFNAMSIZ];
	char kind[16];	   /* IFLA_INFO_KIND ("veth", "bridge"…), or "" */
	int link;	   /* IFLA_LINK: the peer's ifindex, or 0 */
	int link_netnsid;  /* IFLA_LINK_NETNSID, or -1 when absent */
	unsigned int flags; /* IFF_* */
	unsigned int mtu;
};

#define LINK_ADDRS_MAX 16

struct link_addr {
	int family; /* AF_INET or AF_INET6 */
	__u8 addr[16];
	__u8 prefixlen;
};

/* Look a link up by name or by index. -ENODEV when there is none. */
int link_by_name(struct nl *nl, const char *name, struct link_info *out);
int link_by_index(struct nl *nl, int ifindex, struct link_info *out);
/* The addresses on a link (link-local IPv6 skipped); returns how many
 * were stored in out (at most max) or a negative errno. */
int link_addrs(struct nl *nl, int ifindex, struct link_addr *out, int max);

/* Inside the netns at netns_path, the link named ifname: its IFLA_LINK is
 * the host peer's ifindex. Fills inside and, when addrs is not NULL, up
 * to max of its addresses (*naddrs). On failure err (NL_ERR_LEN bytes)
 * names the interface, the netns and the cause. */
int link_in_netns(const char *netns_path, const char *ifname,
		  struct link_info *inside, struct link_addr *addrs, int max,
		  int *naddrs, char *err);
/* The same in the netns of an open fd (name for messages): what was
 * checked is what is read. */
int link_in_netns_fd(int netns_fd, const char *name, const char *ifname,
		     struct link_info *inside, struct link_addr *addrs, int max,
		     int *naddrs, char *err);

#endif
