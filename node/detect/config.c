// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <json-c/json.h>

#include "node/detect/config.h"

#define NS_PER_S 1000000000ULL

const char *const det_rule_names[RULE_MAX] = {
	[RULE_REVERSE_SHELL] = "reverse-shell",
	[RULE_NETWORK_TOOL] = "network-tool-in-pod",
	[RULE_NEW_PEER] = "new-east-west-peer",
	[RULE_INTERNAL_SCAN] = "internal-scan",
	[RULE_SENSITIVE] = "sensitive-service-access",
	[RULE_EXEC_INTO_POD] = "exec-into-pod",
	[RULE_LATERAL] = "lateral-movement",
};

const char *const det_rule_mitre[RULE_MAX] = {
	[RULE_REVERSE_SHELL] = "T1059",
	[RULE_NETWORK_TOOL] = "T1046",
	[RULE_NEW_PEER] = "T1021",
	[RULE_INTERNAL_SCAN] = "T1046",
	[RULE_SENSITIVE] = "T1021",
	[RULE_EXEC_INTO_POD] = "T1609",
	[RULE_LATERAL] = "T1021",
};

static const char *const default_severity[RULE_MAX] = {
	[RULE_REVERSE_SHELL] = "high",
	[RULE_NETWORK_TOOL] = "low",
	[RULE_NEW_PEER] = "low",
	[RULE_INTERNAL_SCAN] = "high",
	[RULE_SENSITIVE] = "high",
	[RULE_EXEC_INTO_POD] = "medium",
	[RULE_LATERAL] = "critical",
};

static const char *const severities[] = { "info", "low", "medium", "high",
					  "critical" };

static const __u16 default_ports[] = { 9200, 2379, 6443, 10250, 3306, 5432,
				       6379, 27017 };
static const char *const default_tools[] = { "nc", "ncat", "netcat", "socat",
					     "nmap", "masscan", "tcpdump",
					     "tshark", "telnet" };
static const char *const default_shells[] = { "sh", "bash", "dash", "ash",
					      "zsh", "ksh", "mksh", "csh",
					      "tcsh", "fish", "hush", "yash" };
static const char *const default_interpreters[] = { "python", "python2",
						    "python3", "perl", "ruby",
						    "php", "node", "lua",
						    "irb", "pwsh", "tclsh",
						    "wish", "awk", "gawk" };

int det_rule_by_name(const char *name)
{
	int i;

	for (i = 0; i < RULE_MAX; i++)
		if (!strcmp(name, det_rule_names[i]))
			return i;
	return -1;
}

void config_defaults(struct det_config *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < RULE_MAX; i++) {
		c->rule[i].enabled = true;
		c->rule[i].action = ACTION_ALERT;
		snprintf(c->rule[i].severity, sizeof(c->rule[i].severity), "%s",
			 default_severity[i]);
	}
	c->learning_ns = 600 * NS_PER_S;
	c->dedup_ns = 300 * NS_PER_S;
	c->chain_ns = 600 * NS_PER_S;
	c->scan_peers = 20;
	c->scan_ns = 10 * NS_PER_S;
	c->scan_refused = 10;
	for (i = 0; i < sizeof(default_ports) / sizeof(default_ports[0]); i++)
		c->sensitive_ports[c->n_sensitive_ports++] = default_ports[i];
	snprintf(c->sensitive_addrs[c->n_sensitive_addrs++], 64, "169.254.169.254");
	for (i = 0; i < sizeof(default_tools) / sizeof(default_tools[0]); i++)
		snprintf(c->tools[c->n_tools++], 64, "%s", default_tools[i]);
	for (i = 0; i < sizeof(default_shells) / sizeof(default_shells[0]); i++)
		snprintf(c->shells[c->n_shells++], 64, "%s", default_shells[i]);
	for (i = 0; i < sizeof(default_interpreters) / sizeof(default_interpreters[0]); i++)
		snprintf(c->interpreters[c->n_interpreters++], 64, "%s",
			 default_interpreters[i]);
}

/* Where the parser is: the file name, the key path and the error buffer. */
struct cfg_ctx {
	const char *file;
	char *err;
	size_t errlen;
};

/* A key path ("rules.x.ports[2]"); a cut one still names the place. */
__attribute__((format(printf, 3, 4)))
static void keyf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4)))
static int bad(struct cfg_ctx *x, const char *key, const char *fmt, ...)
{
	int n = snprintf(x->err, x->errlen, "%s: %s: ", x->file, key);
	va_list ap;

	if (n >= 0 && (size_t)n < x->errlen) {
		va_start(ap, fmt);
		vsnprintf(x->err + n, x->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int get_bool(struct cfg_ctx *x, const char *key, json_object *v, bool *out)
{
	if (!json_object_is_type(v, json_type_boolean))
		return bad(x, key, "must be true or false");
	*out = json_object_get_boolean(v);
	return 0;
}

/* A whole number in [min, max]. */
static int get_int(struct cfg_ctx *x, const char *key, json_object *v,
		   long long min, long long max, long long *out)
{
	long long n;

	if (!json_object_is_type(v, json_type_int))
		return bad(x, key, "must be a whole number between %lld and %lld",
			   min, max);
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return bad(x, key, "%lld is out of range (%lld to %lld)", n, min,
			   max);
	*out = n;
	return 0;
}

/* Seconds > 0 (a number, fractions allowed), at most a year. */
static int get_seconds(struct cfg_ctx *x, const char *key, json_object *v,
		       __u64 *ns)
{
	double s;

	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return bad(x, key, "must be a number of seconds");
	s = json_object_get_double(v);
	if (!(s > 0) || s > 86400.0 * 365)
		return bad(x, key, "%g is not a number of seconds > 0 and <= 1 year",
			   s);
	*ns = (__u64)(s * 1e9);
	return 0;
}

static int get_str(struct cfg_ctx *x, const char *key, json_object *v,
		   char *out, size_t len)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return bad(x, key, "must be a string");
	s = json_object_get_string(v);
	if (!s[0])
		return bad(x, key, "must not be empty");
	if (strlen(s) >= len)
		return bad(x, key, "longer than %zu bytes", len - 1);
	snprintf(out, len, "%s", s);
	return 0;
}

static int get_array(struct cfg_ctx *x, const char *key, json_object *v,
		     int max, int *n)
{
	if (!json_object_is_type(v, json_type_array))
		return bad(x, key, "must be a list");
	*n = (int)json_object_array_length(v);
	if (*n > max)
		return bad(x, key, "has %d entries, at most %d are allowed", *n, max);
	return 0;
}

static int parse_ports(struct cfg_ctx *x, const char *key, json_object *v,
		       struct det_config *c)
{
	char k[128];
	long long p;
	int i, n, err;

	err = get_array(x, key, v, CFG_MAX_LIST, &n);
	for (i = 0; !err && i < n; i++) {
		keyf(k, sizeof(k), "%s[%d]", key, i);
		err = get_int(x, k, json_object_array_get_idx(v, i), 1, 65535, &p);
		c->sensitive_ports[i] = (__u16)p;
	}
	if (!err)
		c->n_sensitive_ports = n;
	return err;
}

static int parse_strings(struct cfg_ctx *x, const char *key, json_object *v,
			 char (*out)[64], int *count)
{
	char k[128];
	int i, n, err;

	err = get_array(x, key, v, CFG_MAX_LIST, &n);
	for (i = 0; !err && i < n; i++) {
		keyf(k, sizeof(k), "%s[%d]", key, i);
		err = get_str(x, k, json_object_array_get_idx(v, i), out[i], 64);
	}
	if (!err)
		*count = n;
	return err;
}

static int parse_addrs(struct cfg_ctx *x, const char *key, json_object *v,
		       struct det_config *c)
{
	char k[128];
	int i, err;

	err = parse_strings(x, key, v, c->sensitive_addrs, &c->n_sensitive_addrs);
	for (i = 0; !err && i < c->n_sensitive_addrs; i++) {
		unsigned char buf[16];
		int fam = strchr(c->sensitive_addrs[i], ':') ? AF_INET6 : AF_INET;

		keyf(k, sizeof(k), "%s[%d]", key, i);
		if (inet_pton(fam, c->sensitive_addrs[i], buf) != 1)
			err = bad(x, k, "\"%s\" is not an IP address",
				  c->sensitive_addrs[i]);
	}
	return err;
}

static int parse_rule_list(struct cfg_ctx *x, const char *key, json_object *v,
			   __u32 *mask)
{
	char k[128];
	int i, n, r, err;

	err = get_array(x, key, v, RULE_MAX, &n);
	for (i = 0; !err && i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);

		keyf(k, sizeof(k), "%s[%d]", key, i);
		if (!json_object_is_type(e, json_type_string))
			return bad(x, k, "must be a rule name");
		r = det_rule_by_name(json_object_get_string(e));
		if (r < 0)
			return bad(x, k, "\"%s\" is not a rule", json_object_get_string(e));
		*mask |= 1U << r;
	}
	return err;
}

/* [{namespace, pod, binary, rules}], each entry naming at least one of
 * namespace, pod, binary. */
static int parse_allow(struct cfg_ctx *x, const char *key, json_object *v,
		       struct cfg_allow *list, int *count, bool with_rules)
{
	char k[160];
	int i, n, err;

	err = get_array(x, key, v, CFG_MAX_ALLOW, &n);
	for (i = 0; !err && i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		struct cfg_allow *a = &list[i];

		memset(a, 0, sizeof(*a));
		keyf(k, sizeof(k), "%s[%d]", key, i);
		if (!json_object_is_type(e, json_type_object))
			return bad(x, k, "must be an object {namespace, pod, binary%s}",
				   with_rules ? ", rules" : "");
		json_object_object_foreach(e, name, val) {
			char kk[224];

			keyf(kk, sizeof(kk), "%s.%s", k, name);
			if (!strcmp(name, "namespace"))
				err = get_str(x, kk, val, a->namespace, CFG_STR);
			else if (!strcmp(name, "pod"))
				err = get_str(x, kk, val, a->pod, CFG_STR);
			else if (!strcmp(name, "binary"))
				err = get_str(x, kk, val, a->binary, CFG_STR);
			else if (with_rules && !strcmp(name, "rules"))
				err = parse_rule_list(x, kk, val, &a->rules);
			else
				err = bad(x, kk, "unknown key");
			if (err)
				return err;
		}
		if (!a->namespace[0] && !a->pod[0] && !a->binary[0])
			return bad(x, k, "names none of namespace, pod, binary");
	}
	if (!err)
		*count = n;
	return err;
}

static int parse_severity(struct cfg_ctx *x, const char *key, json_object *v,
			  struct cfg_rule *r)
{
	size_t i;

	if (json_object_is_type(v, json_type_string))
		for (i = 0; i < sizeof(severities) / sizeof(severities[0]); i++)
			if (!strcmp(json_object_get_string(v), severities[i])) {
				snprintf(r->severity, sizeof(r->severity), "%s",
					 severities[i]);
				return 0;
			}
	return bad(x, key, "must be one of info, low, medium, high, critical");
}

/* A key every rule has; 1 when `name` is not one of them. */
static int parse_rule_common(struct cfg_ctx *x, const char *key,
			     const char *name, json_object *v, struct cfg_rule *r)
{
	if (!strcmp(name, "enabled"))
		return get_bool(x, key, v, &r->enabled);
	if (!strcmp(name, "severity"))
		return parse_severity(x, key, v, r);
	if (!strcmp(name, "action")) {
		const char *s = json_object_is_type(v, json_type_string) ?
				json_object_get_string(v) : "";

		if (!strcmp(s, "alert"))
			r->action = ACTION_ALERT;
		else if (!strcmp(s, "deny"))
			r->action = ACTION_DENY;
		else
			return bad(x, key, "must be \"alert\" or \"deny\"");
		return 0;
	}
	return 1;
}

/* The tunables one rule has besides the common keys. */
static int parse_rule_key(struct cfg_ctx *x, const char *key, int rule,
			  const char *name, json_object *v, struct det_config *c)
{
	long long n;
	int err;

	switch (rule) {
	case RULE_REVERSE_SHELL:
		if (!strcmp(name, "shells"))
			return parse_strings(x, key, v, c->shells, &c->n_shells);
		if (!strcmp(name, "interpreters"))
			return parse_strings(x, key, v, c->interpreters,
					     &c->n_interpreters);
		break;
	case RULE_NETWORK_TOOL:
		if (!strcmp(name, "tools"))
			return parse_strings(x, key, v, c->tools, &c->n_tools);
		if (!strcmp(name, "foothold"))
			return get_bool(x, key, v, &c->tool_foothold);
		break;
	case RULE_NEW_PEER:
		if (!strcmp(name, "learning_window"))
			return get_seconds(x, key, v, &c->learning_ns);
		break;
	case RULE_INTERNAL_SCAN:
		if (!strcmp(name, "peers") || !strcmp(name, "refused")) {
			err = get_int(x, key, v, 2, 100000, &n);
			if (!err && name[0] == 'p')
				c->scan_peers = n;
			else if (!err)
				c->scan_refused = n;
			return err;
		}
		if (!strcmp(name, "interval"))
			return get_seconds(x, key, v, &c->scan_ns);
		break;
	case RULE_SENSITIVE:
		if (!strcmp(name, "ports"))
			return parse_ports(x, key, v, c);
		if (!strcmp(name, "addresses"))
			return parse_addrs(x, key, v, c);
		if (!strcmp(name, "allow"))
			return parse_allow(x, key, v, c->sensitive_allow,
					   &c->n_sensitive_allow, false);
		break;
	case RULE_LATERAL:
		if (!strcmp(name, "window"))
			return get_seconds(x, key, v, &c->chain_ns);
		break;
	}
	return bad(x, key, "unknown key");
}

static int parse_rules(struct cfg_ctx *x, json_object *v, struct det_config *c)
{
	if (!json_object_is_type(v, json_type_object))
		return bad(x, "rules", "must be an object of rule names");
	json_object_object_foreach(v, rname, rv) {
		char k[128];
		int r = det_rule_by_name(rname), err;

		keyf(k, sizeof(k), "rules.%s", rname);
		if (r < 0)
			return bad(x, k, "unknown rule (rules are reverse-shell, network-tool-in-pod, new-east-west-peer, internal-scan, sensitive-service-access, exec-into-pod, lateral-movement)");
		if (!json_object_is_type(rv, json_type_object))
			return bad(x, k, "must be an object");
		json_object_object_foreach(rv, name, val) {
			char kk[192];

			keyf(kk, sizeof(kk), "%s.%s", k, name);
			err = parse_rule_common(x, kk, name, val, &c->rule[r]);
			if (err == 1)
				err = parse_rule_key(x, kk, r, name, val, c);
			if (err)
				return err;
		}
	}
	return 0;
}

static int parse_top(struct cfg_ctx *x, json_object *root, struct det_config *c)
{
	int err = 0;

	if (!json_object_is_type(root, json_type_object))
		return bad(x, ".", "must be a JSON object");
	json_object_object_foreach(root, name, v) {
		if (!strcmp(name, "rules"))
			err = parse_rules(x, v, c);
		else if (!strcmp(name, "allow"))
			err = parse_allow(x, "allow", v, c->allow, &c->n_allow, true);
		else if (!strcmp(name, "learning_window"))
			err = get_seconds(x, name, v, &c->learning_ns);
		else if (!strcmp(name, "dedup_window"))
			err = get_seconds(x, name, v, &c->dedup_ns);
		else if (!strcmp(name, "sensitive_ports"))
			err = parse_ports(x, name, v, c);
		else
			err = bad(x, name, "unknown key");
		if (err)
			return err;
	}
	return 0;
}

int config_parse(struct det_config *c, const char *name, const char *text,
		 char *err, size_t errlen)
{
	struct cfg_ctx x = { .file = name, .err = err, .errlen = errlen };
	struct json_tokener *tok = json_tokener_new();
	json_object *root;
	int ret;

	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, text, (int)strlen(text) + 1);
	if (!root) {
		ret = bad(&x, ".", "not valid JSON: %s at byte %zu",
			  json_tokener_error_desc(json_tokener_get_error(tok)),
			  json_tokener_get_parse_end(tok));
		json_tokener_free(tok);
		return ret;
	}
	json_tokener_free(tok);
	config_defaults(c);
	ret = parse_top(&x, root, c);
	json_object_put(root);
	return ret;
}

int config_load(struct det_config *c, const char *file, char *err,
		size_t errlen)
{
	FILE *f = fopen(file, "re");
	char *text = NULL;
	size_t len = 0;
	int ret;

	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: .: cannot read: %s", file, strerror(errno));
		return ret;
	}
	if (getdelim(&text, &len, 0, f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	if (!text)
		return -ENOMEM;
	ret = config_parse(c, file, text, err, errlen);
	free(text);
	return ret;
}

static bool field_matches(const char *pattern, const char *value)
{
	return !pattern[0] || (value && !fnmatch(pattern, value, 0));
}

bool config_allowed(const struct cfg_allow *list, int n, enum det_rule rule,
		    const char *ns, const char *pod, const char *binary)
{
	int i;

	for (i = 0; i < n; i++) {
		const struct cfg_allow *a = &list[i];

		if (a->rules && !(a->rules & (1U << rule)))
			continue;
		if (field_matches(a->namespace, ns) && field_matches(a->pod, pod) &&
		    field_matches(a->binary, binary))
			return true;
	}
	return false;
}
