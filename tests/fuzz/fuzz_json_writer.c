// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the direct JSON writer (node/records/jw.c).
 *
 *  1. The whole input as one string value, member, array element and
 *     json-c tree key (tests/fuzz/jw_roundtrip.h).
 *  2. The input read as a program that nests objects and arrays and
 *     writes strings of any bytes, numbers, booleans and nulls: once
 *     through jw's own calls (keys are the data model's plain names) and
 *     once as a json-c tree written by jw_json (keys of any bytes, doubles
 *     of any bits, nesting past JW_DEPTH). Each output must be one line
 *     of strict UTF-8 that json-c parses whole, and hold exactly the
 *     program's values: a string in the escaped form (README: bytes that
 *     are not text) exactly when it, or a string of its array, is not
 *     UTF-8, flagged by "<key>_escaped":true, decoding back to its bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "node/records/jw.h"
#include "tests/fuzz/jw_roundtrip.h"

#define MUST(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

#define PROG_OPS 4096
#define PROG_DEPTH 24		  /* the tree: past JW_DEPTH */
#define DIRECT_DEPTH JW_DEPTH	  /* jw's own calls: at most this deep */
#define FALLBACK_DEPTH (JW_DEPTH - 1) /* jw_json writes json-c's text here */

/* The bytes s (n) stand for, given whether they are in the escaped form;
 * compared with want (wn). */
static bool bytes_same(const char *s, size_t n, bool esc, const char *want,
		       size_t wn)
{
	char *out;
	long m;
	bool ok;

	if (!esc)
		return n == wn && !memcmp(s, want, n);
	out = malloc(n + 1);
	MUST(out);
	m = jw_unescape(s, n, out);
	ok = m == (long)wn && !memcmp(out, want, wn);
	free(out);
	return ok;
}

static bool same(struct json_object *want, struct json_object *got,
		 unsigned int depth, bool esc);

/* jw_json's output is checked (it leaves trees past FALLBACK_DEPTH to
 * json-c), not that of jw's own calls */
static bool fallback;

/* Whether an array written at depth holds a string that is not text in
 * what jw writes itself (not in a subtree it leaves to json-c). */
static bool arr_not_text(struct json_object *a, unsigned int depth)
{
	size_t i, n = json_object_array_length(a);

	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		if (json_object_is_type(e, json_type_string) &&
		    !utf8_valid(json_object_get_string(e), json_object_get_string_len(e)))
			return true;
		if (json_object_is_type(e, json_type_array) &&
		    (!fallback || depth + 1 < FALLBACK_DEPTH) &&
		    arr_not_text(e, depth + 1))
			return true;
	}
	return false;
}

static bool flag_of(struct json_object *got, const char *gk)
{
	struct json_object *f;
	char *fk;
	bool on;

	MUST(asprintf(&fk, "%s_escaped", gk) > 0);
	on = json_object_object_get_ex(got, fk, &f);
	if (on)
		MUST(json_object_is_type(f, json_type_boolean) && json_object_get_boolean(f));
	free(fk);
	return on;
}

static bool obj_same(struct json_object *want, struct json_object *got,
		     unsigned int depth)
{
	int members = 0, flags = 0;

	if (!json_object_is_type(got, json_type_object))
		return false;
	json_object_object_foreach(want, k, v) {
		size_t kn = strlen(k);
		bool ktext = utf8_valid(k, kn), flagged, should;
		const char *gk = NULL;
		struct json_object *gv = NULL;

		members++;
		/* the member whose key decodes to k: a key that is not text
		 * is in the escaped form, unflagged */
		json_object_object_foreach(got, g, x) {
			if (bytes_same(g, strlen(g), !ktext, k, kn)) {
				gk = g;
				gv = x;
				break;
			}
		}
		if (!gk)
			return false;
		flagged = flag_of(got, gk);
		flags += flagged;
		if (json_object_is_type(v, json_type_string))
			should = !utf8_valid(json_object_get_string(v),
					     json_object_get_string_len(v));
		else if (json_object_is_type(v, json_type_array))
			should = (!fallback || depth + 1 < FALLBACK_DEPTH) &&
				 arr_not_text(v, depth + 1);
		else
			should = false;
		if (flagged != should || !same(v, gv, depth + 1, flagged))
			return false;
	}
	return json_object_object_length(got) == members + flags;
}

/* want written at depth (the writer's depth when its member began); esc:
 * its strings are in the escaped form (a flagged member or array). */
static bool same(struct json_object *want, struct json_object *got,
		 unsigned int depth, bool esc)
{
	enum json_type t = json_object_get_type(want);
	size_t i, n;

	if ((t == json_type_object || t == json_type_array) && fallback &&
	    depth >= FALLBACK_DEPTH) {
		if (!jw_json_plain(want))
			return json_object_get_type(got) == json_type_null;
		/* json-c's text, but in a flagged array its strings are in
		 * the escaped form as the array's own are */
		if (!esc)
			return json_object_equal(want, got);
	}
	switch (t) {
	case json_type_null:
		return json_object_get_type(got) == json_type_null;
	case json_type_boolean:
		return json_object_is_type(got, json_type_boolean) &&
		       !json_object_get_boolean(got) == !json_object_get_boolean(want);
	case json_type_int:
		return json_object_is_type(got, json_type_int) &&
		       json_object_get_int64(got) == json_object_get_int64(want);
	case json_type_double:
		if (!isfinite(json_object_get_double(want)))
			return json_object_get_type(got) == json_type_null;
		return json_object_is_type(got, json_type_double) &&
		       json_object_get_double(got) == json_object_get_double(want);
	case json_type_string:
		return json_object_is_type(got, json_type_string) &&
		       bytes_same(json_object_get_string(got),
				  json_object_get_string_len(got), esc,
				  json_object_get_string(want),
				  json_object_get_string_len(want));
	case json_type_array:
		n = json_object_array_length(want);
		if (!json_object_is_type(got, json_type_array) ||
		    json_object_array_length(got) != n)
			return false;
		for (i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(want, i);

			/* objects in an array have flags of their own */
			if (!same(e, json_object_array_get_idx(got, i), depth + 1,
				  esc && !json_object_is_type(e, json_type_object)))
				return false;
		}
		return true;
	case json_type_object:
		return obj_same(want, got, depth);
	}
	return false;
}

/* ---- the program ---- */

struct prog {
	const uint8_t *p, *end;
	struct jw w; /* the direct calls */
	struct json_object *direct[PROG_DEPTH + 1], *tree[PROG_DEPTH + 1];
	unsigned int depth; /* open containers below the top object */
	char keys[PROG_DEPTH + 1][32]; /* an open array's key lives on */
	unsigned long long keyno;
	char rawkey[257];
	size_t rawkey_len;
};

static size_t take(struct prog *g, void *out, size_t n)
{
	size_t have = (size_t)(g->end - g->p);

	if (n > have)
		n = have;
	memcpy(out, g->p, n);
	g->p += n;
	return n;
}

/* Adds tv to the open tree, and dv to the direct model when jw's calls
 * wrote it (dadd). */
static void add(struct prog *g, struct json_object *tv, struct json_object *dv,
		bool dadd, char *dkey)
{
	struct json_object *t = g->tree[g->depth], *d = g->direct[g->depth];

	if (json_object_is_type(t, json_type_object)) {
		char *tkey;

		/* "k<n>." first: no key is another one's "_escaped" flag */
		MUST(asprintf(&tkey, "k%llu.%.*s", g->keyno, (int)g->rawkey_len,
			      g->rawkey) > 0);
		json_object_object_add(t, tkey, tv);
		free(tkey);
		if (d && dadd)
			json_object_object_add(d, dkey, dv);
	} else {
		json_object_array_add(t, tv);
		if (d && dadd)
			json_object_array_add(d, dv);
	}
	g->rawkey_len = 0;
}

static void prog_run(struct prog *g)
{
	int ops = 0;

	jw_obj(&g->w, NULL);
	while (g->p < g->end && ops++ < PROG_OPS) {
		uint8_t b = *g->p++, n;
		bool in_obj = json_object_is_type(g->tree[g->depth], json_type_object);
		bool direct = g->direct[g->depth] != NULL;
		char dkey[32], *key = NULL;
		char s[256];
		int64_t i64;
		double dbl;

		if (in_obj) {
			snprintf(dkey, sizeof(dkey), "k%llu", ++g->keyno);
			key = dkey;
		}
		switch (b % 8) {
		case 0: /* an object */
		case 1: /* an array */
			if (g->depth >= PROG_DEPTH)
				break;
			{
				bool arr = b % 8 == 1;
				struct json_object *t = arr ? json_object_new_array()
							    : json_object_new_object();
				struct json_object *d = NULL;

				MUST(t);
				if (key) {
					memcpy(g->keys[g->depth + 1], key, sizeof(dkey));
					key = g->keys[g->depth + 1];
				}
				/* jw's own calls nest at most DIRECT_DEPTH */
				if (direct && g->depth + 1 < DIRECT_DEPTH) {
					d = arr ? json_object_new_array()
						: json_object_new_object();
					MUST(d);
					if (arr)
						jw_arr(&g->w, key);
					else
						jw_obj(&g->w, key);
				}
				add(g, t, d, d != NULL, key);
				g->depth++;
				g->tree[g->depth] = t;
				g->direct[g->depth] = d;
			}
			break;
		case 2: /* close */
			if (!g->depth)
				break;
			if (g->direct[g->depth]) {
				if (json_object_is_type(g->direct[g->depth], json_type_array))
					jw_arr_end(&g->w);
				else
					jw_obj_end(&g->w);
			}
			g->depth--;
			break;
		case 3: /* a string of the next n bytes */
			if (!take(g, &n, 1))
				break;
			n = take(g, s, n);
			add(g, json_object_new_string_len(s, n),
			    direct ? json_object_new_string_len(s, n) : NULL, direct, key);
			if (direct)
				jw_strn(&g->w, key, s, n);
			break;
		case 4: /* an integer */
			i64 = 0;
			take(g, &i64, sizeof(i64));
			add(g, json_object_new_int64(i64),
			    direct ? json_object_new_int64(i64) : NULL, direct, key);
			if (direct)
				jw_int(&g->w, key, i64);
			break;
		case 5: /* a boolean, or null */
			if (b & 0x40) {
				add(g, NULL, NULL, direct, key);
				if (direct)
					jw_raw(&g->w, key, "null", 4);
			} else {
				add(g, json_object_new_boolean((b & 8) != 0),
				    direct ? json_object_new_boolean((b & 8) != 0) : NULL, direct, key);
				if (direct)
					jw_bool(&g->w, key, (b & 8) != 0);
			}
			break;
		case 6: /* a double of any bits: the tree only */
			dbl = 0;
			take(g, &dbl, sizeof(dbl));
			if (direct) {
				/* jw writes no doubles: an unsigned integer */
				add(g, json_object_new_double(dbl),
				    json_object_new_int64((int64_t)(b >> 3)), true, key);
				jw_uint(&g->w, key, b >> 3);
			} else {
				add(g, json_object_new_double(dbl), NULL, false, key);
			}
			break;
		case 7: /* raw bytes for the tree's next key (up to a NUL) */
			if (!take(g, &n, 1))
				break;
			g->rawkey_len = take(g, g->rawkey, n);
			g->rawkey[g->rawkey_len] = 0;
			g->rawkey_len = strlen(g->rawkey);
			if (in_obj)
				g->keyno--; /* no member: its number again */
			break;
		}
	}
	for (; g->depth; g->depth--)
		if (g->direct[g->depth]) {
			if (json_object_is_type(g->direct[g->depth], json_type_array))
				jw_arr_end(&g->w);
			else
				jw_obj_end(&g->w);
		}
	jw_obj_end(&g->w);
}

static void check(const struct jw *w, struct json_object *want, const char *what)
{
	const char *why = NULL;
	struct json_object *got = rt_parse(w, &why);

	if (!got || !same(want, got, 0, false)) {
		fprintf(stderr, "%s: %s\n%.*s\n", what, got ? "values differ" : why,
			(int)(w->len < 4096 ? w->len : 4096), w->buf);
		MUST(0);
	}
	json_object_put(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct prog g;
	const char *why = jw_roundtrip_check(data, size);
	struct jw tw = {};

	if (why) {
		fprintf(stderr, "round trip of the input: %s\n", why);
		MUST(0);
	}
	jw_reset(&g.w);
	g.p = data;
	g.end = data + size;
	g.depth = 0;
	g.keyno = 0;
	g.rawkey_len = 0;
	g.direct[0] = json_object_new_object();
	g.tree[0] = json_object_new_object();
	MUST(g.direct[0] && g.tree[0]);
	prog_run(&g);
	fallback = false;
	check(&g.w, g.direct[0], "jw's calls");
	fallback = true;
	jw_json(&tw, NULL, g.tree[0]);
	check(&tw, g.tree[0], "jw_json of the tree");
	jw_free(&tw);
	json_object_put(g.direct[0]);
	json_object_put(g.tree[0]);
	return 0;
}
