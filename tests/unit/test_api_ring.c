// SPDX-License-Identifier: GPL-2.0-only
/*
 * node/sinks/api.c's ring of recent lines, through its socket: after
 * 20000 lines of 40 to 1500 bytes (20 MiB, ten times what it keeps), an
 * observe request replays the newest ones, whole, in order, up to the
 * last, and as many as fit: what is left out would not have fitted
 * beside them; then the replay's {"type":"end"}.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/types.h>

#include "tests/harness.h"
#include "node/sinks/api.h"

#define LINES 20000

/* Line i: a record whose padding gives it a length of 40..1500. */
static size_t line_of(int i, char *b, size_t size)
{
	/* short and long lines at random (a fixed sequence), so that the
	 * ring's wraps leave lines of the lap before behind */
	__u32 h = (__u32)i * 2654435761u;
	size_t len = h >> 31 ? 1200 + (h >> 8) % 301 : 40 + (h >> 8) % 200;
	int n = snprintf(b, size, "{\"type\":\"flow\",\"seq\":%d,\"pad\":\"", i);

	memset(b + n, 'a' + i % 26, len - n - 2);
	memcpy(b + len - 2, "\"}", 2);
	b[len] = 0;
	return len;
}

/* Ask for the replay and read it to its end; the lines, newline-ended,
 * in a buffer the caller frees. */
static char *replay(struct api *a, const char *path, size_t *got)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static const char req[] = "{\"op\":\"observe\"}\n";
	size_t cap = 4 << 20, len = 0;
	char *buf = malloc(cap);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), spins = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, req, sizeof(req) - 1) != sizeof(req) - 1) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (spins < 100000) {
		ssize_t n;

		api_run(a);
		api_flush(a);
		n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n > 0) {
			len += n;
			spins = 0;
			if (len == cap)
				break;
		} else if (errno == EAGAIN) {
			spins++;
			usleep(10);
		} else {
			break;
		}
	}
	close(fd);
	*got = len;
	return buf;
}

/* Replay after line `newest`: the newest lines, whole, in order, as
 * many as fit. */
static bool replay_check(struct api *a, const char *path, int newest,
			 const size_t *lens)
{
	char want[2048], *buf;
	size_t len, kept = 0, got = 0, off = 0;
	int first = -1, n = 0, bad = 0, last = -1;
	bool ok;

	buf = replay(a, path, &got);
	if (!ASSERT_TRUE(buf != NULL && got > 0, "replay read"))
		return false;
	while (off < got) {
		char *nl = memchr(buf + off, '\n', got - off);
		int seq;

		if (nl && nl + 1 == buf + got && nl - (buf + off) == 14 &&
		    !memcmp(buf + off, "{\"type\":\"end\"}", 14))
			break; /* the replay's last line */
		if (!nl || sscanf(buf + off, "{\"type\":\"flow\",\"seq\":%d",
				  &seq) != 1) {
			bad++;
			break;
		}
		len = nl - (buf + off);
		if (first < 0)
			first = seq;
		else if (seq != last + 1)
			bad++;
		if (seq < 0 || seq > newest ||
		    len != line_of(seq, want, sizeof(want)) ||
		    memcmp(buf + off, want, len))
			bad++;
		else
			kept += len;
		last = seq;
		n++;
		off += len + 1;
	}
	free(buf);
	ok = ASSERT_EQ(bad, 0, "every line whole and in order") &&
	     ASSERT_EQ(last, newest, "up to the newest") &&
	     ASSERT_TRUE(kept <= API_RING_BYTES && n <= API_RING_LINES,
			 "within the ring's bounds") &&
	     /* at most one line's room lost to the wrap at the end */
	     ASSERT_TRUE(first <= 0 || n == API_RING_LINES ||
			     kept + lens[first - 1] + 1500 > API_RING_BYTES,
			 "as many as fit");
	if (!ok)
		fprintf(stderr, "after line %d: replayed %d..%d, %d lines, %zu bytes\n",
			newest, first, last, n, kept);
	return ok;
}

static void test_replay_after_wraps(void)
{
	static size_t lens[LINES];
	char path[64], line[2048];
	struct api *a;
	int i;

	snprintf(path, sizeof(path), "/tmp/psapi-%d/api.sock", getpid());
	a = api_open(path);
	if (!ASSERT_TRUE(a != NULL, "api_open"))
		return;
	for (i = 0; i < LINES; i++) {
		lens[i] = line_of(i, line, sizeof(line));
		api_record(a, line, lens[i], 0, 0);
		/* every 211 lines: wraps happen at many points of the ring */
		if ((i % 211 == 210 || i == LINES - 1) &&
		    !replay_check(a, path, i, lens))
			break;
	}
	api_free(a);
	snprintf(line, sizeof(line), "/tmp/psapi-%d", getpid());
	rmdir(line);
}

TEST_MAIN(TEST(test_replay_after_wraps))
