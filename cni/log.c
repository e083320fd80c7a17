// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cni/log.h"
#include "cni/shared/text.h"

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

const char *log_val(char *buf, size_t len, const char *s)
{
	if (!s || !s[0]) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (text_escape(buf, len - 3, s, strlen(s),
			TEXT_ESC_QUOTE | TEXT_ESC_SPACE) >= len - 3)
		strcat(buf, "...");
	return buf;
}

void log_line(struct cni_log *l, enum log_level level, const char *fmt, ...)
{
	char line[1024], out[sizeof(line) * 4 + 1];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;
	int k;

	if (level > l->level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%06ldZ podsentry-cni[%d] %s: ",
		     ts.tv_nsec / 1000, getpid(), level_names[level]);
	n += k > 0 ? (size_t)k : 0;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n += k > 0 ? (size_t)k : 0;
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	/* a cut may leave half a character: it is escaped like any bad byte */
	n = text_escape(out, sizeof(out) - 1, line, n, 0);
	if (n > sizeof(out) - 2)
		n = sizeof(out) - 2;
	out[n++] = '\n';
	/* One write per line: concurrent plugin processes do not interleave. */
	if (write(l->fd, out, n) < 0)
		return;
}
