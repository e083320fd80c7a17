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
/* A value from outside (the environment, CNI_ARGS, the config) as one
 * word of a log line: control bytes, invalid UTF-8, '\\', '"' and ' '
 * escaped (\n, \x0A...), cut to len with "..."; NULL or "" is "-". Returns buf. */
const char *log_val(char *buf, size_t len, const char *s);
/* Every line is one line of text whatever its arguments hold: control
 * bytes and invalid UTF-8 are written as \xNN. */
void log_line(struct cni_log *l, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
