// SPDX-License-Identifier: GPL-2.0-only
/*
 * netlink/ against the real kernel: link lookup by name and index, the
 * peer of a veth inside another netns (and that the caller's netns is the
 * same afterwards), addresses, and error lines that name the object.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "tests/harness.h"
#include "netlink/link.h"

static char ns[64], host[32], path[128];

static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	return system(cmd);
}

static ino_t self_netns(void)
{
	struct stat sb;

	return stat("/proc/thread-self/ns/net", &sb) ? 0 : sb.st_ino;
}

static bool setup(void)
{
	const char *p = test_env("PS_TEST_PREFIX", "tnl");

	snprintf(ns, sizeof(ns), "%snl", p);
	snprintf(host, sizeof(host), "%sh", p);
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	sh("ip netns del %s 2>/dev/null; ip link del %s 2>/dev/null", ns, host);
	return ASSERT_OK(sh("ip netns add %s%s", ns, ""), "make netns") &&
	       ASSERT_OK(sh("ip link add %s type veth peer name eth0 netns %s",
			    host, ns), "make veth") &&
	       ASSERT_OK(sh("ip -n %s addr add 10.77.0.2/24 dev eth0 && ip -n %s link set eth0 up",
			    ns, ns), "address");
}

static void teardown(void)
{
	sh("ip netns del %s 2>/dev/null; ip link del %s 2>/dev/null", ns, host);
}

static void test_link_lookup(void)
{
	struct link_info li, by_idx;
	struct nl nl;

	if (!ASSERT_OK(nl_open(&nl), nl.err))
		return;
	if (ASSERT_OK(link_by_name(&nl, "lo", &li), nl.err) &&
	    ASSERT_EQ(li.ifindex, 1, "lo is ifindex 1") &&
	    ASSERT_OK(link_by_index(&nl, 1, &by_idx), nl.err))
		ASSERT_STREQ(by_idx.name, "lo", "ifindex 1 is lo");
	ASSERT_EQ(link_by_name(&nl, "ps-no-such0", &li), -ENODEV, "missing link");
	ASSERT_TRUE(strstr(nl.err, "link ps-no-such0") != NULL, nl.err);
	ASSERT_EQ(link_by_index(&nl, 0x7ffffff0, &li), -ENODEV, "missing index");
	ASSERT_TRUE(strstr(nl.err, "link ifindex 2147483632") != NULL, nl.err);
	ASSERT_EQ(link_by_name(&nl, "name-far-too-long-for-linux", &li), -EINVAL,
		  "long name");
	nl_close(&nl);
}

static void test_veth_peer_in_netns(void)
{
	struct link_info inside, h;
	struct link_addr addrs[4];
	char err[NL_ERR_LEN], ip[32];
	ino_t before = self_netns();
	int n = 0;
	struct nl nl;

	if (!setup())
		goto out;
	if (!ASSERT_OK(link_in_netns(path, "eth0", &inside, addrs, 4, &n, err), err))
		goto out;
	ASSERT_EQ(self_netns(), before, "back in our netns");
	ASSERT_STREQ(inside.kind, "veth", "kind");
	if (!ASSERT_OK(nl_open(&nl), nl.err))
		goto out;
	if (ASSERT_OK(link_by_name(&nl, host, &h), nl.err)) {
		ASSERT_EQ(inside.link, h.ifindex, "IFLA_LINK is the host peer");
		ASSERT_EQ(h.link, inside.ifindex, "and the peer points back");
	}
	nl_close(&nl);
	if (ASSERT_EQ(n, 1, "one address")) {
		inet_ntop(AF_INET, addrs[0].addr, ip, sizeof(ip));
		ASSERT_STREQ(ip, "10.77.0.2", "address");
		ASSERT_EQ(addrs[0].prefixlen, 24, "prefix");
	}
	ASSERT_EQ(link_in_netns(path, "eth9", &inside, NULL, 0, &n, err), -ENODEV,
		  "no eth9");
	ASSERT_TRUE(strstr(err, "link eth9") && strstr(err, path), err);
	ASSERT_EQ(self_netns(), before, "back in our netns after a failure");
	ASSERT_EQ(link_in_netns("/run/netns/ps-none-such", "eth0", &inside, NULL,
				0, &n, err), -ENOENT, "no netns");
	ASSERT_TRUE(strstr(err, "/run/netns/ps-none-such") != NULL, err);
out:
	teardown();
}

/* A request the kernel refuses comes back as its errno and, with
 * NETLINK_EXT_ACK, the kernel's own words. */
static void test_ext_ack(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	struct nlattr *nest;
	struct nl nl;
	int ret;

	if (!ASSERT_OK(nl_open(&nl), nl.err))
		return;
	nlh = nl_msg_new(&nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "lo"); /* exists: EEXIST */
	ret = nl_request(&nl, nlh, NULL, NULL);
	ASSERT_EQ(ret, -EEXIST, "create lo again");
	ASSERT_TRUE(strstr(nl.err, "File exists") != NULL, nl.err);

	nlh = nl_msg_new(&nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "psnokind0");
	nest = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "ps-no-such-kind");
	mnl_attr_nest_end(nlh, nest);
	ret = nl_request(&nl, nlh, NULL, NULL);
	ASSERT_EQ(ret, -EOPNOTSUPP, "unknown link kind");
	/* "Operation not supported: Unknown device type" */
	ASSERT_TRUE(strstr(nl.err, ": Unknown device type") != NULL, nl.err);
	nl_close(&nl);
}

TEST_MAIN(TEST(test_link_lookup), TEST(test_veth_peer_in_netns),
	  TEST(test_ext_ack))
