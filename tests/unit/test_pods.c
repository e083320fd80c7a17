// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's pod table over podsentry-cni's state files: names by netns
 * inode, a pod added after open is found on its first lookup, one entry
 * per netns, and reconciliation without pins fails cleanly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "cni/shared/state.h"
#include "node/state/pods.h"

static char dir[512];

static void state_put(const char *cid, const char *ifname, const char *ns,
		      const char *name, __u32 ino, __u32 slot)
{
	struct pod_state st = {};
	char err[STATE_ERR_LEN];

	snprintf(st.container_id, sizeof(st.container_id), "%s", cid);
	snprintf(st.ifname, sizeof(st.ifname), "%s", ifname);
	snprintf(st.pod_namespace, sizeof(st.pod_namespace), "%s", ns);
	snprintf(st.pod_name, sizeof(st.pod_name), "%s", name);
	snprintf(st.pod_uid, sizeof(st.pod_uid), "uid-%s", name);
	snprintf(st.netns, sizeof(st.netns), "/run/netns/%s", cid);
	st.netns_ino = ino;
	st.slot = slot;
	if (state_write(dir, &st, err))
		test_fail("%s", err);
}

static void dir_fresh(const char *name)
{
	char cmd[600];
	int fd;
	char err[STATE_ERR_LEN];

	snprintf(dir, sizeof(dir), "%s/%s", test_env("PS_TEST_TMP", "/tmp"), name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		test_fail("rm %s", dir);
	fd = state_lock(dir, err); /* creates the folder */
	state_unlock(fd);
}

static void test_pods_names(void)
{
	const struct pod_info *pi;
	struct pods *p;
	int err = 0;

	dir_fresh("names");
	state_put("c1", "eth0", "prod", "web-0", 1001, 1);
	state_put("c1", "net1", "prod", "web-0", 1001, 1); /* second iface */
	state_put("c2", "eth0", "", "solo", 1002, 2);
	p = pods_open(dir, "/sys/fs/bpf/ps-none-such", &err);
	if (!ASSERT_TRUE(p != NULL, "pods_open"))
		return;
	pi = pods_by_netns(p, 1001);
	if (ASSERT_TRUE(pi != NULL, "pod of netns 1001")) {
		ASSERT_STREQ(pi->namespace, "prod", "namespace");
		ASSERT_STREQ(pi->name, "web-0", "name");
		ASSERT_STREQ(pi->uid, "uid-web-0", "uid");
		ASSERT_STREQ(pi->container_id, "c1", "container id");
		ASSERT_EQ(pi->slot, 1, "slot");
	}
	pi = pods_by_netns(p, 1002);
	ASSERT_TRUE(pi && !strcmp(pi->name, "solo"), "pod of netns 1002");
	ASSERT_TRUE(pods_by_netns(p, 4242) == NULL, "unknown netns");
	/* added after open: found on its first lookup */
	state_put("c3", "eth0", "dev", "late", 1003, 3);
	pi = pods_by_netns(p, 1003);
	ASSERT_TRUE(pi && !strcmp(pi->name, "late"), "pod added after open");
	pods_close(p);
}

static void test_pods_reconcile_without_pins(void)
{
	struct pods *p;
	int err = 0;

	dir_fresh("nopins");
	state_put("c1", "eth0", "prod", "web-0", 1001, 1);
	p = pods_open(dir, "/sys/fs/bpf/ps-none-such", &err);
	if (!ASSERT_TRUE(p != NULL, "pods_open"))
		return;
	ASSERT_EQ(pods_reconcile(p), -ENOENT, "no pins");
	/* the state stays for a later start */
	ASSERT_TRUE(pods_by_netns(p, 1001) != NULL, "state kept");
	pods_close(p);
}

TEST_MAIN(TEST(test_pods_names), TEST(test_pods_reconcile_without_pins))
