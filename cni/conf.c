// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podsentry.h"
#include "cni/conf.h"
#include "cni/shared/jsonparse.h"
#include "cni/shared/text.h"

const char *const cni_versions[] = {
	"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL,
};

bool cni_version_supported(const char *v)
{
	int i;

	for (i = 0; cni_versions[i]; i++)
		if (!strcmp(v, cni_versions[i]))
			return true;
	return false;
}

int cni_version_cmp(const char *a, const char *b)
{
	unsigned int x[3] = {}, y[3] = {};
	int i;

	sscanf(a, "%u.%u.%u", &x[0], &x[1], &x[2]);
	sscanf(b, "%u.%u.%u", &y[0], &y[1], &y[2]);
	for (i = 0; i < 3; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* A key of a given JSON type: 0 present, 1 absent, -1 wrong type. */
static int conf_key(struct cni_conf *c, const char *key, json_type type,
		    json_object **out, struct cni_err *e)
{
	static const char *const names[] = {
		[json_type_null] = "null",     [json_type_boolean] = "a boolean",
		[json_type_double] = "a number", [json_type_int] = "an integer",
		[json_type_object] = "an object", [json_type_array] = "an array",
		[json_type_string] = "a string",
	};
	json_object *v;

	if (!json_object_object_get_ex(c->root, key, &v))
		return 1;
	if (!json_object_is_type(v, type))
		return cni_fail(e, CNI_ERR_CONFIG,
				"network config: \"%s\" must be %s, not %s",
				key, names[type],
				names[json_object_get_type(v)]);
	/* "\u0000" would cut the string short without a word */
	if (type == json_type_string && !json_text(v))
		return cni_fail(e, CNI_ERR_CONFIG,
				"network config: \"%s\" contains a NUL byte (\\u0000)",
				key);
	*out = v;
	return 0;
}

/* A string value quoted in a message. */
static const char *conf_esc(char buf[CNI_ESC_LEN], json_object *v)
{
	return cni_esc(buf, json_object_get_string(v),
		       (size_t)json_object_get_string_len(v));
}

static int conf_path(struct cni_conf *c, const char *key, char *dst,
		     size_t len, struct cni_err *e)
{
	char q[CNI_ESC_LEN];
	json_object *v;
	const char *s;
	int r = conf_key(c, key, json_type_string, &v, e);

	if (r)
		return r < 0 ? -1 : 0;
	s = json_object_get_string(v);
	if (s[0] != '/' || strlen(s) >= len)
		return cni_fail(e, CNI_ERR_CONFIG,
				"network config: \"%s\" must be an absolute path, not \"%s\"",
				key, conf_esc(q, v));
	snprintf(dst, len, "%s", s);
	return 0;
}

static int conf_bool(struct cni_conf *c, const char *key, bool *dst,
		     struct cni_err *e)
{
	json_object *v;
	int r = conf_key(c, key, json_type_boolean, &v, e);

	if (!r)
		*dst = json_object_get_boolean(v);
	return r < 0 ? -1 : 0;
}

static int conf_log_level(struct cni_conf *c, struct cni_err *e)
{
	static const char *const levels[] = {
		[LOG_ERROR] = "error", [LOG_WARN] = "warn",
		[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
	};
	char q[CNI_ESC_LEN];
	json_object *v;
	const char *s;
	unsigned int i;
	int r = conf_key(c, "logLevel", json_type_string, &v, e);

	c->log_level = LOG_INFO;
	if (r)
		return r < 0 ? -1 : 0;
	s = json_object_get_string(v);
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcmp(s, levels[i])) {
			c->log_level = i;
			return 0;
		}
	}
	return cni_fail(e, CNI_ERR_CONFIG,
			"network config: \"logLevel\" must be error, warn, info or debug, not \"%s\"",
			conf_esc(q, v));
}

static int conf_fail_policy(struct cni_conf *c, struct cni_err *e)
{
	char q[CNI_ESC_LEN];
	json_object *v;
	const char *s;
	int r = conf_key(c, "failPolicy", json_type_string, &v, e);

	c->fail_policy = FAIL_OPEN;
	if (r)
		return r < 0 ? -1 : 0;
	s = json_object_get_string(v);
	if (!strcmp(s, "closed"))
		c->fail_policy = FAIL_CLOSED;
	else if (strcmp(s, "open"))
		return cni_fail(e, CNI_ERR_CONFIG,
				"network config: \"failPolicy\" must be \"open\" or \"closed\", not \"%s\"",
				conf_esc(q, v));
	return 0;
}

static int conf_cni_keys(struct cni_conf *c, struct cni_err *e)
{
	char q[CNI_ESC_LEN];
	json_object *v;
	int r;

	r = conf_key(c, "cniVersion", json_type_string, &v, e);
	if (r > 0)
		return cni_fail(e, CNI_ERR_CONFIG,
				"network config: \"cniVersion\" is missing");
	if (r < 0)
		return -1;
	c->cni_version = json_object_get_string(v);
	if (!cni_version_supported(c->cni_version)) {
		cni_fail(e, CNI_ERR_VERSION,
			 "incompatible CNI version %s", conf_esc(q, v));
		cni_details(e, "podsentry-cni supports 0.3.0, 0.3.1, 0.4.0, 1.0.0 and 1.1.0");
		return -1;
	}
	r = conf_key(c, "name", json_type_string, &v, e);
	if (r > 0)
		return cni_fail(e, CNI_ERR_CONFIG,
				"network config: \"name\" is missing");
	if (r < 0)
		return -1;
	c->name = json_object_get_string(v);
	if (conf_key(c, "prevResult", json_type_object, &c->prev_result, e) < 0)
		return -1;
	if (conf_key(c, "cni.dev/valid-attachments", json_type_array,
		     &c->valid_attachments, e) < 0)
		return -1;
	return 0;
}

int conf_parse(const char *buf, size_t len, struct cni_conf *c,
	       struct cni_err *e)
{
	char why[JSON_WHY_LEN];

	memset(c, 0, sizeof(*c));
	snprintf(c->bpffs, sizeof(c->bpffs), "%s", PS_BPFFS_DEFAULT);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s",
		 PS_STATE_DIR_DEFAULT);
	c->log_level = LOG_INFO;
	if (!len)
		return cni_fail(e, CNI_ERR_DECODE,
				"network config: stdin is empty");
	/* A valid document followed by more than whitespace (a NUL, a
	 * second document) is junk too. */
	c->root = json_parse_exact(buf, len, why);
	if (!c->root)
		return cni_fail(e, CNI_ERR_DECODE, "network config: %s", why);
	if (!json_object_is_type(c->root, json_type_object)) {
		cni_fail(e, CNI_ERR_DECODE,
			 "network config: not a JSON object");
		conf_free(c);
		return -1;
	}
	if (conf_cni_keys(c, e) ||
	    conf_path(c, "bpffs", c->bpffs, sizeof(c->bpffs), e) ||
	    conf_path(c, "stateDir", c->state_dir, sizeof(c->state_dir), e) ||
	    conf_path(c, "logFile", c->log_file, sizeof(c->log_file), e) ||
	    conf_log_level(c, e) || conf_fail_policy(c, e) ||
	    conf_bool(c, "xdp", &c->xdp, e) ||
	    conf_bool(c, "enforce", &c->enforce, e)) {
		conf_free(c);
		return -1;
	}
	return 0;
}

void conf_free(struct cni_conf *c)
{
	if (c->root)
		json_object_put(c->root);
	c->root = NULL;
	c->prev_result = NULL;
	c->valid_attachments = NULL;
	c->cni_version = c->name = NULL;
}
