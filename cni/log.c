// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cni/log.h"

static const char *const level_names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

void log_open(struct cni_log *l, const char *path, enum log_level level)
{
	l->fd = STDERR_FILENO;
	l->level = level;
	if (!path || !path[0])
		return;
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd < 0) {
		fprintf(stderr, "podsentry-cni: log file %s: %s; logging to stderr\n",
			path, strerror(errno));
		l->fd = STDERR_FILENO;
	}
}

void log_close(struct cni_log *l)
{
	if (l->fd > STDERR_FILENO)
		close(l->fd);
	l->fd = STDERR_FILENO;
}

void log_line(struct cni_log *l, enum log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level > l->level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%06ldZ podsentry-cni[%d] %s: ",
		      ts.tv_nsec / 1000, getpid(), level_names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: concurrent plugin processes do not interleave. */
	if (write(l->fd, line, n) < 0)
		return;
}
