// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>

#include "cni/shared/text.h"

size_t utf8_seq(const char *s, size_t n, unsigned int *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned int c, min;
	size_t len, i;

	if (!n)
		return 0;
	c = u[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0; /* continuation byte, C0/C1 lead (overlong), F5+ */
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (u[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static bool cp_control(unsigned int c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 ||
	       c == 0x2029;
}

bool text_is_clean(const char *s, size_t n)
{
	unsigned int c;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_seq(s + i, n - i, &c);
		if (!k || cp_control(c))
			return false;
		i += k;
	}
	return true;
}

/* Output that keeps whole pieces only: once one does not fit, nothing
 * more is written, but the length needed is still counted. */
struct out {
	char *dst;
	size_t len, kept, need;
	bool full;
};

static void out_put(struct out *o, const char *piece, size_t k)
{
	if (!o->full && o->kept + k < o->len) {
		memcpy(o->dst + o->kept, piece, k);
		o->kept += k;
	} else {
		o->full = true;
	}
	o->need += k;
}

static size_t out_end(struct out *o)
{
	if (o->len)
		o->dst[o->kept] = 0;
	return o->need;
}

static void out_hex(struct out *o, const char *prefix, unsigned char b)
{
	static const char hex[] = "0123456789ABCDEF";
	char piece[4];
	size_t k = strlen(prefix);

	memcpy(piece, prefix, k);
	piece[k] = hex[b >> 4];
	piece[k + 1] = hex[b & 15];
	out_put(o, piece, k + 2);
}

size_t text_display(char *dst, size_t len, const char *s, size_t n)
{
	struct out o = { .dst = dst, .len = len };
	unsigned int c;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_seq(s + i, n - i, &c);
		if (k && !cp_control(c)) {
			out_put(&o, s + i, k);
			i += k;
		} else {
			/* a control character is one U+FFFD, a bad byte too */
			out_put(&o, "\xef\xbf\xbd", 3);
			i += k ? k : 1;
		}
	}
	return out_end(&o);
}

size_t text_escape(char *dst, size_t len, const char *s, size_t n,
		   unsigned int flags)
{
	struct out o = { .dst = dst, .len = len };
	unsigned int c;
	size_t i = 0, k, j;
	char ch;

	while (i < n) {
		ch = s[i];
		k = utf8_seq(s + i, n - i, &c);
		if (k && !cp_control(c)) {
			if ((flags & TEXT_ESC_QUOTE) &&
			    (ch == '\\' || ch == '"')) {
				out_put(&o, ch == '\\' ? "\\\\" : "\\\"", 2);
			} else if ((flags & TEXT_ESC_SPACE) && ch == ' ') {
				out_hex(&o, "\\x", ' ');
			} else {
				out_put(&o, s + i, k);
			}
			i += k;
		} else if (ch == '\n' || ch == '\r' || ch == '\t') {
			char esc[2] = { '\\', ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't' };

			out_put(&o, esc, 2);
			i++;
		} else {
			for (j = 0; j < (k ? k : 1); j++)
				out_hex(&o, "\\x", (unsigned char)s[i + j]);
			i += k ? k : 1;
		}
	}
	return out_end(&o);
}

size_t text_pct_encode(char *dst, size_t len, const char *s, size_t n)
{
	struct out o = { .dst = dst, .len = len };
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] > ' ' && s[i] < 0x7f && s[i] != '%')
			out_put(&o, s + i, 1);
		else
			out_hex(&o, "%", (unsigned char)s[i]);
	}
	return out_end(&o);
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

ssize_t text_pct_decode(char *dst, size_t len, const char *s, size_t *bad)
{
	size_t i = 0, n = 0;
	int hi, lo;
	char b;

	while (s[i]) {
		if (s[i] == '%') {
			hi = hex_val(s[i + 1]);
			lo = hi < 0 ? -1 : hex_val(s[i + 2]);
			if (lo < 0 || (hi | lo) == 0)
				goto bad;
			b = (char)(hi << 4 | lo);
		} else if (s[i] > ' ' && s[i] < 0x7f) {
			b = s[i];
		} else {
			goto bad;
		}
		if (n + 1 >= len)
			goto bad;
		dst[n++] = b;
		i += s[i] == '%' ? 3 : 1;
	}
	if (len)
		dst[n] = 0;
	return (ssize_t)n;
bad:
	*bad = i;
	if (len)
		dst[0] = 0;
	return -1;
}
