/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A JSON writer for the records: appends straight to one growing buffer,
 * with no object tree and no allocation once the buffer is large enough.
 * For text (valid UTF-8) the output is what json-c writes with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE. A NULL key
 * writes a bare value (top level or array element); keys are the data
 * model's own names and are written without escaping (an array's key is
 * read again at jw_arr_end, for its flag: it must live until then).
 *
 * Whatever bytes a string holds, the output is valid UTF-8 JSON:
 *
 *  - A string that is valid UTF-8 (RFC 3629: no overlong forms, no
 *    surrogates, nothing above U+10FFFF) is written as it is, '"', '\\'
 *    and control bytes JSON-escaped.
 *  - A string that is not is written in its escaped form: every byte
 *    that does not belong to a valid UTF-8 sequence becomes the four
 *    characters \xNN (lower-case hex), every backslash is doubled, the
 *    valid sequences stay as they are. A member "<key>":"<escaped>" is
 *    followed by "<key>_escaped":true, which jw writes itself. In an
 *    array (args) with a string that is not text, every string of the
 *    array (and of arrays in it) is in the escaped form, and the flag
 *    "<key>_escaped":true follows the array; strings in objects in it
 *    have their own flags. The original bytes are the escaped text
 *    read back with "\\" as one backslash and "\xNN" as the byte NN.
 *    A string in an array without a key (at the top) cannot be flagged.
 *
 * So "a\\b" + byte 0xff is written "a\\\\b\\xff" with "<key>_escaped":true,
 * and decodes back to the same four bytes.
 */
#ifndef PS_NODE_JW_H
#define PS_NODE_JW_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

#define JW_DEPTH 16

struct jw {
	char *buf;
	size_t len, cap;
	bool oom;	       /* an append failed: the text is incomplete */
	bool escaped;	       /* the last string was written escaped */
	unsigned int depth;
	bool more[JW_DEPTH];   /* a member was written at that depth */
	/* at each depth: an array, its key, where it starts, whether its
	 * strings are in the escaped form */
	bool in_arr[JW_DEPTH];
	const char *arr_key[JW_DEPTH];
	size_t arr_start[JW_DEPTH];
	bool arr_escaped[JW_DEPTH];
};

/* Empty the buffer for a new text (the memory is kept). */
void jw_reset(struct jw *w);
void jw_free(struct jw *w);
/* The text written, for the caller to keep (free() it): the buffer cut
 * to its length, so a kept text costs its own size, not the writer's
 * growth. w is empty afterwards. */
char *jw_take(struct jw *w);

void jw_obj(struct jw *w, const char *key);
/* An object under a key that is data, not a name of the data model (a
 * pod's name): any bytes, written as a string is (above). True when the
 * key is in the escaped form; a key has no room for a flag, the caller
 * writes one in the object. */
bool jw_obj_named(struct jw *w, const char *name);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
/* A string; true when it was written in the escaped form: it was not
 * valid UTF-8, or it is in an array that has such a string. */
bool jw_str(struct jw *w, const char *key, const char *v);
bool jw_strn(struct jw *w, const char *key, const char *v, size_t n);
/* Whether the last string was written in the escaped form. */
static inline bool jw_escaped(const struct jw *w)
{
	return w->escaped;
}
void jw_int(struct jw *w, const char *key, long long v);
void jw_uint(struct jw *w, const char *key, unsigned long long v);
void jw_bool(struct jw *w, const char *key, bool v);
/* An already serialised JSON value. */
void jw_raw(struct jw *w, const char *key, const char *json, size_t n);
/* Bytes appended as they are, with no separator. */
void jw_append(struct jw *w, const char *s, size_t n);
/* A json-c value, written by the rules above: its strings escaped and
 * flagged when they are not text, its other values as json-c writes
 * them, but a double that is not finite (NaN, infinity) as null. Past
 * JW_DEPTH a subtree is json-c's text when its strings and keys are text
 * and its doubles finite, else null. */
void jw_json(struct jw *w, const char *key, struct json_object *o);
/* Whether json-c's text of o is JSON that jw may write as it is: its
 * strings and keys valid UTF-8, no NaN or infinity (json-c writes
 * those as bare words, which JSON does not have). */
bool jw_json_plain(struct json_object *o);

/* The length of the valid UTF-8 character at s (of n bytes), 0 when
 * none starts there. */
size_t utf8_char_len(const char *s, size_t n);
/* Whether s (n bytes) is valid UTF-8. */
bool utf8_valid(const char *s, size_t n);
/* n less the bytes of an incomplete UTF-8 sequence at the end of s: for
 * a value cut to a size limit, whose last character may be cut in two.
 * Only a valid start of a sequence is trimmed; other bytes stay. */
size_t utf8_trim_cut(const char *s, size_t n);
/* The bytes of a value written in the escaped form ("\\\\" one
 * backslash, "\\xNN" the byte NN) into out (room for n bytes). Returns
 * their number, or -1 when s is not in that form. */
long jw_unescape(const char *s, size_t n, char *out);

#endif
