// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/sinks/export.h"
#include "node/sinks/files.h"
#include "node/sinks/podlog.h"

#define PODLOG_OPEN_MAX 256
#define PODLOG_HASH 1024 /* a power of two, > 2 * PODLOG_OPEN_MAX */
/* bytes of an escaped name kept before it is cut (NAME_MAX is 255) */
#define PODLOG_NAME_KEEP 200
#define PODLOG_NAME_MAX (PODLOG_NAME_KEEP + 18)

struct podlog_file {
	__u32 netns;
	unsigned long long used; /* when it was last written (a tick) */
	struct lines out; /* fd -1: not open (yet, or it failed) */
};

struct podlog {
	char *dir;
	const struct record_ctx *rc;
	struct podlog_file files[PODLOG_OPEN_MAX];
	int n;
	short at[PODLOG_HASH]; /* netns -> index in files + 1 (0: empty) */
	unsigned long long tick;
	struct sink_counters gone; /* of files no longer in the table */
	struct lines_episode ep;
};

struct podlog *podlog_new(const char *dir, int *err)
{
	struct podlog *pl;

	if (mkdir(dir, SINK_DIR_MODE) && errno != EEXIST) {
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

static unsigned long long fnv1a(const char *s)
{
	unsigned long long h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* A byte of a name written as it is. */
static bool name_plain(unsigned char c, size_t at)
{
	if (c <= 0x20 || c >= 0x7f || c == '/' || c == '%' || c == '~')
		return false;
	return at || (c != '.' && c != '_');
}

/* A pod's namespace or name as one file name (see podlog.h): dst holds
 * PODLOG_NAME_MAX + 1 bytes. */
static void name_encode(char *dst, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(src), i = 0, o = 0, l, k;

	if (!n) {
		strcpy(dst, "_");
		return;
	}
	while (i < n) {
		unsigned char c = src[i];
		bool lit;

		if (c < 0x80) {
			l = 1;
			lit = name_plain(c, i);
		} else {
			l = utf8_char_len(src + i, n - i);
			/* C1 controls (U+0080 to U+009F) are control characters */
			lit = l && !(c == 0xc2 && (unsigned char)src[i + 1] < 0xa0);
			if (!l)
				l = 1;
		}
		if (o + (lit ? l : 3 * l) > PODLOG_NAME_KEEP) {
			snprintf(dst + o, PODLOG_NAME_MAX + 1 - o, "~%016llx", fnv1a(src));
			return;
		}
		for (k = 0; k < l; k++, i++) {
			if (lit) {
				dst[o++] = src[i];
				continue;
			}
			dst[o++] = '%';
			dst[o++] = hex[(unsigned char)src[i] >> 4];
			dst[o++] = hex[(unsigned char)src[i] & 15];
		}
	}
	dst[o] = 0;
}

/* DIR/<namespace>/<pod>.log of netns: the folder is made first. */
static int file_open(struct podlog *pl, struct podlog_file *f)
{
	const struct pod_info *pi = pl->rc && pl->rc->pods ?
		pods_by_netns(pl->rc->pods, f->netns) : NULL;
	char ns[PODLOG_NAME_MAX + 1], name[PODLOG_NAME_MAX + 1], path[PATH_MAX];
	int fd;

	if (pi) {
		name_encode(ns, pi->namespace);
		name_encode(name, pi->name);
	} else {
		snprintf(ns, sizeof(ns), "_unnamed");
		snprintf(name, sizeof(name), "netns-%u", f->netns);
	}
	snprintf(path, sizeof(path), "%s/%s", pl->dir, ns);
	if (mkdir(path, SINK_DIR_MODE) && errno != EEXIST)
		return -errno;
	if (snprintf(path, sizeof(path), "%s/%s/%s.log", pl->dir, ns, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = sink_open_append(path, SINK_FILE_MODE);
	if (fd >= 0)
		lines_set_fd(&f->out, fd);
	return fd < 0 ? fd : 0;
}

static void counters_add(struct sink_counters *to, const struct sink_counters *c)
{
	to->lines += c->lines;
	to->bytes += c->bytes;
	to->dropped += c->dropped;
	to->dropped_bytes += c->dropped_bytes;
}

static unsigned int hash_of(__u32 netns)
{
	return (netns * 2654435761u) & (PODLOG_HASH - 1);
}

static void index_rebuild(struct podlog *pl)
{
	int i;

	memset(pl->at, 0, sizeof(pl->at));
	for (i = 0; i < pl->n; i++) {
		unsigned int h = hash_of(pl->files[i].netns);

		while (pl->at[h])
			h = (h + 1) & (PODLOG_HASH - 1);
		pl->at[h] = i + 1;
	}
}

/* Files with nothing left to tell leave the table (all: every file). */
static void table_trim(struct podlog *pl, bool all)
{
	int i, m = 0;

	for (i = 0; i < pl->n; i++) {
		struct podlog_file *f = &pl->files[i];

		if (!all && (f->out.unreported || lines_pending(&f->out))) {
			pl->files[m++] = *f;
			continue;
		}
		counters_add(&pl->gone, &f->out.c);
		lines_close(&f->out);
	}
	pl->n = m;
	index_rebuild(pl);
}

/* Make room in the table for one more: the least recently written file
 * with nothing left to tell goes (or, when every one owes a lost record,
 * the least recently written). */
static void table_evict(struct podlog *pl)
{
	int i, lru = -1, any = 0;

	for (i = 0; i < pl->n; i++) {
		const struct podlog_file *f = &pl->files[i];

		if (f->used < pl->files[any].used)
			any = i;
		if (!f->out.unreported && !lines_pending(&f->out) &&
		    (lru < 0 || f->used < pl->files[lru].used))
			lru = i;
	}
	if (lru < 0)
		lru = any;
	counters_add(&pl->gone, &pl->files[lru].out.c);
	lines_close(&pl->files[lru].out);
	pl->files[lru] = pl->files[--pl->n];
	index_rebuild(pl);
}

static struct podlog_file *file_get(struct podlog *pl, __u32 netns)
{
	unsigned int h = hash_of(netns);
	struct podlog_file *f;

	for (; pl->at[h]; h = (h + 1) & (PODLOG_HASH - 1))
		if (pl->files[pl->at[h] - 1].netns == netns) {
			f = &pl->files[pl->at[h] - 1];
			f->used = ++pl->tick;
			return f;
		}
	if (pl->n == PODLOG_OPEN_MAX) {
		podlog_flush(pl);
		table_evict(pl);
		for (h = hash_of(netns); pl->at[h]; h = (h + 1) & (PODLOG_HASH - 1))
			;
	}
	f = &pl->files[pl->n++];
	pl->at[h] = pl->n;
	f->netns = netns;
	f->used = ++pl->tick;
	lines_init(&f->out, -1);
	return f;
}

void podlog_write_line(struct podlog *pl, const struct record_ctx *rc,
		       __u32 netns, const char *line, size_t len)
{
	struct podlog_file *f;

	if (!pl || !netns)
		return;
	pl->rc = rc;
	f = file_get(pl, netns);
	if (f->out.fd < 0 && !f->out.unreported)
		file_open(pl, f); /* else the flush tries again */
	if (lines_full(&f->out, len))
		podlog_flush(pl);
	lines_put(&f->out, line, len);
}

/* One file's buffer out, after its lost record when it lost lines. */
static struct lines_flush file_flush(struct podlog *pl, struct podlog_file *f)
{
	unsigned long long told = f->out.unreported;
	struct lines_flush r = { 0 };
	struct jw w = {};
	bool head = pl->rc && told;
	int err;

	if (f->out.fd < 0 && (err = file_open(pl, f))) {
		r.failed = true;
		r.err = -err;
		lines_discard(&f->out);
		return r;
	}
	if (head) {
		lost_record_w(pl->rc, &w, "podlog_write", told, f->out.c.dropped, clock_boot_ns());
		head = !w.oom;
	}
	r = lines_flush(&f->out, head ? w.buf : NULL, w.len);
	jw_free(&w);
	if (r.head_written)
		f->out.unreported -= told;
	return r;
}

void podlog_flush(struct podlog *pl)
{
	unsigned long long dropped = 0, bytes = 0;
	bool failed = false, wrote = false;
	int i, err = 0;

	for (i = 0; pl && i < pl->n; i++) {
		struct podlog_file *f = &pl->files[i];
		unsigned long long d0 = f->out.c.dropped, b0 = f->out.c.dropped_bytes;
		struct lines_flush r;

		if (!lines_pending(&f->out) && !(f->out.unreported && pl->rc))
			continue;
		r = file_flush(pl, f);
		dropped += f->out.c.dropped - d0;
		bytes += f->out.c.dropped_bytes - b0;
		if (r.failed && !failed) {
			failed = true;
			err = r.err;
		}
		wrote |= !r.failed;
	}
	if (!pl)
		return;
	switch (lines_episode(&pl->ep, failed, wrote, dropped, bytes)) {
	case LINES_STARTED:
		fprintf(stderr, "podsentryd: pod logs %s: %s: records are dropped and counted\n",
			pl->dir, strerror(err));
		break;
	case LINES_ENDED:
		fprintf(stderr, "podsentryd: pod logs %s: writing again; %llu records (%llu bytes) were dropped\n",
			pl->dir, pl->ep.dropped, pl->ep.bytes);
		pl->ep.dropped = pl->ep.bytes = 0;
		break;
	case LINES_SAME:
		break;
	}
}

void podlog_reopen(struct podlog *pl)
{
	int i;

	if (!pl)
		return;
	podlog_flush(pl);
	/* a log that still owes a lost record keeps its entry, closed */
	for (i = 0; i < pl->n; i++)
		lines_set_fd(&pl->files[i].out, -1);
	table_trim(pl, false);
}

void podlog_free(struct podlog *pl)
{
	if (!pl)
		return;
	podlog_flush(pl);
	if (pl->ep.failing)
		fprintf(stderr, "podsentryd: pod logs %s: %s; %llu records (%llu bytes) were dropped\n",
			pl->dir, pl->ep.since_ok_ns ? "writing again" :
			"closed while writes fail", pl->ep.dropped, pl->ep.bytes);
	table_trim(pl, true);
	free(pl->dir);
	free(pl);
}

struct sink_counters podlog_counters(const struct podlog *pl)
{
	struct sink_counters c = { 0 };
	int i;

	if (!pl)
		return c;
	c = pl->gone;
	for (i = 0; i < pl->n; i++)
		counters_add(&c, &pl->files[i].out.c);
	c.episodes = pl->ep.episodes;
	c.failing = pl->ep.failing;
	return c;
}
