/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How podsentry shows what the daemon sends: a record on one line (like
 * `hubble observe`), an open alert as a block with its chain, the
 * status. Every string from a record is shown safely: control
 * characters (a terminal escape in a pod name or a command line) are
 * written as \xNN, never sent to the terminal.
 */
#ifndef PS_NODE_CLIENT_RENDER_H
#define PS_NODE_CLIENT_RENDER_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

struct json_object;

struct render {
	bool color; /* ANSI colours: a terminal, and no NO_COLOR */
};

__s64 render_now_ns(void);

void render_record(const struct render *rd, FILE *f, struct json_object *rec);
/* An "open_alert" answer line: rule, severity, pod, counts, summary,
 * the chain, the foothold and the connections of its record. */
void render_alert_block(const struct render *rd, FILE *f, struct json_object *a);
/* A "status" answer. */
void render_status(FILE *f, struct json_object *st);
/* Whether the status says every program is in place; when not, one
 * line on stderr saying what is not. */
bool render_status_ok(struct json_object *st, const char *socket);

/* A member by a dotted path ("flow.src.pod.name"), or def. */
const char *render_get_str(struct json_object *o, const char *path, const char *def);
long long render_get_int(struct json_object *o, const char *path, long long def);
bool render_get_bool(struct json_object *o, const char *path);
/* A copy safe to print (control characters as \xNN); NULL without memory. */
char *render_text_dup(const char *s);
/* Characters (UTF-8 code points) of s. */
size_t render_width(const char *s);

#endif
