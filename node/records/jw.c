// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>

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
 * control characters. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

/* The escapes json-c uses; other control bytes are \u00XX. */
static void put_escaped(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, start;

	/* room for the quotes and the text unescaped, the common case */
	if (w->len + n + 2 > w->cap && !jw_grow(w, n + 2))
		return;
	w->buf[w->len++] = '"';
	while (i < n) {
		unsigned char c;
		char e[6] = { '\\' };
		size_t el = 2;

		for (start = i; i < n && plain(s[i]); i++)
			;
		put(w, s + start, i - start);
		if (i == n)
			break;
		c = s[i++];
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
	w->depth = 0;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static void open_(struct jw *w, const char *key, char c)
{
	member(w, key);
	putc1(w, c);
	if (w->depth < JW_DEPTH)
		w->more[w->depth] = false;
	w->depth++;
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
}

void jw_strn(struct jw *w, const char *key, const char *v, size_t n)
{
	member(w, key);
	put_escaped(w, v, n);
}

void jw_str(struct jw *w, const char *key, const char *v)
{
	jw_strn(w, key, v ? v : "", v ? strlen(v) : 0);
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
