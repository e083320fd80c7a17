/* SPDX-License-Identifier: GPL-2.0-only */
/* The hash of the state tables' keys. */
#ifndef PS_NODE_STATE_HASH_H
#define PS_NODE_STATE_HASH_H

#include <stddef.h>
#include <string.h>
#include <linux/types.h>

/* A `bits`-bit hash of the `len` bytes at p, a 32-bit word at a time:
 * multiply-xorshift, the bucket from the top bits (a tail of fewer than
 * 4 bytes is left out: keys here are word-sized). */
static inline __u32 words_hash(const void *p, size_t len, int bits)
{
	__u64 h = len;
	size_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		__u32 w;

		memcpy(&w, (const char *)p + i, 4);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return (h * 0xbf58476d1ce4e5b9ULL) >> (64 - bits);
}

#endif
