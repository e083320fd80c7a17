// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdlib.h>

#include "tests/harness.h"

static int cur_failed, cur_skipped;
static char cur_reason[512];

static void note(int *flag, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "    %s\n", buf);
	if (!cur_reason[0])
		snprintf(cur_reason, sizeof(cur_reason), "%s", buf);
	*flag = 1;
}

void test_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note(&cur_failed, fmt, ap);
	va_end(ap);
}

void test_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note(&cur_skipped, fmt, ap);
	va_end(ap);
}

const char *test_env(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

int test_main(int argc, char **argv, const struct ps_test *tests, int n)
{
	int i, failed = 0;
	const char *only = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < n; i++) {
		if (only && strcmp(only, tests[i].name))
			continue;
		cur_failed = cur_skipped = 0;
		cur_reason[0] = 0;
		tests[i].fn();
		fflush(stderr);
		if (cur_failed) {
			printf("not ok %s: %s\n", tests[i].name, cur_reason);
			failed++;
		} else if (cur_skipped) {
			printf("skip %s: %s\n", tests[i].name, cur_reason);
		} else {
			printf("ok %s\n", tests[i].name);
		}
	}
	return failed ? 1 : 0;
}
