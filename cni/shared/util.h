/* SPDX-License-Identifier: GPL-2.0-only */
/* Small helpers of the code podsentry-cni and podsentryd both link:
 * folder creation and cut-to-size formatting. */
#ifndef PS_SHARED_UTIL_H
#define PS_SHARED_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: missing parents with mode `parents`, the folder with `leaf`.
 * Returns 0 or a negative errno. */
int dir_make(const char *dir, mode_t parents, mode_t leaf);

/* snprintf without the compiler's truncation warnings: error lines are
 * cut at len on purpose. */
void err_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
