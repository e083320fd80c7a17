/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * podsentryd's detection configuration (--config FILE, JSON): every rule
 * enabled or not, its action and tunables, allow-lists by namespace, pod
 * and binary, the learning window and the sensitive services. Validated
 * once at start: the first problem is reported as "FILE: KEY: what is
 * wrong" and the daemon does not start.
 */
#ifndef PS_NODE_CONFIG_H
#define PS_NODE_CONFIG_H

#include <stdbool.h>
#include <linux/types.h>

enum det_rule {
	RULE_REVERSE_SHELL,
	RULE_NETWORK_TOOL,
	RULE_NEW_PEER,
	RULE_INTERNAL_SCAN,
	RULE_SENSITIVE,
	RULE_EXEC_INTO_POD,
	RULE_LATERAL,
	RULE_MAX,
};

enum det_action {
	ACTION_ALERT = 0,
	ACTION_DENY = 1,
};

#define CFG_MAX_LIST 64
#define CFG_MAX_ALLOW 64
#define CFG_STR 256

/* An allow-list entry: every field given must match (fnmatch patterns);
 * rules is a bit mask of enum det_rule (0: every rule). */
struct cfg_allow {
	char namespace[CFG_STR];
	char pod[CFG_STR];
	char binary[CFG_STR];
	__u32 rules;
};

struct cfg_rule {
	bool enabled;
	enum det_action action;
	char severity[16];
};

struct det_config {
	struct cfg_rule rule[RULE_MAX];
	__u64 learning_ns;    /* new-east-west-peer: pod's learning window */
	__u64 dedup_ns;	      /* same rule, same process tree: one alert */
	__u64 chain_ns;	      /* lateral-movement: foothold -> connection */
	__u32 scan_peers;     /* internal-scan: distinct address:port pairs */
	__u64 scan_ns;	      /* ... within this time */
	__u32 scan_refused;   /* ... or this many refused/reset connections */
	__u16 sensitive_ports[CFG_MAX_LIST];
	int n_sensitive_ports;
	char sensitive_addrs[CFG_MAX_LIST][64];
	int n_sensitive_addrs;
	char tools[CFG_MAX_LIST][64]; /* network-tool-in-pod: basenames */
	int n_tools;
	bool tool_foothold;	/* network-tool-in-pod: a foothold of its tree */
	char shells[CFG_MAX_LIST][64];	     /* reverse-shell: shell names */
	int n_shells;
	char interpreters[CFG_MAX_LIST][64]; /* reverse-shell: interpreters */
	int n_interpreters;
	struct cfg_allow allow[CFG_MAX_ALLOW];	   /* every rule's allow-list */
	int n_allow;
	struct cfg_allow sensitive_allow[CFG_MAX_ALLOW]; /* allowed clients */
	int n_sensitive_allow;
};

extern const char *const det_rule_names[RULE_MAX];
extern const char *const det_rule_mitre[RULE_MAX];

/* The built-in defaults. */
void config_defaults(struct det_config *c);
/* Defaults overridden by FILE. Returns 0, or -EINVAL with the message
 * "FILE: KEY: what is wrong" in err (or -errno when FILE cannot be read). */
int config_load(struct det_config *c, const char *file, char *err,
		size_t errlen);
/* Same, from a JSON text (name is used in messages). */
int config_parse(struct det_config *c, const char *name, const char *text,
		 char *err, size_t errlen);
/* enum det_rule of a name, or -1. */
int det_rule_by_name(const char *name);
/* An allow-list entry of `list` covers (rule, namespace, pod, binary). */
bool config_allowed(const struct cfg_allow *list, int n, enum det_rule rule,
		    const char *ns, const char *pod, const char *binary);

#endif
