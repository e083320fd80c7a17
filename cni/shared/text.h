/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bytes that come from outside (CNI_ARGS, the environment, the network
 * config) on their way into log lines, error messages and state files:
 * UTF-8 checking, a display form that is always text, a visible escape
 * for logs, and a percent-encoding that gives the bytes back exactly.
 *
 * "Text" here is valid UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF) without control characters: C0, DEL, C1 and the
 * line and paragraph separators U+2028/U+2029, which some log readers
 * take for line breaks.
 */
#ifndef PS_SHARED_TEXT_H
#define PS_SHARED_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The length of the valid UTF-8 sequence at s (n bytes left), its code
 * point in *cp; 0 when the bytes there are not one. */
size_t utf8_seq(const char *s, size_t n, unsigned int *cp);

/* Is s[0..n) text (see above)? */
bool text_is_clean(const char *s, size_t n);

/* The display form of s[0..n): every byte that is not part of a valid
 * sequence, and every control character, becomes U+FFFD. Writes at most
 * len - 1 bytes and a NUL (never part of a character); returns the
 * length the whole form needs, like snprintf. At most 3 * n bytes. */
size_t text_display(char *dst, size_t len, const char *s, size_t n);

enum text_esc_flags {
	TEXT_ESC_QUOTE = 1U << 0, /* '\\' and '"' as \\ and \" */
	TEXT_ESC_SPACE = 1U << 1, /* ' ' as \x20: a value stays one word */
};

/* s[0..n) made visible for a log line or a message: \n, \r, \t, other
 * control bytes and bytes of invalid or control sequences as \xNN, the
 * rest (text) kept; flags escape more. Never cuts an escape or a
 * character; same return rule as text_display. At most 4 * n bytes. */
size_t text_escape(char *dst, size_t len, const char *s, size_t n,
		   unsigned int flags);

/* The bytes of s[0..n) with every byte outside '!'..'~' and '%' itself
 * as %XX (upper-case hex): plain ASCII, back to the same bytes with
 * text_pct_decode. Same return rule; at most 3 * n bytes. */
size_t text_pct_encode(char *dst, size_t len, const char *s, size_t n);
/* Decode NUL-terminated s into dst (len bytes, NUL-terminated). Returns
 * the decoded length, or -1 with *bad at the offending offset of s: a
 * '%' without two hex digits, %00, a byte that encoding never leaves
 * as it is, or a result longer than len - 1. */
ssize_t text_pct_decode(char *dst, size_t len, const char *s, size_t *bad);

#endif
