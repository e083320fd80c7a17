/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A JSON writer for the records written once per connection or flow:
 * appends straight to one growing buffer, with no object tree and no
 * allocation once the buffer is large enough. The output is what json-c
 * writes with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE.
 * A NULL key writes a bare value (top level or array element); keys are
 * the data model's own names and are written without escaping.
 */
#ifndef PS_NODE_JW_H
#define PS_NODE_JW_H

#include <stdbool.h>
#include <stddef.h>

#define JW_DEPTH 16

struct jw {
	char *buf;
	size_t len, cap;
	bool oom;	       /* an append failed: the text is incomplete */
	unsigned int depth;
	bool more[JW_DEPTH];   /* a member was written at that depth */
};

/* Empty the buffer for a new text (the memory is kept). */
void jw_reset(struct jw *w);
void jw_free(struct jw *w);

void jw_obj(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *v);
void jw_strn(struct jw *w, const char *key, const char *v, size_t n);
void jw_int(struct jw *w, const char *key, long long v);
void jw_uint(struct jw *w, const char *key, unsigned long long v);
void jw_bool(struct jw *w, const char *key, bool v);
/* An already serialised JSON value. */
void jw_raw(struct jw *w, const char *key, const char *json, size_t n);
/* Bytes appended as they are, with no separator. */
void jw_append(struct jw *w, const char *s, size_t n);

#endif
