/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The JSON writer's round trip, shared by tests/unit/test_jw.c and a fuzz
 * target: whatever bytes go in, one line of strict UTF-8 JSON comes out,
 * json-c parses it back with UTF-8 validation on, and each value decodes
 * to the exact input bytes (the escaped form and its "_escaped" flag
 * exactly when the input is not valid UTF-8; see node/records/jw.h).
 *
 *   const char *why = jw_roundtrip_check(data, size);   NULL: all held
 */
#ifndef PS_TESTS_JW_ROUNDTRIP_H
#define PS_TESTS_JW_ROUNDTRIP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "node/records/jw.h"

/* Strict UTF-8 by decoding each code point and judging its value: a
 * check written apart from the writer's own (which goes by byte ranges). */
static inline bool rt_utf8_strict(const unsigned char *s, size_t n)
{
	size_t i = 0, len, k;
	uint32_t cp;

	while (i < n) {
		unsigned char c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000))
			return false; /* overlong */
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += len;
	}
	return true;
}

static inline int rt_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The bytes an escaped value stands for: "\\" is one backslash, "\xNN"
 * the byte NN, every other byte itself. Returns the length written to
 * out (at least n bytes), or -1 when s breaks the convention. */
static inline long rt_unescape(const char *s, size_t n, char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (s[i] != '\\') {
			out[o++] = s[i++];
			continue;
		}
		if (i + 1 < n && s[i + 1] == '\\') {
			out[o++] = '\\';
			i += 2;
		} else if (i + 3 < n && s[i + 1] == 'x' && rt_hex(s[i + 2]) >= 0 &&
			   rt_hex(s[i + 3]) >= 0) {
			out[o++] = (char)(rt_hex(s[i + 2]) << 4 | rt_hex(s[i + 3]));
			i += 4;
		} else {
			return -1;
		}
	}
	return (long)o;
}

/* The value v (a json-c string) stands for data, given whether it is
 * flagged escaped. */
static inline bool rt_same(struct json_object *v, bool flagged,
			   const uint8_t *data, size_t size)
{
	const char *s = json_object_get_string(v);
	size_t n = json_object_get_string_len(v);
	char *out;
	long m;
	bool ok;

	if (!json_object_is_type(v, json_type_string))
		return false;
	if (!flagged)
		return n == size && !memcmp(s, data, size);
	out = malloc(n + 1);
	if (!out)
		return false;
	m = rt_unescape(s, n, out);
	ok = m == (long)size && !memcmp(out, data, size);
	free(out);
	return ok;
}

static inline bool rt_flag(struct json_object *o, const char *key)
{
	struct json_object *f;

	return json_object_object_get_ex(o, key, &f) &&
	       json_object_is_type(f, json_type_boolean) &&
	       json_object_get_boolean(f);
}

/* The text w holds: one line of strict UTF-8 that json-c parses whole,
 * with its own UTF-8 validation on. NULL when it is not. */
static inline struct json_object *rt_parse(const struct jw *w, const char **why)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (w->oom)
		return *why = "out of memory", NULL;
	if (memchr(w->buf, '\n', w->len))
		return *why = "a newline byte in the line", NULL;
	if (!rt_utf8_strict((const unsigned char *)w->buf, w->len))
		return *why = "the line is not strict UTF-8", NULL;
	tok = json_tokener_new();
	if (!tok)
		return *why = "out of memory", NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, w->buf, (int)w->len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != w->len) {
		json_object_put(o);
		o = NULL;
		*why = "json-c does not parse the line as one JSON value";
	}
	json_tokener_free(tok);
	return o;
}

/*
 * data written as a member, as array elements between text with
 * backslashes and, through a json-c tree, as a member and (up to its
 * first NUL) as a key; each must come back as data, flagged exactly when
 * data is not valid UTF-8 (the array's text elements then decode from
 * the escaped form too). NULL when every check held, else what failed.
 */
static inline const char *jw_roundtrip_check(const uint8_t *data, size_t size)
{
	bool text = rt_utf8_strict(data, size), esc;
	struct json_object *o = NULL, *v, *a, *in = NULL;
	const char *why = NULL;
	struct jw w = {};
	size_t keylen = strnlen((const char *)data, size);
	char *key = NULL;

	jw_obj(&w, NULL);
	esc = jw_strn(&w, "v", (const char *)data, size);
	if (esc == text || jw_escaped(&w) != esc) {
		why = "jw_strn's escaped verdict differs from strict UTF-8";
		goto out;
	}
	/* text before and after data: escaped too when the array is */
	jw_arr(&w, "a");
	jw_str(&w, NULL, "x\\y");
	jw_strn(&w, NULL, (const char *)data, size);
	jw_str(&w, NULL, "\\x41");
	jw_strn(&w, NULL, (const char *)data, size);
	jw_arr_end(&w);
	/* the same through a json-c tree */
	/* "k" first: the key never collides with "s" */
	key = malloc(keylen + 2);
	in = json_object_new_object();
	if (!key || !in) {
		why = "out of memory";
		goto out;
	}
	key[0] = 'k';
	memcpy(key + 1, data, keylen);
	key[keylen + 1] = 0;
	json_object_object_add(in, "s", json_object_new_string_len((const char *)data,
								   (int)size));
	json_object_object_add(in, key, json_object_new_int(7));
	jw_json(&w, "tree", in);
	jw_obj_end(&w);

	o = rt_parse(&w, &why);
	if (!o)
		goto out;
	why = "a value does not decode back to the input bytes";
	if (!json_object_object_get_ex(o, "v", &v) || !rt_same(v, !text, data, size) ||
	    rt_flag(o, "v_escaped") == text)
		goto out;
	if (!json_object_object_get_ex(o, "a", &a) ||
	    json_object_array_length(a) != 4 || rt_flag(o, "a_escaped") == text ||
	    !rt_same(json_object_array_get_idx(a, 0), !text, (const uint8_t *)"x\\y", 3) ||
	    !rt_same(json_object_array_get_idx(a, 1), !text, data, size) ||
	    !rt_same(json_object_array_get_idx(a, 2), !text, (const uint8_t *)"\\x41", 4) ||
	    !rt_same(json_object_array_get_idx(a, 3), !text, data, size))
		goto out;
	if (!json_object_object_get_ex(o, "tree", &v) ||
	    !json_object_object_get_ex(v, "s", &a) || !rt_same(a, !text, data, size) ||
	    rt_flag(v, "s_escaped") == text)
		goto out;
	/* the key: found by its decoded bytes among the tree's members */
	why = "the key does not decode back to the input bytes";
	{
		bool found = false,
		     ktext = rt_utf8_strict((const unsigned char *)key, keylen + 1);

		json_object_object_foreach(v, k, kv) {
			struct json_object *ks;

			if (json_object_get_type(kv) != json_type_int)
				continue;
			ks = json_object_new_string(k);
			found |= rt_same(ks, !ktext, (const uint8_t *)key, keylen + 1);
			json_object_put(ks);
		}
		if (!found)
			goto out;
	}
	why = NULL;
out:
	json_object_put(o);
	json_object_put(in);
	free(key);
	jw_free(&w);
	return why;
}

#endif
