/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The network configuration podsentry-cni reads on stdin: the CNI keys
 * (cniVersion, name, prevResult, cni.dev/valid-attachments) and
 * podsentry's own, all optional, with their defaults.
 */
#ifndef PS_CNI_CONF_H
#define PS_CNI_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <linux/types.h>

#include "cni/err.h"

#define CNI_VERSION_LATEST "1.1.0"

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

enum fail_policy {
	FAIL_OPEN = 0,	 /* pod creation never fails because of podsentry */
	FAIL_CLOSED = 1, /* ADD fails when podsentry cannot watch the pod */
};

struct cni_conf {
	json_object *root;	    /* the parsed stdin; owns the rest */
	const char *cni_version;
	const char *name;	    /* network name */
	char bpffs[PATH_MAX];
	char state_dir[PATH_MAX];
	char log_file[PATH_MAX];    /* "" is stderr */
	enum log_level log_level;
	enum fail_policy fail_policy;
	bool xdp;
	bool enforce;
	json_object *prev_result;   /* borrowed from root, or NULL */
	json_object *valid_attachments; /* GC: borrowed, or NULL */
};

/* The versions this plugin speaks, oldest first, NULL-terminated. */
extern const char *const cni_versions[];
bool cni_version_supported(const char *v);
/* <0, 0, >0 like strcmp, for dotted versions "a.b.c". */
int cni_version_cmp(const char *a, const char *b);

/* Parse a network configuration of len bytes. Errors: 6 for input that
 * is not a JSON object, 1 for an unsupported cniVersion, 7 for a missing
 * required key or a known key of the wrong type (naming the key). */
int conf_parse(const char *buf, size_t len, struct cni_conf *c,
	       struct cni_err *e);
void conf_free(struct cni_conf *c);

#endif
