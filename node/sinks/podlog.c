// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/sinks/podlog.h"

#define PODLOG_OPEN_MAX 256

struct podlog_file {
	__u32 netns;
	FILE *f;
};

struct podlog {
	char *dir;
	struct podlog_file files[PODLOG_OPEN_MAX];
	int n;
	unsigned long long errors;
};

struct podlog *podlog_new(const char *dir, int *err)
{
	struct podlog *pl;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		*err = -errno;
		return NULL;
	}
	pl = calloc(1, sizeof(*pl));
	if (!pl || !(pl->dir = strdup(dir))) {
		free(pl);
		*err = -ENOMEM;
		return NULL;
	}
	return pl;
}

/* a path component from a pod's namespace or name: no '/', no dot names */
static void component(char *dst, size_t len, const char *src)
{
	size_t i;

	snprintf(dst, len, "%s", src && *src ? src : "_");
	for (i = 0; dst[i]; i++)
		if (dst[i] == '/')
			dst[i] = '_';
	if (dst[0] == '.')
		dst[0] = '_';
}

static FILE *podlog_open(struct podlog *pl, const struct record_ctx *rc,
			 __u32 netns)
{
	const struct pod_info *pi = rc->pods ? pods_by_netns(rc->pods, netns) : NULL;
	char ns[128], name[300], path[PATH_MAX];
	FILE *f;
	int i;

	for (i = 0; i < pl->n; i++)
		if (pl->files[i].netns == netns)
			return pl->files[i].f;
	if (pl->n == PODLOG_OPEN_MAX)
		podlog_reopen(pl);
	if (pi) {
		component(ns, sizeof(ns), pi->namespace);
		component(name, sizeof(name), pi->name);
	} else {
		snprintf(ns, sizeof(ns), "_unnamed");
		snprintf(name, sizeof(name), "netns-%u", netns);
	}
	snprintf(path, sizeof(path), "%s/%s", pl->dir, ns);
	if (mkdir(path, 0755) && errno != EEXIST)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s/%s.log", pl->dir, ns, name);
	f = fopen(path, "ae");
	if (!f)
		return NULL;
	pl->files[pl->n].netns = netns;
	pl->files[pl->n].f = f;
	pl->n++;
	return f;
}

void podlog_write_line(struct podlog *pl, const struct record_ctx *rc,
		       __u32 netns, const char *line, size_t len)
{
	FILE *f;

	if (!pl || !netns)
		return;
	f = podlog_open(pl, rc, netns);
	if (!f || fwrite(line, 1, len, f) != len || fputc('\n', f) < 0)
		pl->errors++;
}

void podlog_flush(struct podlog *pl)
{
	int i;

	for (i = 0; pl && i < pl->n; i++)
		if (fflush(pl->files[i].f))
			pl->errors++;
}

void podlog_reopen(struct podlog *pl)
{
	int i;

	for (i = 0; pl && i < pl->n; i++)
		fclose(pl->files[i].f);
	if (pl)
		pl->n = 0;
}

void podlog_free(struct podlog *pl)
{
	if (!pl)
		return;
	podlog_reopen(pl);
	free(pl->dir);
	free(pl);
}

unsigned long long podlog_errors(const struct podlog *pl)
{
	return pl ? pl->errors : 0;
}
