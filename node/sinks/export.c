// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/sinks/export.h"

/* Records are flushed after each batch; within one, a 64 KiB buffer
 * saves most write calls. */
#define EXPORT_BUF (64 * 1024)

static FILE *output_open(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "ae") : stdout;

	if (f && !isatty(fileno(f)))
		setvbuf(f, NULL, _IOFBF, EXPORT_BUF);
	return f;
}

int exporter_open(struct exporter *e, const char *path)
{
	memset(e, 0, sizeof(*e));
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	e->f = output_open(path);
	if (!e->f) {
		int err = -errno;

		free(e->path);
		e->path = NULL;
		return err;
	}
	return 0;
}

int exporter_reopen(struct exporter *e)
{
	FILE *f;

	if (!e->f || e->f == stdout)
		return 0;
	f = output_open(e->path);
	if (!f)
		return -errno; /* keep writing to the old file */
	fclose(e->f);
	e->f = f;
	return 0;
}

void exporter_write(struct exporter *e, struct json_object *rec)
{
	const char *s;

	if (!e->f)
		return;
	s = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE);
	if (fputs(s, e->f) < 0 || fputc('\n', e->f) < 0)
		e->write_errors++;
	else
		e->records++;
}

void exporter_write_line(struct exporter *e, const char *line, size_t len)
{
	if (!e->f)
		return;
	if (fwrite(line, 1, len, e->f) != len || fputc('\n', e->f) < 0)
		e->write_errors++;
	else
		e->records++;
}

void exporter_flush(struct exporter *e)
{
	if (e->f && fflush(e->f))
		e->write_errors++;
}

void exporter_close(struct exporter *e)
{
	if (e->f && e->f != stdout)
		fclose(e->f);
	else if (e->f)
		fflush(e->f);
	e->f = NULL;
	free(e->path);
	e->path = NULL;
}
