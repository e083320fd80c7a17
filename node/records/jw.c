// SPDX-License-Identifier: GPL-2.0-only
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "node/records/jw.h"

static bool jw_grow(struct jw *w, size_t need)
{
	size_t cap = w->cap ? w->cap : 1024;
	char *b;

	if (w->oom)
		return false;
	while (cap < w->len + need)
		cap *= 2;
	if (cap == w->cap)
		return true;
	b = realloc(w->buf, cap);
	if (!b) {
		w->oom = true;
		return false;
	}
	w->buf = b;
	w->cap = cap;
	return true;
}

static void put(struct jw *w, const char *s, size_t n)
{
	if (w->len + n > w->cap && !jw_grow(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void putc1(struct jw *w, char c)
{
	if (w->len + 1 > w->cap && !jw_grow(w, 1))
		return;
	w->buf[w->len++] = c;
}

/* Bytes written as they are inside a string: all but '"', '\\' and
 * control characters. Bytes from 0x80 on are checked as UTF-8 first. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

/* The length of the valid UTF-8 sequence at s (n > 0 bytes left), or 0
 * when the byte at s does not start one (RFC 3629, table 3-7 of Unicode:
 * the second byte's range excludes overlong forms, surrogates and code
 * points above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0; /* a continuation byte, C0, C1, F5-FF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t utf8_char_len(const char *s, size_t n)
{
	return n ? utf8_seq((const unsigned char *)s, n) : 0;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < n) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		l = utf8_seq(u + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

size_t utf8_trim_cut(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char full[4];
	size_t i, k, need;

	/* the last byte that is not a continuation byte, at most 3 back */
	for (i = n, k = 0; i > 0 && k < 4; k++) {
		i--;
		if ((u[i] & 0xc0) != 0x80)
			break;
	}
	if (i == n || u[i] < 0xc2 || u[i] > 0xf4)
		return n;
	need = u[i] >= 0xf0 ? 4 : u[i] >= 0xe0 ? 3 : 2;
	if (n - i >= need)
		return n; /* complete (or invalid for another reason) */
	/* a valid start: it would be a valid sequence with the bytes that
	 * were cut off */
	memcpy(full, u + i, n - i);
	memset(full + (n - i), 0x80, need - (n - i));
	if (full[0] == 0xe0 && n - i == 1)
		full[1] = 0xa0;
	if (full[0] == 0xf0 && n - i == 1)
		full[1] = 0x90;
	return utf8_seq(full, need) == need ? i : n;
}

/* The escapes json-c uses; other control bytes are \u00XX. */
static void put_ctl(struct jw *w, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\' };
	size_t el = 2;

	switch (c) {
	case '"': e[1] = '"'; break;
	case '\\': e[1] = '\\'; break;
	case '\n': e[1] = 'n'; break;
	case '\t': e[1] = 't'; break;
	case '\r': e[1] = 'r'; break;
	case '\b': e[1] = 'b'; break;
	case '\f': e[1] = 'f'; break;
	default:
		memcpy(e, "\\u00", 4);
		e[4] = hex[c >> 4];
		e[5] = hex[c & 15];
		el = 6;
	}
	put(w, e, el);
}

/* The string's text between quotes. esc: the escaped form (see jw.h),
 * for a string that is not valid UTF-8. */
static void put_text(struct jw *w, const char *s, size_t n, bool esc)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start, l;

	/* room for the quotes and the text unescaped, the common case */
	if (w->len + n + 2 > w->cap && !jw_grow(w, n + 2))
		return;
	w->buf[w->len++] = '"';
	while (i < n) {
		unsigned char c;

		for (start = i; i < n && plain(u[i]); i++) {
			if (u[i] < 0x80)
				continue;
			l = utf8_seq(u + i, n - i);
			if (!l)
				break;
			i += l - 1;
		}
		put(w, s + start, i - start);
		if (i == n)
			break;
		c = u[i++];
		if (c < 0x80) {
			if (esc && c == '\\')
				put(w, "\\\\", 2);
			put_ctl(w, c);
		} else { /* not part of a valid sequence: \xNN as text */
			char e[5] = { '\\', '\\', 'x', hex[c >> 4], hex[c & 15] };

			put(w, e, 5);
		}
	}
	putc1(w, '"');
}

/* The separator and the key of the next member. Keys are names of the
 * data model, written as they are. */
static void member(struct jw *w, const char *key)
{
	size_t n = key ? strlen(key) : 0;

	if (w->len + n + 4 > w->cap && !jw_grow(w, n + 4))
		return;
	if (w->depth && w->depth <= JW_DEPTH) {
		if (w->more[w->depth - 1])
			w->buf[w->len++] = ',';
		w->more[w->depth - 1] = true;
	}
	if (key) {
		w->buf[w->len++] = '"';
		memcpy(w->buf + w->len, key, n);
		w->len += n;
		w->buf[w->len++] = '"';
		w->buf[w->len++] = ':';
	}
}

void jw_reset(struct jw *w)
{
	w->len = 0;
	w->oom = false;
	w->escaped = false;
	w->depth = 0;
}

char *jw_take(struct jw *w)
{
	char *b = w->buf, *s;

	s = w->len ? realloc(b, w->len) : NULL;
	if (!s && w->len)
		s = b; /* it could not shrink: keep it whole */
	else if (!w->len)
		free(b);
	*w = (struct jw){};
	return s;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static void open_at(struct jw *w, const char *key, char c)
{
	putc1(w, c);
	if (w->depth < JW_DEPTH) {
		w->more[w->depth] = false;
		w->in_arr[w->depth] = c == '[';
		w->arr_key[w->depth] = key;
		w->arr_start[w->depth] = w->len;
		w->arr_escaped[w->depth] = false;
	}
	w->depth++;
}

static void open_(struct jw *w, const char *key, char c)
{
	member(w, key);
	open_at(w, key, c);
}

bool jw_obj_named(struct jw *w, const char *name)
{
	size_t n = strlen(name);
	bool esc = !utf8_valid(name, n);

	member(w, NULL);
	put_text(w, name, n, esc);
	putc1(w, ':');
	open_at(w, NULL, '{');
	return esc;
}

/* "<key>_escaped":true after the member key, in the same object */
static void flag(struct jw *w, const char *key)
{
	member(w, NULL);
	putc1(w, '"');
	put(w, key, strlen(key));
	put(w, "_escaped\":true", 14);
}

/* The array whose flag covers a string at the current depth: the
 * innermost one with a key, up through arrays of arrays; -1 when the
 * string is not in a tracked array. */
static int arr_owner(const struct jw *w)
{
	int d = (int)w->depth - 1;

	if (d < 0 || d >= JW_DEPTH || !w->in_arr[d])
		return -1;
	while (!w->arr_key[d] && d > 0 && w->in_arr[d - 1])
		d--;
	return d;
}

/*
 * The first string of an array that is not text: the strings written in
 * it before were text, and become the escaped form too (their
 * backslashes doubled, the only difference), so that the array's flag
 * holds for every string of it. Strings in objects in the array have
 * flags of their own and stay.
 */
static void arr_rewrite(struct jw *w, size_t from)
{
	size_t n = w->len - from, i = 0;
	unsigned long long objs = 0; /* a bit per nesting level: an object */
	unsigned int depth = 0;
	char *seg;

	if (!n || w->oom)
		return;
	seg = malloc(n);
	if (!seg) {
		w->oom = true;
		return;
	}
	memcpy(seg, w->buf + from, n);
	w->len = from;
	while (i < n) {
		char c = seg[i];
		bool direct = !objs;

		if (c != '"') {
			if ((c == '{' || c == '[') && depth < 64) {
				objs |= (unsigned long long)(c == '{') << depth;
				depth++;
			} else if ((c == '}' || c == ']') && depth) {
				depth--;
				objs &= ~(1ULL << depth);
			}
			putc1(w, c);
			i++;
			continue;
		}
		putc1(w, '"');
		for (i++; i < n && seg[i] != '"'; i++) {
			if (seg[i] != '\\' || i + 1 >= n) {
				putc1(w, seg[i]);
				continue;
			}
			if (direct && seg[i + 1] == '\\')
				put(w, "\\\\", 2);
			put(w, seg + i, 2);
			i++;
		}
		putc1(w, '"');
		i++;
	}
	free(seg);
}

void jw_obj(struct jw *w, const char *key)
{
	open_(w, key, '{');
}

void jw_obj_end(struct jw *w)
{
	w->depth--;
	putc1(w, '}');
}

void jw_arr(struct jw *w, const char *key)
{
	open_(w, key, '[');
}

void jw_arr_end(struct jw *w)
{
	w->depth--;
	putc1(w, ']');
	if (w->depth < JW_DEPTH && w->arr_escaped[w->depth] &&
	    w->arr_key[w->depth])
		flag(w, w->arr_key[w->depth]);
}

bool jw_strn(struct jw *w, const char *key, const char *v, size_t n)
{
	bool esc = !utf8_valid(v, n);
	int a = key ? -1 : arr_owner(w);

	member(w, key);
	if (a >= 0 && !w->arr_escaped[a] && esc) {
		arr_rewrite(w, w->arr_start[a]);
		w->arr_escaped[a] = true;
	}
	/* in an array that is flagged, every string is in the escaped form */
	esc |= a >= 0 && w->arr_escaped[a];
	put_text(w, v, n, esc);
	w->escaped = esc;
	if (esc && key)
		flag(w, key);
	return esc;
}

bool jw_str(struct jw *w, const char *key, const char *v)
{
	return jw_strn(w, key, v ? v : "", v ? strlen(v) : 0);
}

static void put_uint(struct jw *w, unsigned long long v)
{
	char d[24];
	int i = sizeof(d);

	do {
		d[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	put(w, d + i, sizeof(d) - i);
}

void jw_uint(struct jw *w, const char *key, unsigned long long v)
{
	member(w, key);
	put_uint(w, v);
}

void jw_int(struct jw *w, const char *key, long long v)
{
	member(w, key);
	if (v < 0)
		putc1(w, '-');
	put_uint(w, v < 0 ? -(unsigned long long)v : (unsigned long long)v);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	member(w, key);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_raw(struct jw *w, const char *key, const char *json, size_t n)
{
	member(w, key);
	put(w, json, n);
}

void jw_append(struct jw *w, const char *s, size_t n)
{
	put(w, s, n);
}

/* A key that member() may write as it is. */
static bool key_plain(const char *k)
{
	for (; *k; k++)
		if ((unsigned char)*k >= 0x80 || !plain(*k))
			return false;
	return true;
}

/* The JSON text of a key from a json-c object (without quotes), for
 * the rare key that is not plain; NULL when out of memory. */
static char *key_text(const char *k)
{
	struct jw t = {};
	size_t n = strlen(k);
	char *s;

	put_text(&t, k, n, !utf8_valid(k, n));
	if (t.oom || t.len < 2) {
		jw_free(&t);
		return NULL;
	}
	s = t.buf;
	memmove(s, s + 1, t.len - 2);
	s[t.len - 2] = 0;
	return s;
}

bool jw_json_plain(struct json_object *o)
{
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_string:
		return utf8_valid(json_object_get_string(o),
				  json_object_get_string_len(o));
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			if (!utf8_valid(k, strlen(k)) || !jw_json_plain(v))
				return false;
		}
		return true;
	}
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!jw_json_plain(json_object_array_get_idx(o, i)))
				return false;
		return true;
	default:
		return true;
	}
}

void jw_json(struct jw *w, const char *key, struct json_object *o)
{
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_string:
		jw_strn(w, key, json_object_get_string(o),
			json_object_get_string_len(o));
		return;
	case json_type_object:
		if (w->depth >= JW_DEPTH - 1)
			break;
		jw_obj(w, key);
		json_object_object_foreach(o, k, v) {
			char *kt = key_plain(k) ? NULL : key_text(k);

			if (key_plain(k) || kt)
				jw_json(w, kt ? kt : k, v);
			else
				w->oom = true;
			free(kt);
		}
		jw_obj_end(w);
		return;
	case json_type_array:
		if (w->depth >= JW_DEPTH - 1)
			break;
		jw_arr(w, key);
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			jw_json(w, NULL, json_object_array_get_idx(o, i));
		jw_arr_end(w);
		return;
	case json_type_null:
		jw_raw(w, key, "null", 4);
		return;
	default: /* numbers and booleans: json-c's own text */
		break;
	}
	{
		/* deeper than JW_DEPTH: json-c's text when it is plain JSON;
		 * a double that is not finite: null */
		const char *t = jw_json_plain(o) ? json_object_to_json_string_length(
			o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
			&n) : NULL;

		int a = key ? -1 : arr_owner(w);
		size_t from;

		if (!t) {
			jw_raw(w, key, "null", 4);
			return;
		}
		member(w, key);
		from = w->len;
		put(w, t, n);
		/* in an array that is flagged, its strings too are in the
		 * escaped form (as arr_rewrite makes those written before) */
		if (a >= 0 && w->arr_escaped[a])
			arr_rewrite(w, from);
	}
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long jw_unescape(const char *s, size_t n, char *out)
{
	const char *end = s + n;
	char *o = out;

	while (s < end) {
		int hi, lo;

		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		if (end - s >= 2 && s[1] == '\\') {
			*o++ = '\\';
			s += 2;
			continue;
		}
		if (end - s < 4 || s[1] != 'x' || (hi = hex_val(s[2])) < 0 ||
		    (lo = hex_val(s[3])) < 0)
			return -1;
		*o++ = (char)(hi << 4 | lo);
		s += 4;
	}
	return o - out;
}
