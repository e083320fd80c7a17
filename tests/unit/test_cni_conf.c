// SPDX-License-Identifier: GPL-2.0-only
/*
 * podsentry-cni's input checking, through the same entry point the binary
 * uses (cni_main): every error path of the environment and the network
 * config gives exactly one CNI error object on stdout, with the right
 * code, a message naming the cause, and exit status 1. Also VERSION, and
 * prevResult in the 0.4.0 and 1.0.0 shapes.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "cni/cmd.h"
#include "cni/conf.h"
#include "cni/result.h"

#define PREV_10 "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"br0\"},"   \
	"{\"name\":\"veth1\",\"mac\":\"aa:bb:cc:dd:ee:ff\"},{\"name\":\"eth0\","        \
	"\"sandbox\":\"/run/netns/x\"}],\"ips\":[{\"interface\":2,"                     \
	"\"address\":\"10.9.8.7/24\",\"gateway\":\"10.9.8.1\"},{\"interface\":2,"       \
	"\"address\":\"fd00::7/64\"}],\"dns\":{}}"
#define PREV_04 "{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"br0\"},"   \
	"{\"name\":\"veth1\"},{\"name\":\"eth0\",\"sandbox\":\"/run/netns/x\"}],"       \
	"\"ips\":[{\"version\":\"4\",\"interface\":2,\"address\":\"10.9.8.7/24\","     \
	"\"gateway\":\"10.9.8.1\"}],\"dns\":{}}"

struct run {
	int status;
	json_object *out; /* the one JSON object printed, or NULL */
	char *text;
};

static void run_free(struct run *r)
{
	json_object_put(r->out);
	free(r->text);
}

/* Run cni_main on cmd + stdin with a complete, valid environment. */
static void run_cmd(const char *cmd, const char *in, const struct cni_env *over,
		    struct run *r)
{
	struct cni_env env = {
		.command = cmd, .container_id = "c0ffee", .netns = "/proc/self/ns/net",
		.ifname = "eth0", .args = "IgnoreUnknown=1", .path = "/usr/lib/cni",
	};
	size_t len = 0;
	FILE *out;

	if (over)
		env = *over;
	memset(r, 0, sizeof(*r));
	out = open_memstream(&r->text, &len);
	r->status = cni_main(&env, in, strlen(in), out);
	fclose(out);
	if (len)
		r->out = json_tokener_parse(r->text);
}

/* The error object: {cniVersion: string, code: int, msg: string,
 * details?: string} and nothing else on stdout. */
static bool error_shape(const struct run *r, int code, const char *msg_has,
			const char *what)
{
	json_object *v;
	const char *nl;

	if (!ASSERT_EQ(r->status, 1, what) ||
	    !ASSERT_TRUE(r->out && json_object_is_type(r->out, json_type_object),
			 "stdout is a JSON object"))
		return false;
	nl = strchr(r->text, '\n');
	if (!ASSERT_TRUE(nl && nl[1] == 0, "one line on stdout"))
		return false;
	json_object_object_foreach(r->out, key, val) {
		(void)val;
		if (!ASSERT_TRUE(!strcmp(key, "cniVersion") || !strcmp(key, "code") ||
				 !strcmp(key, "msg") || !strcmp(key, "details"), key))
			return false;
	}
	if (!ASSERT_TRUE(json_object_object_get_ex(r->out, "cniVersion", &v) &&
			 json_object_is_type(v, json_type_string), "cniVersion") ||
	    !ASSERT_TRUE(json_object_object_get_ex(r->out, "code", &v) &&
			 json_object_is_type(v, json_type_int), "code is an int") ||
	    !ASSERT_EQ(json_object_get_int(v), code, what) ||
	    !ASSERT_TRUE(json_object_object_get_ex(r->out, "msg", &v) &&
			 json_object_is_type(v, json_type_string), "msg"))
		return false;
	if (!ASSERT_TRUE(strstr(json_object_get_string(v), msg_has) != NULL,
			 json_object_get_string(v)))
		return false;
	return true;
}

struct conf_case {
	const char *desc;
	const char *cmd;
	const char *in;
	int code;
	const char *msg_has;
};

#define NET "\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"podsentry-cni\""

static const struct conf_case conf_cases[] = {
	{ "empty stdin", "ADD", "", 6, "stdin is empty" },
	{ "invalid JSON", "ADD", "{\"cniVersion\":", 6, "invalid JSON" },
	{ "not JSON", "ADD", "cniVersion=1.0.0", 6, "invalid JSON" },
	{ "trailing junk", "ADD", "{" NET "} x", 6, "trailing data" },
	{ "array", "ADD", "[1,2]", 6, "not a JSON object" },
	{ "no cniVersion", "ADD", "{\"name\":\"n\"}", 7, "\"cniVersion\" is missing" },
	{ "cniVersion number", "ADD", "{\"cniVersion\":1,\"name\":\"n\"}", 7,
	  "\"cniVersion\" must be a string" },
	{ "cniVersion 0.2.0", "ADD", "{\"cniVersion\":\"0.2.0\",\"name\":\"n\"}", 1,
	  "incompatible CNI version 0.2.0" },
	{ "cniVersion 2.0.0", "DEL", "{\"cniVersion\":\"2.0.0\",\"name\":\"n\"}", 1,
	  "incompatible CNI version 2.0.0" },
	{ "no name", "ADD", "{\"cniVersion\":\"1.0.0\"}", 7, "\"name\" is missing" },
	{ "bpffs number", "ADD", "{" NET ",\"bpffs\":5}", 7,
	  "\"bpffs\" must be a string, not an integer" },
	{ "stateDir relative", "ADD", "{" NET ",\"stateDir\":\"run/x\"}", 7,
	  "\"stateDir\" must be an absolute path" },
	{ "logFile bool", "ADD", "{" NET ",\"logFile\":true}", 7,
	  "\"logFile\" must be a string, not a boolean" },
	{ "logLevel unknown", "ADD", "{" NET ",\"logLevel\":\"loud\"}", 7,
	  "\"logLevel\" must be error, warn, info or debug" },
	{ "failPolicy unknown", "ADD", "{" NET ",\"failPolicy\":\"maybe\"}", 7,
	  "\"failPolicy\" must be \"open\" or \"closed\"" },
	{ "failPolicy number", "ADD", "{" NET ",\"failPolicy\":1}", 7,
	  "\"failPolicy\" must be a string" },
	{ "xdp string", "ADD", "{" NET ",\"xdp\":\"yes\"}", 7,
	  "\"xdp\" must be a boolean, not a string" },
	{ "enforce number", "ADD", "{" NET ",\"enforce\":1}", 7,
	  "\"enforce\" must be a boolean, not an integer" },
	{ "prevResult string", "ADD", "{" NET ",\"prevResult\":\"x\"}", 7,
	  "\"prevResult\" must be an object" },
	{ "ADD without prevResult", "ADD", "{" NET "}", 7,
	  "prevResult is missing" },
	{ "CHECK without prevResult", "CHECK", "{" NET "}", 7,
	  "prevResult is missing" },
	{ "prevResult ips not array", "ADD", "{" NET ",\"prevResult\":{\"ips\":{}}}",
	  7, "prevResult: \"ips\" must be an array" },
	{ "prevResult bad address", "ADD",
	  "{" NET ",\"prevResult\":{\"ips\":[{\"address\":\"10.1.1.300/24\"}]}}", 7,
	  "ips[0].address \"10.1.1.300/24\" is not an IP/prefix" },
	{ "prevResult bad prefix", "ADD",
	  "{" NET ",\"prevResult\":{\"ips\":[{\"address\":\"10.1.1.3/33\"}]}}", 7,
	  "ips[0].address" },
	{ "prevResult 0.4.0 version mismatch", "ADD",
	  "{" NET ",\"prevResult\":{\"ips\":[{\"version\":\"6\",\"address\":\"10.1.1.3/24\"}]}}",
	  7, "ips[0].version does not match" },
	{ "prevResult interface out of range", "ADD",
	  "{" NET ",\"prevResult\":{\"interfaces\":[{\"name\":\"eth0\"}],\"ips\":[{\"interface\":1,\"address\":\"10.1.1.3/24\"}]}}",
	  7, "ips[0].interface is not an index" },
	{ "prevResult interface without name", "ADD",
	  "{" NET ",\"prevResult\":{\"interfaces\":[{\"mac\":\"x\"}]}}", 7,
	  "interfaces[0] has no string \"name\"" },
	{ "CHECK on 0.3.1", "CHECK",
	  "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"prevResult\":{}}", 1,
	  "config version 0.3.1 does not allow CHECK" },
	{ "STATUS on 1.0.0", "STATUS", "{" NET "}", 1,
	  "does not allow STATUS" },
	{ "GC on 1.0.0", "GC", "{" NET "}", 1, "does not allow GC" },
	{ "GC without valid-attachments", "GC",
	  "{\"cniVersion\":\"1.1.0\",\"name\":\"n\"}", 7,
	  "\"cni.dev/valid-attachments\" is missing" },
	{ "GC valid-attachments not array", "GC",
	  "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":{}}",
	  7, "\"cni.dev/valid-attachments\" must be an array" },
	{ "GC bad attachment", "GC",
	  "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":[{\"containerID\":1}]}",
	  7, "valid-attachments[0] needs string containerID and ifname" },
	{ "unknown command", "FROB", "{" NET "}", 4,
	  "CNI_COMMAND \"FROB\" is not known" },
};

static void test_conf_errors(void)
{
	unsigned int i;
	struct run r;

	for (i = 0; i < sizeof(conf_cases) / sizeof(conf_cases[0]); i++) {
		const struct conf_case *c = &conf_cases[i];
		bool ok;

		run_cmd(c->cmd, c->in, NULL, &r);
		ok = error_shape(&r, c->code, c->msg_has, c->desc);
		run_free(&r);
		if (!ok)
			return;
	}
}

struct env_case {
	const char *desc;
	struct cni_env env;
	const char *msg_has;
};

static const struct env_case env_cases[] = {
	{ "no CNI_COMMAND", { .container_id = "c", .netns = "/x", .ifname = "eth0" },
	  "CNI_COMMAND is not set" },
	{ "ADD without CNI_CONTAINERID",
	  { .command = "ADD", .netns = "/x", .ifname = "eth0" },
	  "CNI_CONTAINERID is not set" },
	{ "container id with /",
	  { .command = "ADD", .container_id = "a/b", .netns = "/x", .ifname = "eth0" },
	  "CNI_CONTAINERID \"a/b\" is not a valid container id" },
	{ "container id starting with -",
	  { .command = "DEL", .container_id = "-ab", .ifname = "eth0" },
	  "is not a valid container id" },
	{ "ADD without CNI_IFNAME",
	  { .command = "ADD", .container_id = "c", .netns = "/x" },
	  "CNI_IFNAME is not set" },
	{ "ifname too long",
	  { .command = "ADD", .container_id = "c", .netns = "/x",
	    .ifname = "eth0123456789012" },
	  "CNI_IFNAME \"eth0123456789012\" is not a valid interface name" },
	{ "ifname with :",
	  { .command = "DEL", .container_id = "c", .ifname = "a:b" },
	  "is not a valid interface name" },
	{ "ADD without CNI_NETNS",
	  { .command = "ADD", .container_id = "c", .ifname = "eth0" },
	  "CNI_NETNS is not set" },
	{ "CHECK without CNI_NETNS",
	  { .command = "CHECK", .container_id = "c", .ifname = "eth0" },
	  "CNI_NETNS is not set" },
	{ "junk CNI_ARGS",
	  { .command = "ADD", .container_id = "c", .netns = "/x", .ifname = "eth0",
	    .args = "K8S_POD_NAME=a;junk" },
	  "CNI_ARGS: \"junk\" is not KEY=VALUE" },
	{ "ADD with a 235-byte container id (its state file name would not fit)",
	  { .command = "ADD", .netns = "/x", .ifname = "eth0",
	    .container_id = "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" },
	  "CNI_CONTAINERID is 235 bytes long, at most 234" },
	{ "container id with a newline, shown escaped",
	  { .command = "ADD", .container_id = "a\nb", .netns = "/x", .ifname = "eth0" },
	  "CNI_CONTAINERID \"a\\nb\" is not a valid container id" },
	{ "ADD in the host's netns",
	  { .command = "ADD", .container_id = "c", .netns = "/proc/self/ns/net",
	    .ifname = "eth0" },
	  "CNI_NETNS: netns /proc/self/ns/net: is the host's network namespace" },
	{ "ADD with a netns that is a folder",
	  { .command = "ADD", .container_id = "c", .netns = "/", .ifname = "eth0" },
	  "CNI_NETNS: netns /: a folder, not a network namespace" },
	{ "ADD with a netns that does not exist",
	  { .command = "ADD", .container_id = "c", .netns = "/run/netns/ps-none-such",
	    .ifname = "eth0" },
	  "CNI_NETNS: netns /run/netns/ps-none-such: No such file or directory" },
};

static void test_env_errors(void)
{
	const char *in = "{" NET ",\"prevResult\":" PREV_10 "}";
	unsigned int i;
	struct run r;

	for (i = 0; i < sizeof(env_cases) / sizeof(env_cases[0]); i++) {
		bool ok;

		run_cmd(NULL, in, &env_cases[i].env, &r);
		ok = error_shape(&r, 4, env_cases[i].msg_has, env_cases[i].desc);
		run_free(&r);
		if (!ok)
			return;
	}
}

/* The config is one JSON document and nothing after it (what stdin_read
 * gives cni_main: a NUL is a byte like any other). */
static void test_conf_exact(void)
{
#define DOC "{" NET "}"
	static const struct {
		const char *desc, *in;
		size_t len;
		int code;
		const char *msg;
	} cases[] = {
		{ "a NUL after the object", DOC "\0", sizeof(DOC), 6,
		  "network config: trailing data at byte 56 (a NUL byte)" },
		{ "a second document", DOC " {}", sizeof(DOC) + 2, 6,
		  "network config: trailing data at byte 57 ('{')" },
		{ "a byte that is not text", DOC "\n\x01", sizeof(DOC) + 1, 6,
		  "network config: trailing data at byte 57 (byte 0x01)" },
		{ "a NUL inside", "{\"cniVersion\":\"1.0\0.0\"}", 22, 6,
		  "network config: invalid JSON at byte 18: a NUL byte" },
		{ "\\u0000 in the name", "{\"cniVersion\":\"1.0.0\",\"name\":\"a\\u0000b\"}",
		  40, 7, "network config: \"name\" contains a NUL byte (\\u0000)" },
		{ "bad bytes in a value are shown escaped",
		  "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"logLevel\":\"a\nb\xff\"}",
		  51, 7, "must be error, warn, info or debug, not \"a\\nb\\xFF\"" },
	};
	struct cni_env env = { .command = "STATUS" };
	unsigned int i;
	char *text = NULL;
	size_t n = 0;
	FILE *out;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r = {};

		out = open_memstream(&text, &n);
		r.status = cni_main(&env, cases[i].in, cases[i].len, out);
		fclose(out);
		r.text = text;
		r.out = json_tokener_parse(text);
		if (!error_shape(&r, cases[i].code, cases[i].msg, cases[i].desc)) {
			run_free(&r);
			return;
		}
		run_free(&r);
	}
#undef DOC
}

/* The error carries the config's cniVersion once it is known. */
static void test_error_version(void)
{
	struct run r;

	run_cmd("ADD", "{\"cniVersion\":\"0.4.0\",\"name\":\"n\"}", NULL, &r);
	if (error_shape(&r, 7, "prevResult is missing", "0.4.0 ADD"))
		ASSERT_STREQ(json_object_get_string(
				     json_object_object_get(r.out, "cniVersion")),
			     "0.4.0", "error cniVersion");
	run_free(&r);
}

static void test_version(void)
{
	static const char *const want[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0",
					    "1.1.0" };
	const char *ins[] = { "{\"cniVersion\":\"0.4.0\"}", "" };
	const char *outv[] = { "0.4.0", "1.1.0" };
	json_object *sv;
	unsigned int i, j;
	struct run r;

	for (j = 0; j < 2; j++) {
		run_cmd("VERSION", ins[j], NULL, &r);
		if (!ASSERT_EQ(r.status, 0, "VERSION exit") ||
		    !ASSERT_TRUE(r.out != NULL, "VERSION prints JSON") ||
		    !ASSERT_STREQ(json_object_get_string(json_object_object_get(
					  r.out, "cniVersion")),
				  outv[j], "VERSION cniVersion") ||
		    !ASSERT_TRUE(json_object_object_get_ex(r.out, "supportedVersions", &sv) &&
				 json_object_is_type(sv, json_type_array),
				 "supportedVersions") ||
		    !ASSERT_EQ(json_object_array_length(sv), 5, "5 versions")) {
			run_free(&r);
			return;
		}
		for (i = 0; i < 5; i++)
			if (!ASSERT_STREQ(json_object_get_string(
						  json_object_array_get_idx(sv, i)),
					  want[i], "supported version"))
				break;
		run_free(&r);
	}
	run_cmd("VERSION", "not json", NULL, &r);
	error_shape(&r, 6, "VERSION: stdin: invalid JSON at byte 1", "VERSION junk");
	run_free(&r);
}

/* STATUS: ready with failPolicy open whatever the pins; 50 naming the
 * missing pin with failPolicy closed. */
static void test_status(void)
{
	struct run r;

	run_cmd("STATUS", "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"bpffs\":\"/sys/fs/bpf/ps-none-such\"}",
		NULL, &r);
	ASSERT_EQ(r.status, 0, "STATUS open");
	ASSERT_TRUE(!r.text || !r.text[0], "STATUS prints nothing");
	run_free(&r);
	run_cmd("STATUS", "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"failPolicy\":\"closed\",\"bpffs\":\"/sys/fs/bpf/ps-none-such\"}",
		NULL, &r);
	error_shape(&r, 50, "pin /sys/fs/bpf/ps-none-such/pods", "STATUS closed");
	run_free(&r);
}

/* Unknown keys are ignored; defaults apply. */
static void test_conf_defaults(void)
{
	const char *in = "{" NET ",\"future\":{\"x\":1},\"xdp\":true}";
	struct cni_err e = {};
	struct cni_conf c;

	if (!ASSERT_EQ(conf_parse(in, strlen(in), &c, &e), 0, e.msg))
		return;
	ASSERT_STREQ(c.bpffs, "/sys/fs/bpf/podsentry", "bpffs default");
	ASSERT_STREQ(c.state_dir, "/run/podsentry", "stateDir default");
	ASSERT_STREQ(c.log_file, "", "logFile default: stderr");
	ASSERT_EQ(c.fail_policy, FAIL_OPEN, "failPolicy default");
	ASSERT_EQ(c.log_level, LOG_INFO, "logLevel default");
	ASSERT_TRUE(c.xdp, "xdp set");
	ASSERT_TRUE(!c.enforce, "enforce default");
	ASSERT_TRUE(c.prev_result == NULL, "no prevResult");
	conf_free(&c);
}

static void prev_check(const char *json, int want_ips)
{
	json_object *o = json_tokener_parse(json), *out;
	struct link_addr ips[4];
	struct prev_result pr;
	struct cni_err e = {};
	char buf[64];
	int n;

	if (!ASSERT_EQ(result_parse(o, &pr, &e), 0, e.msg))
		goto out;
	n = result_pod_ips(&pr, "eth0", ips, 4);
	if (!ASSERT_EQ(n, want_ips, "pod ips") || !n)
		goto out;
	addr_format(&ips[0], buf, sizeof(buf));
	ASSERT_STREQ(buf, "10.9.8.7/24", "first ip");
	ASSERT_EQ(result_pod_ips(&pr, "eth1", ips, 4), 0, "not eth1's");
	ASSERT_EQ(result_has_host_iface(&pr, "veth1"), 1, "host veth listed");
	ASSERT_EQ(result_has_host_iface(&pr, "veth9"), 0, "other host veth");
	/* ADD prints prevResult unchanged but for the config's version. */
	out = result_output(o, "1.1.0");
	json_object_object_add(o, "cniVersion", json_object_new_string("1.1.0"));
	ASSERT_TRUE(json_object_equal(out, o), "output is prevResult");
	json_object_put(out);
out:
	json_object_put(o);
}

static void test_prev_result_shapes(void)
{
	prev_check(PREV_10, 2);
	prev_check(PREV_04, 1);
	prev_check("{\"cniVersion\":\"1.0.0\"}", 0);
}

static void test_version_cmp(void)
{
	ASSERT_TRUE(cni_version_cmp("0.4.0", "1.0.0") < 0, "0.4.0 < 1.0.0");
	ASSERT_TRUE(cni_version_cmp("1.1.0", "1.0.0") > 0, "1.1.0 > 1.0.0");
	ASSERT_TRUE(cni_version_cmp("0.3.1", "0.3.1") == 0, "equal");
	ASSERT_TRUE(cni_version_cmp("0.10.0", "0.4.0") > 0, "numeric");
}

TEST_MAIN(TEST(test_conf_errors), TEST(test_env_errors), TEST(test_conf_exact),
	  TEST(test_error_version), TEST(test_version), TEST(test_status),
	  TEST(test_conf_defaults), TEST(test_prev_result_shapes),
	  TEST(test_version_cmp))
