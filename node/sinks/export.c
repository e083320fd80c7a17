// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/records/records.h"
#include "node/sinks/export.h"
#include "node/sinks/files.h"

static int output_open(const char *path)
{
	return strcmp(path, "-") ? sink_open_append(path, SINK_FILE_MODE)
				 : STDOUT_FILENO;
}

static const char *name(const struct exporter *e)
{
	return strcmp(e->path, "-") ? e->path : "stdout";
}

int exporter_open(struct exporter *e, const char *path)
{
	int fd;

	memset(e, 0, sizeof(*e));
	e->out.fd = -1;
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	fd = output_open(path);
	if (fd < 0) {
		free(e->path);
		e->path = NULL;
		return fd;
	}
	lines_init(&e->out, fd);
	return 0;
}

int exporter_reopen(struct exporter *e)
{
	int fd;

	if (!e->path || e->out.fd < 0 || !strcmp(e->path, "-"))
		return 0;
	exporter_flush(e); /* what is buffered belongs to the old file */
	fd = output_open(e->path);
	if (fd < 0) {
		errno = -fd;
		return fd; /* keep writing to the old file */
	}
	lines_set_fd(&e->out, fd);
	return 0;
}

void exporter_report_lost(struct exporter *e, const struct record_ctx *rc)
{
	e->rc = rc;
}

void exporter_write_line(struct exporter *e, const char *line, size_t len)
{
	if (e->out.fd < 0)
		return;
	if (lines_full(&e->out, len))
		exporter_flush(e);
	lines_put(&e->out, line, len);
}

void exporter_flush(struct exporter *e)
{
	unsigned long long told = e->out.unreported, dropped = e->out.c.dropped;
	unsigned long long bytes = e->out.c.dropped_bytes;
	struct sink_counters *c = &e->out.c;
	struct lines_flush r;
	struct jw w = {};
	bool head = e->rc && told, had;

	if (e->out.fd < 0)
		return;
	if (head) {
		lost_record_w(e->rc, &w, "export_write", told, c->dropped, clock_boot_ns());
		head = !w.oom;
	}
	had = head || lines_pending(&e->out);
	r = lines_flush(&e->out, head ? w.buf : NULL, w.len);
	jw_free(&w);
	if (r.head_written)
		e->out.unreported -= told;
	e->write_errors += c->dropped - dropped;
	e->records = c->lines;
	switch (lines_episode(&e->ep, r.failed, had, c->dropped - dropped,
			      c->dropped_bytes - bytes)) {
	case LINES_STARTED:
		fprintf(stderr, "podsentryd: export %s: %s: records are dropped and counted\n",
			name(e), strerror(r.err));
		break;
	case LINES_ENDED:
		fprintf(stderr, "podsentryd: export %s: writing again; %llu records (%llu bytes) were dropped\n",
			name(e), e->ep.dropped, e->ep.bytes);
		e->ep.dropped = e->ep.bytes = 0;
		break;
	case LINES_SAME:
		break;
	}
	c->failing = e->ep.failing;
	c->episodes = e->ep.episodes;
}

void exporter_close(struct exporter *e)
{
	if (e->path && e->out.fd >= 0) {
		exporter_flush(e);
		if (e->ep.failing)
			fprintf(stderr, "podsentryd: export %s: %s; %llu records (%llu bytes) were dropped\n",
				name(e), e->ep.since_ok_ns ? "writing again" :
				"closed while writes fail", e->ep.dropped, e->ep.bytes);
	}
	lines_close(&e->out);
	free(e->path);
	e->path = NULL;
}

struct sink_counters exporter_counters(const struct exporter *e)
{
	return e->out.c;
}
