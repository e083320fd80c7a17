// SPDX-License-Identifier: GPL-2.0-only
/*
 * cni/shared/text.c: what is text (valid UTF-8 without control
 * characters), the display form, the log escape and the percent-encoding
 * of names that are not text, as tables of bytes and what each gives.
 */
#include <string.h>

#include "tests/harness.h"
#include "cni/shared/text.h"

#define U "\xef\xbf\xbd" /* U+FFFD */

struct text_case {
	const char *desc;
	const char *in;
	bool clean;
	const char *display;
	const char *escaped; /* TEXT_ESC_QUOTE | TEXT_ESC_SPACE */
	const char *pct;
};

static const struct text_case cases[] = {
	{ "ascii name", "web-7d9f", true, "web-7d9f", "web-7d9f", "web-7d9f" },
	{ "empty", "", true, "", "", "" },
	{ "utf-8 letters", "caf\xc3\xa9-\xe6\x97\xa5\xf0\x9f\x90\xb3", true,
	  "caf\xc3\xa9-\xe6\x97\xa5\xf0\x9f\x90\xb3",
	  "caf\xc3\xa9-\xe6\x97\xa5\xf0\x9f\x90\xb3",
	  "caf%C3%A9-%E6%97%A5%F0%9F%90%B3" },
	{ "newline forging a log line", "a\nb 2026 info:", false,
	  "a" U "b 2026 info:", "a\\nb\\x202026\\x20info:", "a%0Ab%202026%20info:" },
	{ "tab, CR, NUL-free C0, DEL", "\t\r\x01\x7f", false, U U U U,
	  "\\t\\r\\x01\\x7F", "%09%0D%01%7F" },
	{ "quote, backslash, percent", "\"\\%", true, "\"\\%", "\\\"\\\\%",
	  "\"\\%25" },
	{ "lone continuation byte", "a\x80z", false, "a" U "z", "a\\x80z",
	  "a%80z" },
	{ "0xff", "\xff", false, U, "\\xFF", "%FF" },
	{ "cut sequence", "\xe2\x82", false, U U, "\\xE2\\x82", "%E2%82" },
	{ "overlong slash", "\xc0\xaf", false, U U, "\\xC0\\xAF", "%C0%AF" },
	{ "overlong 3 bytes", "\xe0\x80\xaf", false, U U U,
	  "\\xE0\\x80\\xAF", "%E0%80%AF" },
	{ "surrogate", "\xed\xa0\x80", false, U U U, "\\xED\\xA0\\x80",
	  "%ED%A0%80" },
	{ "past U+10FFFF", "\xf4\x90\x80\x80", false, U U U U,
	  "\\xF4\\x90\\x80\\x80", "%F4%90%80%80" },
	{ "C1 control U+0085", "\xc2\x85", false, U, "\\xC2\\x85", "%C2%85" },
	{ "line separator U+2028", "a\xe2\x80\xa8z", false, "a" U "z",
	  "a\\xE2\\x80\\xA8z", "a%E2%80%A8z" },
	{ "U+00A0 is text", "\xc2\xa0", true, "\xc2\xa0", "\xc2\xa0", "%C2%A0" },
};

static void test_text_table(void)
{
	char buf[256];
	unsigned int i;
	size_t n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct text_case *c = &cases[i];
		size_t len = strlen(c->in);

		if (!ASSERT_EQ(text_is_clean(c->in, len), c->clean, c->desc))
			return;
		n = text_display(buf, sizeof(buf), c->in, len);
		if (!ASSERT_STREQ(buf, c->display, c->desc) ||
		    !ASSERT_EQ(n, strlen(c->display), c->desc) ||
		    !ASSERT_TRUE(text_is_clean(buf, n), "display form is text"))
			return;
		text_escape(buf, sizeof(buf), c->in, len,
			    TEXT_ESC_QUOTE | TEXT_ESC_SPACE);
		if (!ASSERT_STREQ(buf, c->escaped, c->desc))
			return;
		text_pct_encode(buf, sizeof(buf), c->in, len);
		if (!ASSERT_STREQ(buf, c->pct, c->desc))
			return;
	}
}

/* Every byte value but NUL comes back from the percent-encoding. */
static void test_pct_round_trip(void)
{
	char in[256], enc[3 * 255 + 1], back[256];
	size_t bad = 0;
	int i;

	for (i = 1; i < 256; i++)
		in[i - 1] = (char)i;
	in[255] = 0;
	text_pct_encode(enc, sizeof(enc), in, 255);
	if (!ASSERT_EQ(text_pct_decode(back, sizeof(back), enc, &bad), 255,
		       "all 255 bytes decoded") ||
	    !ASSERT_TRUE(!memcmp(back, in, 255), "same bytes"))
		return;
	ASSERT_EQ(text_pct_decode(back, sizeof(back), "ab%4", &bad), -1, "cut");
	ASSERT_EQ(bad, 2, "offset of the bad '%'");
	ASSERT_EQ(text_pct_decode(back, sizeof(back), "a%00", &bad), -1, "%00");
	ASSERT_EQ(text_pct_decode(back, sizeof(back), "a b", &bad), -1,
		  "a byte the encoding never leaves");
	ASSERT_EQ(bad, 1, "offset of the space");
	ASSERT_EQ(text_pct_decode(back, 3, "abc", &bad), -1, "longer than dst");
	ASSERT_EQ(text_pct_decode(back, sizeof(back), "%41%62", &bad), 2,
		  "lower and upper case");
	ASSERT_STREQ(back, "Ab", "decoded");
}

/* A form that does not fit is cut before a whole character or escape,
 * and the length it needs is still returned. */
static void test_cut(void)
{
	char buf[6];

	ASSERT_EQ(text_display(buf, sizeof(buf), "ab\xff\xff", 4), 8, "needed");
	ASSERT_STREQ(buf, "ab" U, "whole U+FFFD only");
	ASSERT_EQ(text_escape(buf, sizeof(buf), "a\nb\x01", 4, 0), 8, "needed");
	ASSERT_STREQ(buf, "a\\nb", "whole escapes only");
	ASSERT_EQ(text_pct_encode(buf, sizeof(buf), "a\x01\x02", 3), 7, "needed");
	ASSERT_STREQ(buf, "a%01", "whole %XX only");
	ASSERT_EQ(text_display(buf, sizeof(buf), "\xe6\x97\xa5\xe6\x97\xa5", 6),
		  6, "needed");
	ASSERT_STREQ(buf, "\xe6\x97\xa5", "whole characters only");
}

TEST_MAIN(TEST(test_text_table), TEST(test_pct_round_trip), TEST(test_cut))
