/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One JSON document from a buffer of known length: the document and
 * nothing after it but whitespace. json-c alone stops at the end of the
 * first value and takes a NUL for the end of the input.
 */
#ifndef PS_SHARED_JSONPARSE_H
#define PS_SHARED_JSONPARSE_H

#include <stddef.h>
#include <json-c/json.h>

#define JSON_WHY_LEN 128

/* The value in buf[0..len), or NULL with why set to "invalid JSON at byte
 * N: cause" or "trailing data at byte N (...)", N counted from 0. */
json_object *json_parse_exact(const char *buf, size_t len, char *why);

/* The string of v when v is a string without NUL bytes (JSON "\u0000"),
 * else NULL. */
const char *json_text(json_object *v);

#endif
