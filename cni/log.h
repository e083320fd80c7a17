/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * podsentry-cni's log: one line per command (and one per warning) on
 * stderr or appended to the configured logFile. Never stdout: that
 * belongs to the result.
 */
#ifndef PS_CNI_LOG_H
#define PS_CNI_LOG_H

#include "cni/conf.h"

struct cni_log {
	int fd;
	enum log_level level;
};

/* path "" or NULL: stderr. Falls back to stderr when path cannot be
 * opened (and says so there). */
void log_open(struct cni_log *l, const char *path, enum log_level level);
void log_close(struct cni_log *l);
void log_line(struct cni_log *l, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
