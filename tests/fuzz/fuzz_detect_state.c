// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: podsentryd's detection state file (--state-file) of
 * any content, loaded as the daemon loads it at start (detect_new ->
 * persist_load, from a file). Either it loads, or it is refused: set
 * aside as FILE.broken with the daemon's detection empty. What loaded is
 * saved (persist_save) and must load again, whole, to the same state:
 * the second file saved equals the first (but for its "saved" time and
 * the order of pods, alerts and processes).
 */
#include <errno.h>
#include <stdint.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "node/detect/detect.h"
#include "node/detect/engine.h"

#define MUST(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static struct record_ctx rc;
static struct det_config cfg;
static char dir[64], file[128], broken[160];

/* The target's folder goes when it exits (libFuzzer ends with exit()). */
static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void dir_remove(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";

	snprintf(dir, sizeof(dir), "%s/ps-fuzz-state.XXXXXX", base);
	MUST(mkdtemp(dir));
	atexit(dir_remove);
	snprintf(file, sizeof(file), "%s/detect-state.json", dir);
	snprintf(broken, sizeof(broken), "%s.broken", file);
	config_defaults(&cfg);
	rc.node = "fuzz-node";
	rc.pods_map_fd = rc.pod_ip_fd = -1;
	record_clock_sync(&rc);
	return 0;
}

static void file_put(const uint8_t *data, size_t size)
{
	FILE *f = fopen(file, "w");

	MUST(f);
	MUST(fwrite(data, 1, size, f) == size || !size);
	MUST(!fclose(f));
}

static char *file_get(void)
{
	FILE *f = fopen(file, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	MUST(f);
	n = getdelim(&buf, &cap, 0, f); /* the state has no NUL */
	fclose(f);
	MUST(n > 0);
	return buf;
}

static struct detect *load(void)
{
	struct detect_opts o = { .cfg = &cfg, .rc = &rc, .state_file = file };
	int err = 0;
	struct detect *d = detect_new(&o, &err);

	/* only what is not a regular file stops the daemon */
	MUST(d && !err);
	return d;
}

static int text_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Member key of a saved state (an array): its elements' texts, sorted,
 * one string. */
static char *sorted_texts(struct json_object *s, const char *key)
{
	struct json_object *a;
	size_t i, n, len = 0;
	char **v, *out;

	MUST(json_object_object_get_ex(s, key, &a) && json_object_is_type(a, json_type_array));
	n = json_object_array_length(a);
	v = calloc(n + 1, sizeof(*v));
	MUST(v);
	for (i = 0; i < n; i++) {
		v[i] = strdup(json_object_to_json_string_ext(
			json_object_array_get_idx(a, i), JSON_C_TO_STRING_PLAIN));
		MUST(v[i]);
		len += strlen(v[i]) + 1;
	}
	qsort(v, n, sizeof(*v), text_cmp);
	out = calloc(1, len + 1);
	MUST(out);
	for (i = 0; i < n; i++) {
		strcat(out, v[i]);
		strcat(out, "\n");
		free(v[i]);
	}
	free(v);
	return out;
}

/* The two saved states say the same. */
static void same_saved(const char *t1, const char *t2)
{
	struct json_object *a = json_tokener_parse(t1), *b = json_tokener_parse(t2);
	struct json_object *pa, *pb;
	const char *keys[] = { "alerts", "processes" };
	size_t i;

	MUST(a && b);
	MUST(json_object_object_get_ex(a, "pods", &pa) &&
	     json_object_object_get_ex(b, "pods", &pb));
	if (!json_object_equal(pa, pb)) {
		fprintf(stderr, "first save:\n%s\nsecond save:\n%s\n", t1, t2);
		MUST(0);
	}
	for (i = 0; i < 2; i++) {
		char *x = sorted_texts(a, keys[i]), *y = sorted_texts(b, keys[i]);

		if (strcmp(x, y)) {
			fprintf(stderr, "first save:\n%s\nsecond save:\n%s\n", t1, t2);
			MUST(0);
		}
		free(x);
		free(y);
	}
	json_object_put(a);
	json_object_put(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct detect *d;
	char *t1, *t2;
	struct stat st;

	unlink(broken);
	file_put(data, size);
	d = load();
	if (!stat(broken, &st)) {
		/* refused: set aside whole, nothing of it kept */
		MUST(st.st_size == (off_t)size);
		MUST(!d->pods && !d->alerts && !d->n_procs && !d->n_pods);
		MUST(d->c.state_errors == 1);
		d->o.state_file = NULL; /* nothing to save */
		detect_free(d);
		return 0;
	}
	MUST(d->c.state_errors == 0);
	MUST(!persist_save(d));
	t1 = file_get();
	detect_free(d);
	/* what it saved loads again, whole */
	file_put((const uint8_t *)t1, strlen(t1));
	d = load();
	if (!stat(broken, &st)) {
		fprintf(stderr, "the state saved does not load again:\n%s\n", t1);
		MUST(0);
	}
	MUST(!persist_save(d));
	t2 = file_get();
	d->o.state_file = NULL;
	detect_free(d);
	same_saved(t1, t2);
	free(t1);
	free(t2);
	return 0;
}
