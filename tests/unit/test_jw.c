// SPDX-License-Identifier: GPL-2.0-only
/* node/records/jw.c writes what json-c writes for the same values, and
 * valid UTF-8 JSON that decodes back to the input whatever the bytes. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "tests/harness.h"
#include "tests/fuzz/jw_roundtrip.h"
#include "node/records/jw.h"
#include "node/records/records.h"

static const char *jc(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE);
}

static bool same(struct jw *w, struct json_object *o, const char *what)
{
	char *text = strndup(w->buf, w->len);
	bool ok = ASSERT_STREQ(text, jc(o), what);

	free(text);
	json_object_put(o);
	return ok;
}

static void test_values(void)
{
	struct jw w = {};
	struct json_object *o = json_object_new_object(), *a, *in;
	const char nasty[] = "q\"b\\s/ \n\t\r\b\f\x01\x1f caf\xc3\xa9 \x7f";

	jw_obj(&w, NULL);
	jw_str(&w, "s", nasty);
	json_object_object_add(o, "s", json_object_new_string(nasty));
	jw_strn(&w, "n", "abc\0def", 7);
	json_object_object_add(o, "n", json_object_new_string_len("abc\0def", 7));
	jw_str(&w, "empty", NULL);
	json_object_object_add(o, "empty", json_object_new_string(""));
	jw_int(&w, "neg", -9223372036854775807LL - 1);
	json_object_object_add(o, "neg", json_object_new_int64(INT64_MIN));
	jw_int(&w, "zero", 0);
	json_object_object_add(o, "zero", json_object_new_int64(0));
	jw_uint(&w, "big", 18446744073709551615ULL);
	json_object_object_add(o, "big", json_object_new_uint64(UINT64_MAX));
	jw_bool(&w, "t", true);
	json_object_object_add(o, "t", json_object_new_boolean(1));
	jw_bool(&w, "f", false);
	json_object_object_add(o, "f", json_object_new_boolean(0));
	jw_arr(&w, "arr");
	a = json_object_new_array();
	jw_arr_end(&w);
	json_object_object_add(o, "arr", a);
	jw_arr(&w, "list");
	a = json_object_new_array();
	jw_str(&w, NULL, "x");
	json_object_array_add(a, json_object_new_string("x"));
	jw_int(&w, NULL, -1);
	json_object_array_add(a, json_object_new_int64(-1));
	jw_obj(&w, NULL);
	in = json_object_new_object();
	jw_obj_end(&w);
	json_object_array_add(a, in);
	jw_obj(&w, NULL);
	in = json_object_new_object();
	jw_raw(&w, "raw", "{\"k\":[1,2]}", 11);
	json_object_object_add(in, "raw", json_tokener_parse("{\"k\":[1,2]}"));
	jw_obj_end(&w);
	json_object_array_add(a, in);
	jw_arr_end(&w);
	json_object_object_add(o, "list", a);
	jw_obj(&w, "nested");
	in = json_object_new_object();
	jw_obj(&w, "deeper");
	json_object_object_add(in, "deeper", json_object_new_object());
	jw_obj_end(&w);
	jw_str(&w, "after", "y");
	json_object_object_add(in, "after", json_object_new_string("y"));
	jw_obj_end(&w);
	json_object_object_add(o, "nested", in);
	jw_obj_end(&w);
	ASSERT_TRUE(!w.oom, "no allocation failure");
	ASSERT_EQ(w.depth, 0, "every object closed");
	same(&w, o, "record text equals json-c's");

	/* a reset reuses the buffer for the next record */
	jw_reset(&w);
	jw_obj(&w, NULL);
	jw_str(&w, "k", "v");
	jw_append(&w, ",\"x\":1", 6);
	jw_obj_end(&w);
	o = json_tokener_parse("{\"k\":\"v\",\"x\":1}");
	same(&w, o, "reset, then raw bytes appended");
	jw_free(&w);
}

static void test_growth(void)
{
	struct jw w = {};
	struct json_object *o = json_object_new_array();
	char s[300];
	int i;

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = 0;
	jw_arr(&w, NULL);
	for (i = 0; i < 100; i++) {
		jw_str(&w, NULL, s);
		json_object_array_add(o, json_object_new_string(s));
	}
	jw_arr_end(&w);
	ASSERT_TRUE(w.cap >= w.len && w.len > 30000, "buffer grew past 30 kB");
	same(&w, o, "30 kB of strings");
	jw_free(&w);
}

/* record_ip_fmt writes what inet_ntop writes */
static void test_ip_text(void)
{
	static const char *const v4[] = { "0.0.0.0", "255.255.255.255",
		"10.0.12.1", "100.9.0.99", "192.168.100.10", "1.20.199.250" };
	static const char *const v6[] = { "::", "fd00::1", "2001:db8::ff00:42:8329",
		"::ffff:10.1.2.3" };
	char want[INET6_ADDRSTRLEN], got[INET6_ADDRSTRLEN];
	__u8 a[16];
	size_t i;

	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		memset(a, 0, sizeof(a));
		inet_pton(AF_INET, v4[i], a);
		inet_ntop(AF_INET, a, want, sizeof(want));
		record_ip_fmt(2, a, got);
		ASSERT_STREQ(got, want, v4[i]);
	}
	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		inet_pton(AF_INET6, v6[i], a);
		inet_ntop(AF_INET6, a, want, sizeof(want));
		record_ip_fmt(10, a, got);
		ASSERT_STREQ(got, want, v6[i]);
	}
}

/* The text of one member "v" (between the braces). */
static char *member_text(const char *v, size_t n)
{
	struct jw w = {};
	char *t;

	jw_obj(&w, NULL);
	jw_strn(&w, "v", v, n);
	jw_obj_end(&w);
	t = strndup(w.buf + 1, w.len - 2);
	jw_free(&w);
	return t;
}

#define B(s) s, sizeof(s) - 1

/* Exact text for the edges of RFC 3629: what is text stays text, what
 * is not is escaped byte by byte and flagged. */
static void test_utf8_edges(void)
{
	static const struct {
		const char *name, *in;
		size_t n;
		const char *want;
	} cases[] = {
		{ "ascii", B("plain"), "\"v\":\"plain\"" },
		{ "two-byte", B("caf\xc3\xa9"), "\"v\":\"caf\xc3\xa9\"" },
		{ "three-byte", B("\xe2\x82\xac"), "\"v\":\"\xe2\x82\xac\"" },
		{ "four-byte", B("\xf0\x9f\x98\x80"), "\"v\":\"\xf0\x9f\x98\x80\"" },
		{ "u+10ffff", B("\xf4\x8f\xbf\xbf"), "\"v\":\"\xf4\x8f\xbf\xbf\"" },
		{ "u+d7ff", B("\xed\x9f\xbf"), "\"v\":\"\xed\x9f\xbf\"" },
		{ "u+e000", B("\xee\x80\x80"), "\"v\":\"\xee\x80\x80\"" },
		{ "del-and-c1", B("\x7f\xc2\x80"), "\"v\":\"\x7f\xc2\x80\"" },
		{ "controls", B("a\nb\x01"), "\"v\":\"a\\nb\\u0001\"" },
		{ "nul", B("a\0b"), "\"v\":\"a\\u0000b\"" },
		{ "lone-ff", B("\xff"), "\"v\":\"\\\\xff\",\"v_escaped\":true" },
		{ "backslash-doubled", B("a\\b\xfe"),
		  "\"v\":\"a\\\\\\\\b\\\\xfe\",\"v_escaped\":true" },
		{ "valid-kept-in-escaped", B("\xc3\xa9\x80"),
		  "\"v\":\"\xc3\xa9\\\\x80\",\"v_escaped\":true" },
		{ "overlong-slash", B("\xc0\xaf"),
		  "\"v\":\"\\\\xc0\\\\xaf\",\"v_escaped\":true" },
		{ "overlong-c1", B("\xc1\xbf"),
		  "\"v\":\"\\\\xc1\\\\xbf\",\"v_escaped\":true" },
		{ "overlong-3", B("\xe0\x80\xaf"),
		  "\"v\":\"\\\\xe0\\\\x80\\\\xaf\",\"v_escaped\":true" },
		{ "overlong-4", B("\xf0\x80\x80\xaf"),
		  "\"v\":\"\\\\xf0\\\\x80\\\\x80\\\\xaf\",\"v_escaped\":true" },
		{ "surrogate-high", B("\xed\xa0\x80"),
		  "\"v\":\"\\\\xed\\\\xa0\\\\x80\",\"v_escaped\":true" },
		{ "surrogate-low", B("\xed\xbf\xbf"),
		  "\"v\":\"\\\\xed\\\\xbf\\\\xbf\",\"v_escaped\":true" },
		{ "above-10ffff", B("\xf4\x90\x80\x80"),
		  "\"v\":\"\\\\xf4\\\\x90\\\\x80\\\\x80\",\"v_escaped\":true" },
		{ "f5", B("\xf5\x80\x80\x80"),
		  "\"v\":\"\\\\xf5\\\\x80\\\\x80\\\\x80\",\"v_escaped\":true" },
		{ "cut-sequence", B("ab\xe2\x82"),
		  "\"v\":\"ab\\\\xe2\\\\x82\",\"v_escaped\":true" },
		{ "quote-in-escaped", B("\"\xff\n"),
		  "\"v\":\"\\\"\\\\xff\\n\",\"v_escaped\":true" },
		/* text that looks like the escaped form is text */
		{ "looks-escaped", B("\\xff"), "\"v\":\"\\\\xff\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = member_text(cases[i].in, cases[i].n);

		ASSERT_STREQ(t, cases[i].want, cases[i].name);
		free(t);
		ASSERT_TRUE(utf8_valid(cases[i].in, cases[i].n) ==
				    !strstr(cases[i].want, "_escaped"),
			    cases[i].name);
	}
}

/* The flag of an array follows the array, and then every string of it
 * is in the escaped form (text before the first that is not is written
 * again); an object in an array has its own flags. */
static void test_flags(void)
{
	struct jw w = {};
	char *t;

	jw_obj(&w, NULL);
	jw_arr(&w, "args");
	jw_str(&w, NULL, "ok");
	jw_str(&w, NULL, "\xff");
	jw_arr_end(&w);
	jw_arr(&w, "back");
	jw_str(&w, NULL, "a\\b\n");
	jw_obj(&w, NULL);
	jw_str(&w, "k", "c\\d");
	jw_obj_end(&w);
	jw_str(&w, NULL, "\xfe");
	jw_str(&w, NULL, "e\\f");
	jw_arr_end(&w);
	jw_arr(&w, "clean");
	jw_str(&w, NULL, "ok");
	jw_arr_end(&w);
	jw_arr(&w, "nested");
	jw_arr(&w, NULL);
	jw_str(&w, NULL, "\x80");
	jw_arr_end(&w);
	jw_arr_end(&w);
	jw_arr(&w, "objs");
	jw_obj(&w, NULL);
	jw_str(&w, "binary", "/b\xfein");
	jw_int(&w, "pid", 1);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	t = strndup(w.buf, w.len);
	ASSERT_STREQ(t, "{\"args\":[\"ok\",\"\\\\xff\"],\"args_escaped\":true,"
			"\"back\":[\"a\\\\\\\\b\\n\",{\"k\":\"c\\\\d\"},\"\\\\xfe\",\"e\\\\\\\\f\"],"
			"\"back_escaped\":true,"
			"\"clean\":[\"ok\"],"
			"\"nested\":[[\"\\\\x80\"]],\"nested_escaped\":true,"
			"\"objs\":[{\"binary\":\"/b\\\\xfein\",\"binary_escaped\":true,\"pid\":1}]}",
		     "flags placed after members and arrays");
	free(t);
	ASSERT_TRUE(jw_str(&w, NULL, "x") == false && !jw_escaped(&w),
		    "text: not escaped");
	ASSERT_TRUE(jw_str(&w, NULL, "\xc0") && jw_escaped(&w), "escaped reported");
	jw_free(&w);
}

/* A json-c tree through jw: what json-c writes when it is all text,
 * escaped and flagged strings and keys when it is not. */
static void test_json_tree(void)
{
	struct json_object *o = json_tokener_parse(
		"{\"s\":\"caf\\u00e9 \\\"q\\\"\",\"i\":-5,\"u\":18446744073709551615,"
		"\"d\":1.5,\"t\":true,\"n\":null,\"a\":[1,\"x\",{\"k\":[]}],\"e\":{}}");
	struct jw w = {};
	char *t;

	ASSERT_TRUE(o != NULL, "fixture parses");
	jw_json(&w, NULL, o);
	t = strndup(w.buf, w.len);
	ASSERT_STREQ(t, jc(o), "valid tree: json-c's own text");
	free(t);
	json_object_object_add(o, "bad", json_object_new_string("\xff\\"));
	json_object_object_add(o, "k\xfe", json_object_new_int(1));
	json_object_object_add(o, "list", json_object_new_array());
	json_object_array_add(json_object_object_get(o, "list"),
			      json_object_new_string("\xed\xa0\x80"));
	jw_reset(&w);
	jw_json(&w, NULL, o);
	t = strndup(w.buf, w.len);
	ASSERT_TRUE(t && strstr(t, ",\"bad\":\"\\\\xff\\\\\\\\\",\"bad_escaped\":true,"),
		    "string member escaped and flagged");
	ASSERT_TRUE(t && strstr(t, ",\"k\\\\xfe\":1,"), "key escaped");
	ASSERT_TRUE(t && strstr(t, "\"list\":[\"\\\\xed\\\\xa0\\\\x80\"],\"list_escaped\":true}"),
		    "array flagged");
	ASSERT_TRUE(t && rt_utf8_strict((const unsigned char *)t, w.len), "strict UTF-8");
	free(t);
	/* JSON has no NaN or infinity: json-c's words for them are not
	 * written, here or in a subtree past JW_DEPTH */
	json_object_put(o);
	o = json_object_new_object();
	json_object_object_add(o, "inf", json_object_new_double(1.0 / 0.0));
	json_object_object_add(o, "nan", json_object_new_double(0.0 / 0.0));
	{
		struct json_object *deep = o;
		int i;

		for (i = 0; i < JW_DEPTH; i++) {
			struct json_object *n = json_object_new_object();

			json_object_object_add(deep, "d", n);
			deep = n;
		}
		json_object_object_add(deep, "x", json_object_new_double(-1.0 / 0.0));
	}
	jw_reset(&w);
	jw_json(&w, NULL, o);
	t = strndup(w.buf, w.len);
	ASSERT_TRUE(t && !strncmp(t, "{\"inf\":null,\"nan\":null,\"d\":", 27),
		    "NaN and infinity written as null");
	ASSERT_TRUE(t && !strstr(t, "Infinity") && strstr(t, ":null}"),
		    "a deep subtree with infinity is null");
	free(t);
	jw_free(&w);
	json_object_put(o);
}

/* A subtree past JW_DEPTH in an array that is flagged: json-c writes it,
 * and its strings are in the escaped form like the array's own, whether
 * the string that is not text comes before it or after. */
static void test_deep_in_flagged_array(void)
{
	static const char *const order[2] = { "after", "before" };
	int k;

	for (k = 0; k < 2; k++) {
		struct json_object *o = json_object_new_object(), *deep = o, *arr, *sub;
		struct jw w = {};
		char *t;
		int i;

		for (i = 0; i < JW_DEPTH - 3; i++) {
			struct json_object *n = json_object_new_object();

			json_object_object_add(deep, "d", n);
			deep = n;
		}
		arr = json_object_new_array();
		json_object_object_add(deep, "args", arr);
		sub = json_object_new_array();
		json_object_array_add(sub, json_object_new_string("a\\b"));
		if (k)
			json_object_array_add(arr, json_object_new_string("\xff"));
		json_object_array_add(arr, json_object_new_array()); /* json-c writes it */
		json_object_array_add(json_object_array_get_idx(arr, k), sub);
		if (!k)
			json_object_array_add(arr, json_object_new_string("\xff"));
		jw_json(&w, NULL, o);
		t = strndup(w.buf, w.len);
		ASSERT_TRUE(t && strstr(t, "[\"a\\\\\\\\b\"]"),
			    order[k]);
		ASSERT_TRUE(t && strstr(t, "\"args_escaped\":true"), order[k]);
		free(t);
		jw_free(&w);
		json_object_put(o);
	}
}

/* Only an incomplete valid start at the end is trimmed. */
static void test_trim_cut(void)
{
	static const struct {
		const char *name, *in;
		size_t n, want;
	} cases[] = {
		{ "empty", B(""), 0 },
		{ "ascii", B("abc"), 3 },
		{ "complete-2", B("a\xc3\xa9"), 3 },
		{ "cut-2", B("a\xc3\xa9\xc3"), 3 },
		{ "cut-3-of-1", B("a\xe2"), 1 },
		{ "cut-3-of-2", B("a\xe2\x82"), 1 },
		{ "complete-3", B("a\xe2\x82\xac"), 4 },
		{ "cut-4-of-3", B("a\xf0\x9f\x98"), 1 },
		{ "cut-e0", B("a\xe0"), 1 },
		{ "cut-e0-a0", B("a\xe0\xa0"), 1 },
		{ "invalid-e0-80", B("a\xe0\x80"), 3 },
		{ "invalid-ed-a0", B("a\xed\xa0"), 3 },
		{ "cut-ed-9f", B("a\xed\x9f"), 1 },
		{ "invalid-f4-90", B("a\xf4\x90"), 3 },
		{ "cut-f4-8f", B("a\xf4\x8f\xbf"), 1 },
		{ "invalid-lead", B("a\xff"), 2 },
		{ "invalid-c0", B("a\xc0"), 2 },
		{ "lone-continuation", B("a\x80"), 2 },
		{ "four-continuations", B("\x80\x80\x80\x80"), 4 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(utf8_trim_cut(cases[i].in, cases[i].n), cases[i].want,
			  cases[i].name);
}

/* xorshift64*: the same cases on every run */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (uint32_t)((rnd_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* Bytes that hit the writer's edges: ASCII with its specials, valid
 * sequences of every length, lead bytes with and without their
 * continuations, the ranges around overlongs, surrogates and U+10FFFF. */
static size_t rnd_bytes(uint8_t *b, size_t max, bool text)
{
	static const uint8_t edge[] = { 0x00, 0x01, 0x0a, 0x1f, '"', '\\', 'x',
		0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
		0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xfe, 0xff };
	size_t n = rnd() % (max + 1), i = 0;

	while (i < n) {
		uint32_t k = text ? 5 + rnd() % 3 : rnd() % 8;

		if (k < 3) { /* any byte */
			b[i++] = rnd() & 0xff;
		} else if (k < 5) { /* an edge byte */
			b[i++] = edge[rnd() % sizeof(edge)];
		} else if (k < 6) {
			b[i++] = 0x20 + rnd() % 0x5f;
		} else { /* a code point encoded, sometimes cut short */
			uint32_t cp = rnd() % 0x110000, len;
			uint8_t s[4];

			if (rnd() % 4 == 0)
				cp = 0xd7f0 + rnd() % 0x820; /* around the surrogates */
			if (text && cp >= 0xd800 && cp <= 0xdfff)
				cp = 0x5c; /* a backslash instead */
			len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
			if (len == 1) {
				s[0] = cp;
			} else if (len == 2) {
				s[0] = 0xc0 | cp >> 6;
				s[1] = 0x80 | (cp & 0x3f);
			} else if (len == 3) {
				s[0] = 0xe0 | cp >> 12;
				s[1] = 0x80 | (cp >> 6 & 0x3f);
				s[2] = 0x80 | (cp & 0x3f);
			} else {
				s[0] = 0xf0 | cp >> 18;
				s[1] = 0x80 | (cp >> 12 & 0x3f);
				s[2] = 0x80 | (cp >> 6 & 0x3f);
				s[3] = 0x80 | (cp & 0x3f);
			}
			if (!text && len > 1 && rnd() % 5 == 0)
				len = 1 + rnd() % (len - 1);
			for (k = 0; k < len && i < n; k++)
				b[i++] = s[k];
		}
	}
	return n;
}

static void test_random_roundtrip(void)
{
	uint8_t b[96];
	int i, text = 0, failed = 0;

	for (i = 0; i < 20000; i++) {
		/* half of them meant to be text: the other half is rarely */
		size_t n = rnd_bytes(b, sizeof(b), i % 2);
		const char *why = jw_roundtrip_check(b, n);

		text += rt_utf8_strict(b, n);
		if (why && !failed++) {
			char hex[sizeof(b) * 3 + 1] = "";
			size_t k;

			for (k = 0; k < n; k++)
				snprintf(hex + 3 * k, 4, "%02x ", b[k]);
			test_fail("case %d (%s): %s", i, hex, why);
		}
	}
	ASSERT_EQ(failed, 0, "cases that did not round-trip");
	/* both kinds were exercised */
	if (!ASSERT_TRUE(text > 2000 && text < 18000, "mix of text and non-text inputs"))
		test_fail("%d of 20000 inputs were text", text);
}

TEST_MAIN(TEST(test_values), TEST(test_growth), TEST(test_ip_text),
	  TEST(test_utf8_edges), TEST(test_flags), TEST(test_json_tree),
	  TEST(test_deep_in_flagged_array),
	  TEST(test_trim_cut), TEST(test_random_roundtrip))
