// SPDX-License-Identifier: GPL-2.0-only
/*
 * node/records/match.c: durations, RFC 3339 times, the fields picked
 * from a record line, the filter a request makes and what it matches,
 * as tables.
 */
#include <string.h>
#include <json-c/json.h>

#include "tests/harness.h"
#include "node/records/match.h"

static void test_duration(void)
{
	static const struct {
		const char *in;
		long long ns; /* -1: refused */
	} cases[] = {
		{ "30s", 30000000000LL },	{ "5m", 300000000000LL },
		{ "1h30m", 5400000000000LL },	{ "2d", 172800000000000LL },
		{ "250ms", 250000000LL },	{ "1.5h", 5400000000000LL },
		{ "90", 90000000000LL },	{ "1m30s", 90000000000LL },
		{ "0.5s", 500000000LL },	{ "", -1 },
		{ "0s", -1 },			{ "5x", -1 },
		{ "-5s", -1 },			{ "s", -1 },
		{ "5 s", -1 },			{ "1h 30m", -1 },
		{ "30s5", -1 },			{ "inf", -1 },
		{ "nan", -1 },			{ "4000d", -1 },
		{ "1e3s", 1000000000000LL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u64 ns = 0;
		int r = duration_parse(cases[i].in, &ns);

		if (cases[i].ns < 0) {
			if (!ASSERT_TRUE(r != 0, cases[i].in))
				return;
		} else if (!ASSERT_OK(r, cases[i].in) || !ASSERT_EQ(ns, cases[i].ns, cases[i].in)) {
			return;
		}
	}
}

static void test_rfc3339(void)
{
	static const struct {
		const char *in;
		long long ns; /* -1: refused */
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-11-28T10:20:13.130947345Z", 1795861213130947345LL },
		{ "2026-11-28T10:20:13Z", 1795861213000000000LL },
		{ "2026-11-28T10:20:13.5Z", 1795861213500000000LL },
		{ "2026-11-28T11:20:13+01:00", 1795861213000000000LL },
		{ "2026-11-28T09:20:13-01:00", 1795861213000000000LL },
		{ "2026-11-28T10:20:13.1234567891Z", 1795861213123456789LL },
		{ "2026-11-28 10:20:13Z", -1 },
		{ "2026-13-28T10:20:13Z", -1 },
		{ "2026-11-28T10:20:13", -1 },
		{ "2026-11-28T10:20:13.Z", -1 },
		{ "2026-11-28T10:20:13Zx", -1 },
		{ "yesterday", -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__s64 ns = 0;
		int r = rfc3339_parse(cases[i].in, strlen(cases[i].in), &ns);

		if (cases[i].ns < 0) {
			if (!ASSERT_TRUE(r != 0, cases[i].in))
				return;
		} else if (!ASSERT_OK(r, cases[i].in) || !ASSERT_EQ(ns, cases[i].ns, cases[i].in)) {
			return;
		}
	}
}

/* The fields of lines in the records' shapes, escapes decoded. */
static void test_fields(void)
{
	static const char flow[] =
		"{\"time\":\"2026-12-01T19:59:38.688068567Z\",\"node\":\"n\",\"type\":\"flow\","
		"\"pod\":{\"namespace\":\"shop\",\"name\":\"client\",\"netns\":1},"
		"\"process\":{\"exec_id\":\"n:1:2\",\"pid\":2,\"binary\":\"/usr/bin/crr\","
		"\"args\":[\"crr\",{\"type\":\"alert\"}]},"
		"\"flow\":{\"protocol\":\"tcp\",\"src\":{\"ip\":\"10.0.0.2\",\"pod\":{\"namespace\":\"shop\",\"name\":\"client\"},"
		"\"process\":{\"binary\":\"/usr/bin/crr\"}},\"dst\":{\"ip\":\"10.0.0.3\",\"port\":7001,"
		"\"pod\":{\"namespace\":\"db\",\"name\":\"we\\\"b\\u00e9\\ud83d\\ude00\"},\"process\":{\"binary\":\"/bin/srv\"}},"
		"\"aggregate\":true,\"connections\":50,\"final\":true}}";
	static const char alert[] =
		" {\"time\":\"2026-12-01T19:59:38Z\",\"type\":\"alert\",\"alert\":{\"id\":\"ab-1\","
		"\"rule\":\"lateral-movement\",\"severity\":\"critical\",\"status\":\"open\","
		"\"summary\":\"\\\"type\\\":\\\"flow\\\"\"}} \n";
	struct rec_fields f;

	if (!ASSERT_OK(rec_fields_parse(flow, strlen(flow), &f), "flow line"))
		return;
	ASSERT_STREQ(f.type, "flow", "type");
	ASSERT_EQ(f.time_ns, 1796155178688068567LL, "time");
	ASSERT_STREQ(f.pods[0].name, "client", "record pod");
	ASSERT_STREQ(f.pods[2].ns, "db", "dst pod namespace");
	ASSERT_STREQ(f.pods[2].name, "we\"b\xc3\xa9\xf0\x9f\x98\x80", "dst pod name decoded");
	ASSERT_STREQ(f.bins[0], "/usr/bin/crr", "process binary");
	ASSERT_STREQ(f.bins[2], "/bin/srv", "dst process binary");
	ASSERT_TRUE(f.final && f.aggregate, "final aggregate");
	ASSERT_EQ(f.connections, 50, "connections");
	ASSERT_STREQ(f.rule, "", "no rule (an object in args is not the record's)");
	if (!ASSERT_OK(rec_fields_parse(alert, strlen(alert), &f), "alert line"))
		return;
	ASSERT_STREQ(f.type, "alert", "the record's type, not the summary's text");
	ASSERT_STREQ(f.rule, "lateral-movement", "rule");
	ASSERT_STREQ(f.severity, "critical", "severity");
	ASSERT_STREQ(f.alert_id, "ab-1", "id");
	ASSERT_TRUE(!f.pods[0].set, "no pod");
}

static void test_not_records(void)
{
	static const char *const bad[] = {
		"", "[]", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":\"\x01\"}", "{\"a\":1} x",
		"{\"a\":\"\\q\"}", "{\"a\":tru}", "{\"a\":\"b}", "nope", "{} {}",
	};
	struct rec_fields f;
	char deep[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!ASSERT_TRUE(rec_fields_parse(bad[i], strlen(bad[i]), &f) != 0, bad[i]))
			return;
	/* nesting past what is followed is refused, not a stack overflow */
	memset(deep, '[', sizeof(deep));
	deep[0] = '{';
	ASSERT_TRUE(rec_fields_parse(deep, sizeof(deep), &f) != 0, "deep nesting");
}

/* A request's filter against lines: which match. */
static void test_filter(void)
{
	static const char *const lines[] = {
		/* 0 */ "{\"time\":\"2026-12-01T10:00:00Z\",\"type\":\"process_exec\","
			"\"pod\":{\"namespace\":\"shop\",\"name\":\"web\"},\"process\":{\"binary\":\"/usr/bin/wget\"}}",
		/* 1 */ "{\"time\":\"2026-12-01T10:00:05Z\",\"type\":\"flow\",\"pod\":{\"namespace\":\"shop\",\"name\":\"web\"},"
			"\"flow\":{\"src\":{\"pod\":{\"namespace\":\"shop\",\"name\":\"web\"}},"
			"\"dst\":{\"pod\":{\"namespace\":\"db\",\"name\":\"elastic\"},\"process\":{\"binary\":\"/usr/bin/es\"}}}}",
		/* 2 */ "{\"time\":\"2026-12-01T10:00:09Z\",\"type\":\"alert\",\"pod\":{\"namespace\":\"shop\",\"name\":\"web\"},"
			"\"alert\":{\"rule\":\"reverse-shell\",\"severity\":\"high\"}}",
		/* 3 */ "{\"time\":\"2026-12-01T10:00:10Z\",\"type\":\"stats\"}",
	};
	static const struct {
		const char *req;
		const char *match; /* '1' per line that matches */
	} cases[] = {
		{ "{}", "1111" },
		{ "{\"types\":\"flow,alert\"}", "0110" },
		{ "{\"types\":[\"stats\"]}", "0001" },
		{ "{\"pod\":\"web\"}", "1110" },
		{ "{\"pod\":\"elastic\"}", "0100" },
		{ "{\"pod\":\"db/elastic\"}", "0100" },
		{ "{\"pod\":\"shop/elastic\"}", "0000" },
		{ "{\"namespace\":\"db\"}", "0100" },
		{ "{\"namespace\":\"db\",\"pod\":\"web\"}", "0000" },
		{ "{\"process\":\"wget\"}", "1000" },
		{ "{\"process\":\"/usr/bin/es\"}", "0100" },
		{ "{\"process\":\"bin/es\"}", "0000" },
		{ "{\"rule\":\"reverse-shell\"}", "0010" },
		{ "{\"severity\":\"high\"}", "0010" },
		{ "{\"severity\":\"medium\"}", "0010" },
		{ "{\"severity\":\"critical\"}", "0000" },
		{ "{\"since\":\"3s\"}", "0011" }, /* now: 10:00:12 */
		{ "{\"since\":\"1h\",\"types\":\"flow\",\"pod\":\"shop/web\"}", "0100" },
	};
	const __s64 now = 1796119212LL * 1000000000LL; /* 2026-12-01T10:00:12Z */
	struct rec_fields f;
	size_t i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *req = json_tokener_parse(cases[i].req);
		struct rec_filter flt;
		char why[200], got[5] = "";

		if (!ASSERT_OK(rec_filter_from_request(&flt, req, now, why, sizeof(why)),
			       cases[i].req))
			return;
		json_object_put(req);
		for (j = 0; j < 4; j++) {
			if (!ASSERT_OK(rec_fields_parse(lines[j], strlen(lines[j]), &f), lines[j]))
				return;
			got[j] = rec_filter_match(&flt, &f) ? '1' : '0';
		}
		if (!ASSERT_STREQ(got, cases[i].match, cases[i].req))
			return;
	}
}

static void test_bad_requests(void)
{
	static const struct {
		const char *req, *why;
	} cases[] = {
		{ "{\"since\":\"soon\"}", "\"since\" \"soon\" is not a duration (e.g. 30s, 5m, 1h30m, 2d)" },
		{ "{\"severity\":\"urgent\"}", "\"severity\" \"urgent\" is not info, low, medium, high or critical" },
		{ "{\"types\":\"flow,\"}", "\"types\": \"\" is not a record type" },
		{ "{\"types\":[1]}", "\"types\" is not a list of record types" },
		{ "{\"pod\":7}", "\"pod\" is not a string" },
		{ "{\"namespace\":\"a\",\"pod\":\"b/c\"}",
		  "\"pod\" \"b/c\" names another namespace than \"namespace\" \"a\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *req = json_tokener_parse(cases[i].req);
		struct rec_filter flt;
		char why[200] = "";

		ASSERT_TRUE(rec_filter_from_request(&flt, req, 0, why, sizeof(why)) != 0,
			    cases[i].req);
		json_object_put(req);
		if (!ASSERT_STREQ(why, cases[i].why, cases[i].req))
			return;
	}
}

/* The connections a flow line stands for, read from its tail. */
static void test_line_connections(void)
{
	static const char long_args[] =
		"{\"type\":\"flow\",\"process\":{\"args\":[\"\\\"final\\\":true}\",\""
		"\\\"reason\\\":\\\"aggregate\\\"\"]},\"flow\":{\"state\":\"established\","
		"\"verdict\":\"forwarded\",\"reason\":\"periodic\",\"final\":false}}";
	static const struct {
		const char *line;
		unsigned long long want;
	} cases[] = {
		{ "{\"type\":\"flow\",\"flow\":{\"state\":\"closed\",\"verdict\":\"forwarded\","
		  "\"reason\":\"fin\",\"final\":true}}", 1 },
		{ "{\"type\":\"flow\",\"flow\":{\"state\":\"established\","
		  "\"reason\":\"periodic\",\"final\":false}}", 0 },
		{ "{\"type\":\"flow\",\"flow\":{\"aggregate\":true,\"connections\":50,"
		  "\"started\":50,\"reason\":\"aggregate\",\"final\":true}}", 50 },
		/* the same texts inside a string are escaped: not the record's */
		{ long_args, 0 },
		{ "{\"final\":true}", 1 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!ASSERT_EQ(rec_line_connections(cases[i].line, strlen(cases[i].line)),
			       cases[i].want, cases[i].line))
			return;
}

TEST_MAIN(TEST(test_duration), TEST(test_rfc3339), TEST(test_fields),
	  TEST(test_not_records), TEST(test_filter), TEST(test_bad_requests),
	  TEST(test_line_connections))
