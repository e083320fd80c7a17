// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the metrics endpoint's request parser
 * (node/sinks/http.c, http_parse). The input is a request head as the
 * server hands it over: the bytes before the first blank line, cut there.
 * Whatever they are, the parser reads nothing outside them, and a head
 * it takes has a method and a target with no space or line break, the
 * path no longer than the target, within the head.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/sinks/http.h"

#define MUST(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static bool token_ok(const char *s, const char *lo, const char *hi)
{
	return s >= lo && s < hi && *s && !strpbrk(s, " \r\n") &&
	       s + strlen(s) <= hi;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *cut = memmem(data, size, "\r\n\r\n", 4);
	size_t n = cut ? (size_t)(cut - data) : size;
	struct http_req r;
	char *buf;

	if (n >= HTTP_HEAD_MAX)
		return 0;
	/* as in the server's buffer: the head, then its blank line */
	buf = malloc(n + 4);
	MUST(buf);
	memcpy(buf, data, n);
	memcpy(buf + n, "\0\n\r\n", 4);
	if (!http_parse(buf, n, &r)) {
		MUST(token_ok(r.method, buf, buf + n));
		MUST(token_ok(r.target, buf, buf + n));
		MUST(r.path_len <= strlen(r.target));
		MUST(!r.why);
	} else {
		MUST(r.why && *r.why);
	}
	free(buf);
	return 0;
}
