// SPDX-License-Identifier: GPL-2.0-only
/*
 * The detection config parser: defaults, a complete valid file, and every
 * invalid input giving exactly "FILE: KEY: what is wrong".
 */
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "node/detect/config.h"

static void test_defaults(void)
{
	struct det_config c;

	config_defaults(&c);
	if (!ASSERT_EQ(c.learning_ns, 600000000000ULL, "learning window 10 min") ||
	    !ASSERT_EQ(c.scan_peers, 20, "scan peers") ||
	    !ASSERT_EQ(c.scan_ns, 10000000000ULL, "scan interval") ||
	    !ASSERT_EQ(c.n_sensitive_ports, 8, "sensitive ports") ||
	    !ASSERT_EQ(c.sensitive_ports[0], 9200, "9200 first") ||
	    !ASSERT_STREQ(c.sensitive_addrs[0], "169.254.169.254", "metadata") ||
	    !ASSERT_TRUE(c.rule[RULE_LATERAL].enabled, "lateral on") ||
	    !ASSERT_STREQ(c.rule[RULE_LATERAL].severity, "critical", "critical"))
		return;
}

static void test_valid(void)
{
	static const char text[] =
		"{\"learning_window\": 2.5, \"dedup_window\": 60,"
		" \"allow\": [{\"namespace\": \"kube-*\"},"
		"  {\"pod\": \"debug\", \"binary\": \"/usr/bin/nc\", \"rules\": [\"network-tool-in-pod\"]}],"
		" \"rules\": {\"reverse-shell\": {\"enabled\": false},"
		"  \"internal-scan\": {\"peers\": 5, \"interval\": 3, \"refused\": 4},"
		"  \"sensitive-service-access\": {\"ports\": [9200, 5432], \"addresses\": [\"10.0.0.1\"],"
		"   \"allow\": [{\"namespace\": \"shop\", \"pod\": \"api-*\"}], \"action\": \"deny\"},"
		"  \"network-tool-in-pod\": {\"tools\": [\"nc\", \"curl\"], \"severity\": \"low\"},"
		"  \"lateral-movement\": {\"window\": 30}}}";
	struct det_config c;
	char err[512] = "";

	if (!ASSERT_OK(config_parse(&c, "x.json", text, err, sizeof(err)), err))
		return;
	if (!ASSERT_EQ(c.learning_ns, 2500000000ULL, "learning") ||
	    !ASSERT_EQ(c.dedup_ns, 60000000000ULL, "dedup") ||
	    !ASSERT_TRUE(!c.rule[RULE_REVERSE_SHELL].enabled, "disabled") ||
	    !ASSERT_EQ(c.scan_peers, 5, "peers") || !ASSERT_EQ(c.scan_refused, 4, "refused") ||
	    !ASSERT_EQ(c.n_sensitive_ports, 2, "ports") ||
	    !ASSERT_EQ(c.rule[RULE_SENSITIVE].action, ACTION_DENY, "deny") ||
	    !ASSERT_EQ(c.n_tools, 2, "tools") ||
	    !ASSERT_STREQ(c.rule[RULE_NETWORK_TOOL].severity, "low", "severity") ||
	    !ASSERT_EQ(c.chain_ns, 30000000000ULL, "window"))
		return;
	if (!ASSERT_TRUE(config_allowed(c.allow, c.n_allow, RULE_LATERAL, "kube-system",
					"x", NULL), "namespace glob") ||
	    !ASSERT_TRUE(!config_allowed(c.allow, c.n_allow, RULE_LATERAL, "default",
					 "debug", "/usr/bin/nc"), "rules limit") ||
	    !ASSERT_TRUE(config_allowed(c.allow, c.n_allow, RULE_NETWORK_TOOL, "default",
					"debug", "/usr/bin/nc"), "pod + binary") ||
	    !ASSERT_TRUE(!config_allowed(c.allow, c.n_allow, RULE_NETWORK_TOOL, "default",
					 "debug", NULL), "binary unknown") ||
	    !ASSERT_TRUE(config_allowed(c.sensitive_allow, c.n_sensitive_allow,
					RULE_SENSITIVE, "shop", "api-1", NULL), "client"))
		return;
}

static const struct {
	const char *text, *want;
} bad_cases[] = {
	{ "{", "f.json: .: not valid JSON: unexpected end of data at byte 1" },
	{ "[]", "f.json: .: must be a JSON object" },
	{ "{\"learning\": 1}", "f.json: learning: unknown key" },
	{ "{\"learning_window\": \"10m\"}", "f.json: learning_window: must be a number of seconds" },
	{ "{\"learning_window\": 0}", "f.json: learning_window: 0 is not a number of seconds > 0 and <= 1 year" },
	{ "{\"dedup_window\": -1}", "f.json: dedup_window: -1 is not a number of seconds > 0 and <= 1 year" },
	{ "{\"rules\": []}", "f.json: rules: must be an object of rule names" },
	{ "{\"rules\": {\"rev-shell\": {}}}", "f.json: rules.rev-shell: unknown rule (rules are reverse-shell, network-tool-in-pod, new-east-west-peer, internal-scan, sensitive-service-access, exec-into-pod, lateral-movement)" },
	{ "{\"rules\": {\"reverse-shell\": true}}", "f.json: rules.reverse-shell: must be an object" },
	{ "{\"rules\": {\"reverse-shell\": {\"enabled\": 1}}}", "f.json: rules.reverse-shell.enabled: must be true or false" },
	{ "{\"rules\": {\"reverse-shell\": {\"action\": \"block\"}}}", "f.json: rules.reverse-shell.action: must be \"alert\" or \"deny\"" },
	{ "{\"rules\": {\"reverse-shell\": {\"severity\": \"urgent\"}}}", "f.json: rules.reverse-shell.severity: must be one of info, low, medium, high, critical" },
	{ "{\"rules\": {\"reverse-shell\": {\"peers\": 3}}}", "f.json: rules.reverse-shell.peers: unknown key" },
	{ "{\"rules\": {\"internal-scan\": {\"peers\": 1}}}", "f.json: rules.internal-scan.peers: 1 is out of range (2 to 100000)" },
	{ "{\"rules\": {\"internal-scan\": {\"peers\": 2.5}}}", "f.json: rules.internal-scan.peers: must be a whole number between 2 and 100000" },
	{ "{\"rules\": {\"internal-scan\": {\"interval\": null}}}", "f.json: rules.internal-scan.interval: must be a number of seconds" },
	{ "{\"rules\": {\"sensitive-service-access\": {\"ports\": [9200, 70000]}}}", "f.json: rules.sensitive-service-access.ports[1]: 70000 is out of range (1 to 65535)" },
	{ "{\"rules\": {\"sensitive-service-access\": {\"ports\": 9200}}}", "f.json: rules.sensitive-service-access.ports: must be a list" },
	{ "{\"rules\": {\"sensitive-service-access\": {\"addresses\": [\"10.0.0.300\"]}}}", "f.json: rules.sensitive-service-access.addresses[0]: \"10.0.0.300\" is not an IP address" },
	{ "{\"rules\": {\"sensitive-service-access\": {\"allow\": [{\"user\": \"x\"}]}}}", "f.json: rules.sensitive-service-access.allow[0].user: unknown key" },
	{ "{\"rules\": {\"network-tool-in-pod\": {\"tools\": [\"\"]}}}", "f.json: rules.network-tool-in-pod.tools[0]: must not be empty" },
	{ "{\"sensitive_ports\": [0]}", "f.json: sensitive_ports[0]: 0 is out of range (1 to 65535)" },
	{ "{\"allow\": {}}", "f.json: allow: must be a list" },
	{ "{\"allow\": [\"web\"]}", "f.json: allow[0]: must be an object {namespace, pod, binary, rules}" },
	{ "{\"allow\": [{}]}", "f.json: allow[0]: names none of namespace, pod, binary" },
	{ "{\"allow\": [{\"pod\": 3}]}", "f.json: allow[0].pod: must be a string" },
	{ "{\"allow\": [{\"pod\": \"a\", \"rules\": [\"nope\"]}]}", "f.json: allow[0].rules[0]: \"nope\" is not a rule" },
};

static void test_invalid(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct det_config c;
		char err[512] = "";
		int rc = config_parse(&c, "f.json", bad_cases[i].text, err, sizeof(err));

		if (!ASSERT_TRUE(rc < 0, bad_cases[i].text) ||
		    !ASSERT_STREQ(err, bad_cases[i].want, bad_cases[i].text))
			return;
	}
}

static void test_missing_file(void)
{
	struct det_config c;
	char err[512] = "";

	if (!ASSERT_TRUE(config_load(&c, "/nonexistent/ps.json", err, sizeof(err)) < 0, "fails"))
		return;
	ASSERT_STREQ(err, "/nonexistent/ps.json: .: cannot read: No such file or directory", "msg");
}

int main(int argc, char **argv)
{
	static const struct ps_test tests[] = {
		{ "defaults", test_defaults },
		{ "valid_file", test_valid },
		{ "invalid_files", test_invalid },
		{ "missing_file", test_missing_file },
	};

	return test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
