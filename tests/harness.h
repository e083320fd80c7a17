/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test harness for C tests. A test binary runs its subtests and prints one
 * line per subtest on stdout for tests/run.sh:
 *   ok NAME | not ok NAME: why | skip NAME: why
 * ASSERT_* print the failing expression on stderr and return false, so a
 * subtest reads as a sequence of `if (!ASSERT_...) goto out;`.
 */
#ifndef PS_TEST_HARNESS_H
#define PS_TEST_HARNESS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct ps_test {
	const char *name;
	void (*fn)(void);
};

/* Mark the current subtest failed / skipped (with a reason). */
void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a table of subtests; returns the process exit status. */
int test_main(int argc, char **argv, const struct ps_test *tests, int n);

/* Per-test resources given by tests/run.sh (with defaults for manual runs). */
const char *test_env(const char *name, const char *fallback);

#define ASSERT_TRUE(cond, what)                                                \
	({                                                                     \
		bool ___ok = (cond);                                           \
		if (!___ok)                                                    \
			test_fail("%s:%d: %s: expected true", __FILE__,        \
				  __LINE__, what);                             \
		___ok;                                                         \
	})

#define ASSERT_EQ(a, b, what)                                                  \
	({                                                                     \
		long long ___a = (long long)(a), ___b = (long long)(b);        \
		bool ___ok = ___a == ___b;                                     \
		if (!___ok)                                                    \
			test_fail("%s:%d: %s: got %lld, want %lld", __FILE__,  \
				  __LINE__, what, ___a, ___b);                 \
		___ok;                                                         \
	})

#define ASSERT_OK(err, what) ASSERT_EQ((err), 0, what)

#define ASSERT_STREQ(a, b, what)                                               \
	({                                                                     \
		const char *___a = (a), *___b = (b);                           \
		bool ___ok = ___a && ___b && strcmp(___a, ___b) == 0;          \
		if (!___ok)                                                    \
			test_fail("%s:%d: %s: got \"%s\", want \"%s\"",        \
				  __FILE__, __LINE__, what,                    \
				  ___a ? ___a : "(null)",                      \
				  ___b ? ___b : "(null)");                     \
		___ok;                                                         \
	})

#define TEST_MAIN(...)                                                         \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		static const struct ps_test ___t[] = { __VA_ARGS__ };          \
		return test_main(argc, argv, ___t,                             \
				 sizeof(___t) / sizeof(___t[0]));              \
	}
#define TEST(fn) { #fn, fn }

#endif
