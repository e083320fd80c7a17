// SPDX-License-Identifier: GPL-2.0-only
/* node/jw.c writes what json-c writes for the same values. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "tests/harness.h"
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

TEST_MAIN(TEST(test_values), TEST(test_growth), TEST(test_ip_text))
