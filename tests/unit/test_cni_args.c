// SPDX-License-Identifier: GPL-2.0-only
/* CNI_ARGS parsing: every key in any order, missing keys, junk. */
#include <string.h>

#include "tests/harness.h"
#include "cni/args.h"

struct args_case {
	const char *desc;
	const char *in;
	int code; /* 0: parses */
	const char *ns, *name, *infra, *uid;
	bool ignore_unknown;
	int unknown;
	const char *msg_has; /* the error names this */
};

#define OK(d, i, n_, nm, inf, u, ign, unk)                                     \
	{ .desc = d, .in = i, .ns = n_, .name = nm, .infra = inf, .uid = u,    \
	  .ignore_unknown = ign, .unknown = unk }
#define BAD(d, i, has) { .desc = d, .in = i, .code = 4, .msg_has = has }

static const struct args_case cases[] = {
	OK("null", NULL, "", "", "", "", false, 0),
	OK("empty", "", "", "", "", "", false, 0),
	OK("containerd order",
	   "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=1f2e-3d",
	   "default", "web-0", "abc123", "1f2e-3d", false, 0),
	OK("cri-o order with IgnoreUnknown",
	   "IgnoreUnknown=1;K8S_POD_UID=u1;K8S_POD_NAME=n1;K8S_POD_INFRA_CONTAINER_ID=i1;K8S_POD_NAMESPACE=kube-system",
	   "kube-system", "n1", "i1", "u1", true, 0),
	OK("podman", "IgnoreUnknown=1;K8S_POD_NAME=t1abc01web", "",
	   "t1abc01web", "", "", true, 0),
	OK("IgnoreUnknown=true", "IgnoreUnknown=true", "", "", "", "", true, 0),
	OK("IgnoreUnknown=0", "IgnoreUnknown=0", "", "", "", "", false, 0),
	OK("unknown keys tolerated", "FOO=bar;K8S_POD_NAME=x;BAZ=", "", "x",
	   "", "", false, 2),
	OK("empty elements and trailing ;", ";;K8S_POD_NAME=x;;", "", "x", "",
	   "", false, 0),
	OK("empty value", "K8S_POD_NAMESPACE=;K8S_POD_NAME=p", "", "p", "", "",
	   false, 0),
	OK("key is case-sensitive", "k8s_pod_name=x", "", "", "", "", false, 1),
	BAD("no =", "K8S_POD_NAME", "\"K8S_POD_NAME\" is not KEY=VALUE"),
	BAD("junk", "K8S_POD_NAME=a;garbage", "\"garbage\""),
	BAD("empty key", "=value", "\"=value\" is not KEY=VALUE"),
	BAD("two =", "K8S_POD_NAME=a=b", "more than one '='"),
	BAD("bad IgnoreUnknown", "IgnoreUnknown=maybe",
	    "IgnoreUnknown=maybe is not a boolean"),
	BAD("duplicate key", "K8S_POD_NAME=a;K8S_POD_NAME=b",
	    "K8S_POD_NAME given twice"),
	BAD("namespace too long",
	    "K8S_POD_NAMESPACE=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "K8S_POD_NAMESPACE is 68 bytes long, at most 63"),
};

static void test_args_table(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct args_case *c = &cases[i];
		struct cni_err e = {};
		struct cni_args a;
		int ret = cni_args_parse(c->in, &a, &e);

		if (c->code) {
			if (!ASSERT_TRUE(ret < 0, c->desc) ||
			    !ASSERT_EQ(e.code, c->code, c->desc) ||
			    !ASSERT_TRUE(strstr(e.msg, c->msg_has) != NULL, e.msg))
				return;
			continue;
		}
		if (!ASSERT_EQ(ret, 0, c->desc) ||
		    !ASSERT_STREQ(a.pod_namespace, c->ns, c->desc) ||
		    !ASSERT_STREQ(a.pod_name, c->name, c->desc) ||
		    !ASSERT_STREQ(a.infra_id, c->infra, c->desc) ||
		    !ASSERT_STREQ(a.pod_uid, c->uid, c->desc) ||
		    !ASSERT_EQ(a.ignore_unknown, c->ignore_unknown, c->desc) ||
		    !ASSERT_EQ(a.unknown, c->unknown, c->desc))
			return;
	}
}

/* The longest values Kubernetes allows fit. */
static void test_args_limits(void)
{
	char in[1024], name[254], ns[64];
	struct cni_err e = {};
	struct cni_args a;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	memset(ns, 's', sizeof(ns) - 1);
	ns[sizeof(ns) - 1] = 0;
	snprintf(in, sizeof(in), "K8S_POD_NAME=%s;K8S_POD_NAMESPACE=%s", name, ns);
	if (!ASSERT_EQ(cni_args_parse(in, &a, &e), 0, "253-byte name") ||
	    !ASSERT_STREQ(a.pod_name, name, "name kept") ||
	    !ASSERT_STREQ(a.pod_namespace, ns, "namespace kept"))
		return;
	snprintf(in, sizeof(in), "K8S_POD_NAME=%sx", name);
	ASSERT_EQ(cni_args_parse(in, &a, &e), -1, "254-byte name refused");
}

TEST_MAIN(TEST(test_args_table), TEST(test_args_limits))
