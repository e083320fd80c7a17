// SPDX-License-Identifier: GPL-2.0-only
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cni/shared/jsonparse.h"
#include "cni/shared/util.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trailing_why(const char *buf, size_t at, char *why)
{
	unsigned char c = (unsigned char)buf[at];

	if (!c)
		err_fmt(why, JSON_WHY_LEN, "trailing data at byte %zu (a NUL byte)",
			at);
	else if (c > ' ' && c < 0x7f)
		err_fmt(why, JSON_WHY_LEN, "trailing data at byte %zu ('%c')",
			at, c);
	else
		err_fmt(why, JSON_WHY_LEN, "trailing data at byte %zu (byte 0x%02x)",
			at, c);
}

json_object *json_parse_exact(const char *buf, size_t len, char *why)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *o;
	size_t end;

	if (len > (size_t)INT32_MAX) {
		err_fmt(why, JSON_WHY_LEN, "invalid JSON: %zu bytes is too long",
			len);
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		err_fmt(why, JSON_WHY_LEN, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	/* A number or literal at the very end is complete only once the
	 * tokener is told the input is over. */
	if (!o && jerr == json_tokener_continue && end == len) {
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (!o)
			end = len;
	}
	json_tokener_free(tok);
	/* json-c stops one past a NUL it takes for the end */
	if (!o && end > 0 && end <= len && !buf[end - 1]) {
		err_fmt(why, JSON_WHY_LEN, "invalid JSON at byte %zu: a NUL byte",
			end - 1);
		return NULL;
	}
	if (!o) {
		err_fmt(why, JSON_WHY_LEN, "invalid JSON at byte %zu: %s", end,
			jerr == json_tokener_continue ? "unexpected end of input"
						      : json_tokener_error_desc(jerr));
		return NULL;
	}
	while (end < len && is_space(buf[end]))
		end++;
	if (end < len) {
		trailing_why(buf, end, why);
		json_object_put(o);
		return NULL;
	}
	return o;
}

const char *json_text(json_object *v)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}
