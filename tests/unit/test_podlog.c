// SPDX-License-Identifier: GPL-2.0-only
/*
 * node/sinks/podlog.c with more pods than it keeps files open: records of
 * 600 pods, interleaved, each land in their own log, whole and in order;
 * the table holds at most 256 open files, and a new pod closes one file,
 * not all of them.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "node/sinks/podlog.h"

#define PODS 600
#define ROUNDS 5
#define NETNS0 4026540000u

/* Descriptors of this process open on files under dir. */
static int open_under(const char *dir)
{
	char link[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		n += !strncmp(target, dir, strlen(dir));
	}
	closedir(d);
	return n;
}

static void line_put(struct podlog *pl, __u32 netns, int i)
{
	char line[64];
	int len = snprintf(line, sizeof(line), "{\"netns\":%u,\"i\":%d}", netns, i);

	podlog_write_line(pl, NULL, netns, line, len);
}

static void test_many_pods(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], want[64], got[128];
	struct podlog *pl;
	int err = 0, r, p, open;

	snprintf(dir, sizeof(dir), "%s/podlogs", test_env("PS_TEST_TMP", "/tmp"));
	pl = podlog_new(dir, &err);
	if (!ASSERT_TRUE(pl != NULL, "podlog_new"))
		return;
	for (r = 0; r < ROUNDS; r++)
		for (p = 0; p < PODS; p++) {
			line_put(pl, NETNS0 + p, r);
			if (r == 0 && p == 256) {
				podlog_flush(pl);
				/* the 257th pod took one file's place */
				open = open_under(dir);
				if (!ASSERT_EQ(open, 256, "files open after the 257th pod"))
					goto out;
			}
		}
	podlog_flush(pl);
	open = open_under(dir);
	if (!ASSERT_TRUE(open > 0 && open <= 256, "at most 256 files open"))
		goto out;
	for (p = 0; p < PODS; p++) {
		FILE *f;
		int lines = 0;

		snprintf(path, sizeof(path), "%s/_unnamed/netns-%u.log", dir, NETNS0 + p);
		f = fopen(path, "r");
		if (!ASSERT_TRUE(f != NULL, path))
			goto out;
		while (fgets(got, sizeof(got), f)) {
			snprintf(want, sizeof(want), "{\"netns\":%u,\"i\":%d}\n", NETNS0 + p,
				 lines);
			if (!ASSERT_TRUE(!strcmp(got, want), path)) {
				fclose(f);
				goto out;
			}
			lines++;
		}
		fclose(f);
		if (!ASSERT_EQ(lines, ROUNDS, path))
			goto out;
	}
	ASSERT_EQ(podlog_counters(pl).lines, (unsigned long long)PODS * ROUNDS,
		  "every line counted");
out:
	podlog_free(pl);
	ASSERT_EQ(open_under(dir), 0, "every file closed at the end");
}

TEST_MAIN(TEST(test_many_pods))
