// SPDX-License-Identifier: GPL-2.0-only
/*
 * State files: a round trip keeps every field, names that are not text
 * are kept exactly in a file that is valid UTF-8, a damaged file gets an
 * error naming the key, writes leave no temporary behind, listing skips
 * what is not a state file, slots are the smallest free ones (shared
 * within a netns, kept by a repeated ADD), and the lock excludes a
 * second holder.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <json-c/json.h>

#include "tests/harness.h"
#include "cni/result.h"
#include "cni/shared/state.h"
#include "cni/shared/text.h"

static char dir[512];

static void dir_fresh(const char *name)
{
	char cmd[600];

	snprintf(dir, sizeof(dir), "%s/%s", test_env("PS_TEST_TMP", "/tmp"), name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		test_fail("rm %s", dir);
}

static void state_sample(struct pod_state *st, const char *cid, __u32 ino,
			 __u32 slot)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->network, sizeof(st->network), "net1");
	snprintf(st->container_id, sizeof(st->container_id), "%s", cid);
	snprintf(st->ifname, sizeof(st->ifname), "eth0");
	snprintf(st->pod_namespace, sizeof(st->pod_namespace), "prod");
	snprintf(st->pod_name, sizeof(st->pod_name), "web-\"quoted\"");
	snprintf(st->pod_uid, sizeof(st->pod_uid), "u-1");
	snprintf(st->netns, sizeof(st->netns), "/run/netns/%s", cid);
	st->netns_ino = ino;
	st->host_ifindex = 42;
	snprintf(st->host_ifname, sizeof(st->host_ifname), "veth1234");
	addr_parse("10.1.2.3/24", &st->ips[0]);
	addr_parse("fd00::3/64", &st->ips[1]);
	st->nips = 2;
	st->slot = slot;
	st->flags = 3;
	st->attached = ATTACHED_TC_INGRESS | ATTACHED_TC_EGRESS;
	st->created = 1700000000;
}

static void test_state_round_trip(void)
{
	struct pod_state st, back;
	char err[STATE_ERR_LEN], a[64], b[64];
	int lock;

	dir_fresh("rt");
	lock = state_lock(dir, err);
	if (!ASSERT_TRUE(lock >= 0, err))
		return;
	state_sample(&st, "abc", 4026531999U, 3);
	st.pending = true;
	snprintf(st.pending_reason, sizeof(st.pending_reason), "pin x missing");
	if (!ASSERT_OK(state_write(dir, &st, err), err) ||
	    !ASSERT_OK(state_read(dir, "abc", "eth0", &back, err), err))
		goto out;
	ASSERT_STREQ(back.pod_name, st.pod_name, "pod name");
	ASSERT_STREQ(back.pod_namespace, "prod", "namespace");
	ASSERT_STREQ(back.netns, "/run/netns/abc", "netns");
	ASSERT_EQ(back.netns_ino, 4026531999U, "netns inode (> 2^31)");
	ASSERT_EQ(back.host_ifindex, 42, "ifindex");
	ASSERT_STREQ(back.host_ifname, "veth1234", "host veth");
	ASSERT_EQ(back.slot, 3, "slot");
	ASSERT_EQ(back.flags, 3, "flags");
	ASSERT_EQ(back.attached, st.attached, "attached");
	ASSERT_TRUE(back.pending, "pending");
	ASSERT_STREQ(back.pending_reason, "pin x missing", "reason");
	if (ASSERT_EQ(back.nips, 2, "ips")) {
		addr_format(&back.ips[1], a, sizeof(a));
		addr_format(&st.ips[1], b, sizeof(b));
		ASSERT_STREQ(a, b, "ipv6 address");
	}
	ASSERT_EQ(state_read(dir, "nope", "eth0", &back, err), -ENOENT, "absent");
	ASSERT_OK(state_remove(dir, "abc", "eth0", err), "remove");
	ASSERT_OK(state_remove(dir, "abc", "eth0", err), "remove twice");
out:
	state_unlock(lock);
}

/* Names as CNI_ARGS may give them: kept, shown as text, written as
 * valid UTF-8 (state.h: KEY, KEYRaw, KEYNotText). */
static void test_state_names_not_text(void)
{
	static const char name[] = "web\n\xff\x01-\xc3(", ns[] = "a\xe2\x80\xa8" "b";
	static struct pod_state st, back;
	char err[STATE_ERR_LEN], *text;
	json_object *o, *pod, *v;

	state_sample(&st, "c9", 9, 1);
	STATE_NAME_SET(&st, pod_name, name);
	STATE_NAME_SET(&st, pod_namespace, ns);
	STATE_NAME_SET(&st, pod_uid, "plain-uid");
	snprintf(st.netns, sizeof(st.netns), "/run/netns/x\xfe");
	ASSERT_STREQ(st.pod_name, "web\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd-\xef\xbf\xbd(",
		     "display form");
	ASSERT_TRUE(st.pod_name_raw.not_text && !st.pod_uid_raw.not_text, "flags");
	text = state_format(&st);
	if (!ASSERT_TRUE(text != NULL, "format"))
		return;
	ASSERT_TRUE(text_is_clean(text, strlen(text)), "file is text");
	o = json_tokener_parse(text);
	if (ASSERT_TRUE(o && json_object_object_get_ex(o, "pod", &pod), "pod")) {
		ASSERT_TRUE(json_object_object_get_ex(pod, "nameRaw", &v) &&
				    !strcmp(json_object_get_string(v), "web%0A%FF%01-%C3("),
			    "nameRaw percent-encoded");
		ASSERT_TRUE(json_object_object_get_ex(pod, "nameNotText", &v) &&
				    json_object_get_boolean(v),
			    "nameNotText");
		ASSERT_TRUE(!json_object_object_get_ex(pod, "uidRaw", &v) &&
				    !json_object_object_get_ex(pod, "uidNotText", &v),
			    "a text name is written once");
		ASSERT_TRUE(json_object_object_get_ex(o, "netnsRaw", &v) &&
				    !strcmp(json_object_get_string(v), "/run/netns/x%FE"),
			    "netnsRaw");
	}
	json_object_put(o);
	if (ASSERT_OK(state_parse(text, strlen(text), "x.json", &back, err), err)) {
		ASSERT_EQ(back.pod_name_raw.len, strlen(name), "raw length");
		ASSERT_TRUE(!memcmp(back.pod_name_raw.bytes, name, strlen(name)),
			    "raw bytes back");
		ASSERT_STREQ(back.pod_name, st.pod_name, "display back");
		ASSERT_STREQ(back.pod_namespace_raw.bytes, ns, "namespace back");
		ASSERT_STREQ(back.netns, st.netns, "netns bytes back");
		ASSERT_TRUE(back.pod_name_raw.not_text && !back.pod_uid_raw.not_text,
			    "flags back");
	}
	free(text);
}

/* What an earlier version wrote (names with their bytes as they came)
 * still reads; damage is an error naming the file and the key. */
static void test_state_parse_errors(void)
{
	static const struct {
		const char *desc, *in, *err;
	} bad[] = {
		{ "torn", "{\"containerId\":", "parse f.json: invalid JSON at byte 15" },
		{ "trailing", "{\"containerId\":\"c\",\"ifname\":\"e\",\"slot\":1} x",
		  "parse f.json: trailing data at byte 42 ('x')" },
		{ "not an object", "[1]", "parse f.json: not a JSON object" },
		{ "bad percent", "{\"containerId\":\"c\",\"ifname\":\"e\",\"slot\":1,"
		  "\"pod\":{\"nameRaw\":\"a%zz\"}}",
		  "state f.json: pod.nameRaw: bad percent-encoding at byte 1" },
		{ "NUL in a string", "{\"containerId\":\"c\\u0000d\",\"ifname\":\"e\",\"slot\":1}",
		  "state f.json: containerId: not a string without NUL" },
		{ "ifname too long", "{\"containerId\":\"c\",\"ifname\":\"eth0123456789abcdef\",\"slot\":1}",
		  "state f.json: ifname: 19 bytes, at most 15" },
		{ "no slot", "{\"containerId\":\"c\",\"ifname\":\"e\"}",
		  "incomplete state f.json" },
	};
	static const char old[] = "{\"containerId\":\"c\",\"ifname\":\"e\",\"slot\":1,"
				  "\"pod\":{\"name\":\"x\xff\"}}";
	static struct pod_state st;
	char err[STATE_ERR_LEN];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (!ASSERT_EQ(state_parse(bad[i].in, strlen(bad[i].in), "f.json",
					   &st, err), -EBADMSG, bad[i].desc) ||
		    !ASSERT_TRUE(strstr(err, bad[i].err) == err, err))
			return;
	}
	if (ASSERT_OK(state_parse(old, strlen(old), "f.json", &st, err), err)) {
		ASSERT_STREQ(st.pod_name_raw.bytes, "x\xff", "old raw bytes kept");
		ASSERT_STREQ(st.pod_name, "x\xef\xbf\xbd", "old name shown as text");
		ASSERT_TRUE(st.pod_name_raw.not_text, "old name not text");
	}
}

static void test_state_list(void)
{
	struct pod_state st, *all = NULL;
	char err[STATE_ERR_LEN], path[700];
	int n, fd;

	dir_fresh("list");
	fd = state_lock(dir, err);
	state_unlock(fd);
	state_sample(&st, "c1", 11, 1);
	state_write(dir, &st, err);
	state_sample(&st, "c2", 12, 2);
	state_write(dir, &st, err);
	/* a torn file, a temporary and a stranger are not state */
	snprintf(path, sizeof(path), "%s/c3:eth0.json", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0) {
		if (write(fd, "{\"containerId\":", 15) < 0)
			test_fail("write");
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/c4:eth0.json.tmp.1", dir);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	snprintf(path, sizeof(path), "%s/README", dir);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	n = state_list(dir, &all, err);
	ASSERT_EQ(n, 2, "two states listed");
	free(all);
	snprintf(path, sizeof(path), "%s/none-such", dir);
	ASSERT_EQ(state_list(path, &all, err), 0, "missing folder is empty");
}

static void test_slot_alloc(void)
{
	struct pod_state all[4];

	state_sample(&all[0], "a", 100, 1);
	state_sample(&all[1], "b", 101, 2);
	state_sample(&all[2], "d", 103, 4);
	ASSERT_EQ(state_slot_alloc(all, 0, 200, "x", "eth0"), 1, "first slot is 1");
	ASSERT_EQ(state_slot_alloc(all, 3, 200, "x", "eth0"), 3, "smallest free");
	ASSERT_EQ(state_slot_alloc(all, 3, 101, "x", "eth1"), 2, "same netns shares");
	ASSERT_EQ(state_slot_alloc(all, 3, 103, "d", "eth0"), 4, "repeated ADD keeps");
	state_sample(&all[3], "c", 102, 3);
	ASSERT_EQ(state_slot_alloc(all, 4, 300, "x", "eth0"), 5, "next after full");
}

static void test_lock_excludes(void)
{
	char err[STATE_ERR_LEN], path[600];
	int lock, status = 0;
	pid_t pid;

	dir_fresh("lock");
	lock = state_lock(dir, err);
	if (!ASSERT_TRUE(lock >= 0, err))
		return;
	snprintf(path, sizeof(path), "%s/lock", dir);
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR);

		_exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	ASSERT_EQ(WEXITSTATUS(status), 0, "second holder refused while locked");
	state_unlock(lock);
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR);

		_exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ASSERT_EQ(WEXITSTATUS(status), 0, "free after unlock");
}

TEST_MAIN(TEST(test_state_round_trip), TEST(test_state_names_not_text),
	  TEST(test_state_parse_errors), TEST(test_state_list),
	  TEST(test_slot_alloc), TEST(test_lock_excludes))
