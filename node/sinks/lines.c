// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "node/sinks/lines.h"

static bool fd_seekable(int fd)
{
	struct stat st;

	return fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode);
}

void lines_init(struct lines *l, int fd)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->seekable = fd_seekable(fd);
}

static void drop(struct lines *l, unsigned long long n, size_t bytes)
{
	l->c.dropped += n;
	l->c.dropped_bytes += bytes;
	l->unreported += n;
}

static unsigned long long count_nl(const char *s, size_t n)
{
	unsigned long long c = 0;
	const char *e = s + n;

	while (s < e && (s = memchr(s, '\n', e - s))) {
		c++;
		s++;
	}
	return c;
}

void lines_set_fd(struct lines *l, int fd)
{
	if (l->keep) { /* a line the old output took in part: lost there */
		drop(l, 1, l->keep);
		memmove(l->buf, l->buf + l->keep, l->len - l->keep);
		l->len -= l->keep;
		l->keep = 0;
	}
	if (l->fd > 2)
		close(l->fd);
	l->fd = fd;
	l->seekable = fd_seekable(fd);
}

bool lines_full(const struct lines *l, size_t n)
{
	return l->len > l->keep && l->len + n + 1 > LINES_BUF;
}

void lines_put(struct lines *l, const char *line, size_t len)
{
	if (l->len + len + 1 > l->cap) {
		size_t cap = l->cap ? l->cap : 4096;
		char *b;

		while (cap < l->len + len + 1)
			cap *= 2;
		b = realloc(l->buf, cap);
		if (!b) {
			drop(l, 1, len + 1);
			return;
		}
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, line, len);
	l->buf[l->len + len] = '\n';
	l->len += len + 1;
	l->nlines++;
}

void lines_discard(struct lines *l)
{
	drop(l, l->nlines + (l->keep > 0), l->len);
	l->len = l->keep = 0;
	l->nlines = 0;
}

bool lines_pending(const struct lines *l)
{
	return l->len > 0;
}

/* writev until all is written or it fails; the bytes written */
static size_t write_all(int fd, struct iovec *iov, int n, int *err)
{
	size_t done = 0;
	ssize_t r;

	*err = 0;
	while (n > 0) {
		if (!iov->iov_len) {
			iov++;
			n--;
			continue;
		}
		r = writev(fd, iov, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*err = r < 0 ? errno : EIO;
			break;
		}
		done += r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= r;
		}
	}
	return done;
}

/* The first `part` bytes of a line reached the file: cut them back, or,
 * where that cannot be done (a pipe), keep the rest of the line to be
 * written first next time. Returns whether the line counts as dropped. */
static bool partial(struct lines *l, const char *line, size_t part, size_t len)
{
	struct stat st;

	if (l->seekable && !fstat(l->fd, &st) && st.st_size >= (off_t)part &&
	    !ftruncate(l->fd, st.st_size - part))
		return true;
	if (l->seekable)
		return true; /* could not cut it: nothing better to do */
	if (l->cap < len - part) { /* the line is not in buf (a head) */
		char *b = realloc(l->buf, len - part);

		if (!b)
			return true;
		l->buf = b;
		l->cap = len - part;
	}
	/* buf becomes [rest of the line]: the caller drops the lines after */
	memmove(l->buf, line + part, len - part);
	l->keep = len - part;
	return false;
}

struct lines_flush lines_flush(struct lines *l, const char *head, size_t hlen)
{
	struct lines_flush res = { 0 };
	size_t keep = l->keep, body = l->len - keep, w, hl = head ? hlen + 1 : 0;
	/* no buffer yet (nothing written so far): no offset into it */
	char *lines = l->buf ? l->buf + keep : NULL;
	struct iovec iov[4] = {
		{ l->buf, keep },
		{ (void *)head, head ? hlen : 0 },
		{ "\n", hl ? 1 : 0 },
		{ lines, body },
	};
	unsigned long long n = l->nlines;

	if (l->fd < 0 || (!keep && !hl && !body))
		return res;
	w = write_all(l->fd, iov, 4, &res.err);
	if (w == keep + hl + body) { /* all of it */
		res.head_written = hl > 0;
		l->c.lines += n + (hl > 0);
		l->c.bytes += body + hl;
		l->len = l->keep = 0;
		l->nlines = 0;
		return res;
	}
	res.failed = true;
	if (w < keep) { /* still completing a line a pipe took in part */
		memmove(l->buf, l->buf + w, keep - w);
		l->keep = keep - w;
		drop(l, n, body);
		l->len = l->keep;
		l->nlines = 0;
		return res;
	}
	w -= keep;
	l->keep = 0;
	l->len = 0;
	l->nlines = 0;
	if (w < hl) { /* the head did not get through: it is made anew */
		char *copy = w && !l->seekable ? malloc(hl) : NULL;

		if (copy) {
			memcpy(copy, head, hlen);
			copy[hlen] = '\n';
		}
		if (w && (copy || l->seekable))
			partial(l, copy, w, hl);
		free(copy);
		if (l->keep)
			l->len = l->keep;
		drop(l, n, body);
		return res;
	}
	res.head_written = hl > 0;
	l->c.lines += hl > 0;
	l->c.bytes += hl;
	w -= hl;
	{
		/* the whole lines written, then the one written in part */
		const char *end = w ? memrchr(lines, '\n', w) : NULL;
		size_t whole = end ? (size_t)(end - lines) + 1 : 0, part = w - whole;
		unsigned long long done = count_nl(lines, whole);
		size_t rest = body - whole;

		l->c.lines += done;
		l->c.bytes += whole;
		n -= done;
		if (part) {
			const char *nl = memchr(lines + whole, '\n', rest);
			size_t len = (size_t)(nl - (lines + whole)) + 1;

			if (!partial(l, lines + whole, part, len)) {
				/* a pipe: the line goes on next time */
				n--;
				rest -= len;
			}
		}
		drop(l, n, rest);
		l->len = l->keep;
	}
	return res;
}

void lines_close(struct lines *l)
{
	if (l->fd > 2)
		close(l->fd);
	l->fd = -1;
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = l->keep = 0;
	l->nlines = 0;
}

static unsigned long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

enum lines_change lines_episode(struct lines_episode *ep, bool failed,
				bool wrote, unsigned long long dropped,
				unsigned long long bytes)
{
	unsigned long long now;

	if (failed) {
		ep->dropped += dropped;
		ep->bytes += bytes;
		ep->since_ok_ns = 0;
		if (ep->failing)
			return LINES_SAME;
		ep->failing = true;
		ep->episodes++;
		return LINES_STARTED;
	}
	if (!ep->failing)
		return LINES_SAME;
	now = mono_ns();
	if (wrote && !ep->since_ok_ns)
		ep->since_ok_ns = now;
	if (!ep->since_ok_ns || now - ep->since_ok_ns < LINES_RECOVER_NS)
		return LINES_SAME;
	ep->failing = false;
	ep->since_ok_ns = 0;
	return LINES_ENDED;
}
