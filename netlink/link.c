// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "netlink/link.h"

static int link_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
		return MNL_CB_OK; /* newer than our headers: skip */
	tb[type] = a;
	return MNL_CB_OK;
}

static void link_kind(const struct nlattr *linkinfo, struct link_info *out)
{
	const struct nlattr *a;

	if (mnl_attr_validate(linkinfo, MNL_TYPE_NESTED) < 0)
		return;
	mnl_attr_for_each_nested(a, linkinfo) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(out->kind, sizeof(out->kind), "%s",
				 mnl_attr_get_str(a));
	}
}

static int link_parse(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFLA_MAX + 1] = {};
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct link_info *out = data;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifm))
		return MNL_CB_ERROR;
	memset(out, 0, sizeof(*out));
	out->ifindex = ifm->ifi_index;
	out->flags = ifm->ifi_flags;
	out->link_netnsid = -1;
	if (mnl_attr_parse(nlh, sizeof(*ifm), link_attr, tb) < 0)
		return MNL_CB_ERROR;
	if (tb[IFLA_IFNAME] &&
	    mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) == 0)
		snprintf(out->name, sizeof(out->name), "%s",
			 mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_LINK] && mnl_attr_validate(tb[IFLA_LINK], MNL_TYPE_U32) == 0)
		out->link = (int)mnl_attr_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_LINK_NETNSID] &&
	    mnl_attr_validate(tb[IFLA_LINK_NETNSID], MNL_TYPE_U32) == 0)
		out->link_netnsid = (int)mnl_attr_get_u32(tb[IFLA_LINK_NETNSID]);
	if (tb[IFLA_MTU] && mnl_attr_validate(tb[IFLA_MTU], MNL_TYPE_U32) == 0)
		out->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_LINKINFO])
		link_kind(tb[IFLA_LINKINFO], out);
	return MNL_CB_OK;
}

static int link_get(struct nl *nl, int ifindex, const char *name,
		    struct link_info *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_new(nl, buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	int err;

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	/* Only the requested link, without per-VF and stats blobs. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	out->ifindex = 0;
	err = nl_request(nl, nlh, link_parse, out);
	if (!err && !out->ifindex)
		err = -ENODEV;
	if (err && !nl->err[0])
		snprintf(nl->err, sizeof(nl->err), "%s", strerror(-err));
	if (err && name)
		nl_err_wrap(nl->err, "link %s", name);
	else if (err)
		nl_err_wrap(nl->err, "link ifindex %d", ifindex);
	return err;
}

int link_by_name(struct nl *nl, const char *name, struct link_info *out)
{
	if (!name[0] || strlen(name) >= IFNAMSIZ) {
		snprintf(nl->err, sizeof(nl->err), "link \"%s\": invalid name",
			 name);
		return -EINVAL;
	}
	return link_get(nl, 0, name, out);
}

int link_by_index(struct nl *nl, int ifindex, struct link_info *out)
{
	if (ifindex <= 0) {
		snprintf(nl->err, sizeof(nl->err), "link ifindex %d: invalid",
			 ifindex);
		return -EINVAL;
	}
	return link_get(nl, ifindex, NULL, out);
}

struct addr_walk {
	int ifindex;
	struct link_addr *out;
	int max, n;
};

static int addr_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(a, IFA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int addr_parse(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFA_MAX + 1] = {};
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_walk *w = data;
	const struct nlattr *a;
	struct link_addr *la;
	size_t len;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return MNL_CB_ERROR;
	if ((int)ifa->ifa_index != w->ifindex || w->n >= w->max)
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	if (ifa->ifa_scope == RT_SCOPE_LINK)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr, tb) < 0)
		return MNL_CB_ERROR;
	/* IFA_LOCAL is the address itself on point-to-point links. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	len = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || mnl_attr_get_payload_len(a) != len)
		return MNL_CB_OK;
	la = &w->out[w->n++];
	memset(la, 0, sizeof(*la));
	la->family = ifa->ifa_family;
	la->prefixlen = ifa->ifa_prefixlen;
	memcpy(la->addr, mnl_attr_get_payload(a), len);
	return MNL_CB_OK;
}

int link_addrs(struct nl *nl, int ifindex, struct link_addr *out, int max)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_new(nl, buf, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	struct addr_walk w = { .ifindex = ifindex, .out = out, .max = max };
	int err;

	ifa->ifa_family = AF_UNSPEC;
	ifa->ifa_index = ifindex;
	err = nl_request(nl, nlh, addr_parse, &w);
	if (err) {
		nl_err_wrap(nl->err, "addresses of ifindex %d", ifindex);
		return err;
	}
	return w.n;
}

static int link_in(struct nl *nl, const char *name, const char *ifname,
		   struct link_info *inside, struct link_addr *addrs, int max,
		   int *naddrs, char *err)
{
	int ret = link_by_name(nl, ifname, inside);

	if (!ret && addrs) {
		ret = link_addrs(nl, inside->ifindex, addrs, max);
		if (ret >= 0) {
			*naddrs = ret;
			ret = 0;
		}
	}
	if (ret) {
		snprintf(err, NL_ERR_LEN, "%s", nl->err);
		nl_err_wrap(err, "netns %s", name);
	}
	nl_close(nl);
	return ret;
}

int link_in_netns(const char *netns_path, const char *ifname,
		  struct link_info *inside, struct link_addr *addrs, int max,
		  int *naddrs, char *err)
{
	struct nl nl;
	int ret = nl_open_netns(&nl, netns_path);

	if (ret) {
		snprintf(err, NL_ERR_LEN, "%s", nl.err);
		return ret;
	}
	return link_in(&nl, netns_path, ifname, inside, addrs, max, naddrs, err);
}

int link_in_netns_fd(int netns_fd, const char *name, const char *ifname,
		     struct link_info *inside, struct link_addr *addrs, int max,
		     int *naddrs, char *err)
{
	struct nl nl;
	int ret = nl_open_netns_fd(&nl, netns_fd, name);

	if (ret) {
		snprintf(err, NL_ERR_LEN, "%s", nl.err);
		return ret;
	}
	return link_in(&nl, name, ifname, inside, addrs, max, naddrs, err);
}
