/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Record filters: which record lines a reader wants (podsentry observe:
 * by type, pod, process, rule, severity, time). podsentryd runs them on
 * the lines it serves on its local API; podsentry runs the same code on
 * an export file (--file). A line is not parsed into a tree: one pass
 * over its bytes picks the few members a filter looks at (the records'
 * JSON model is in README.md), so the daemon can afford it per record.
 */
#ifndef PS_NODE_RECORDS_MATCH_H
#define PS_NODE_RECORDS_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct json_object;

#define MATCH_NAME 256	/* a pod's namespace or name (the pods table's) */
#define MATCH_PATH 512	/* a binary */
#define MATCH_WORD 64	/* a type, rule, severity, status, id */
#define MATCH_TYPES 16
#define MATCH_PODS 5	/* the record's, flow src/dst, socket src/dst */
#define MATCH_BINS 3	/* process, flow src/dst process */

/* The members of one record line that filters look at (decoded from
 * their JSON strings; a longer value is cut, and flagged). */
struct rec_fields {
	char type[MATCH_WORD];
	__s64 time_ns; /* unix ns, 0: none or not RFC 3339 */
	struct {
		char ns[MATCH_NAME], name[MATCH_NAME];
		bool set;
	} pods[MATCH_PODS];
	char bins[MATCH_BINS][MATCH_PATH];
	char rule[MATCH_WORD], severity[MATCH_WORD], status[MATCH_WORD];
	char alert_id[MATCH_WORD];
	bool final, aggregate;
	unsigned long long connections;
	bool cut; /* some value was longer than its field */
};

/* 0, or -EINVAL when the line is not one JSON object (nothing after it
 * but blanks). */
int rec_fields_parse(const char *line, size_t len, struct rec_fields *f);
/* The connections a flow record line stands for: 1, an aggregate's
 * count, 0 for an update of a long flow (not final). */
unsigned long long rec_line_connections(const char *line, size_t len);

/* What a reader asked for; an empty member matches everything. */
struct rec_filter {
	unsigned int ntypes;
	char types[MATCH_TYPES][MATCH_WORD];
	char ns[MATCH_NAME], pod[MATCH_NAME];
	char process[MATCH_PATH];
	char rule[MATCH_WORD];
	int severity;	/* the least level (severity_level), -1: any */
	__s64 since_ns; /* unix ns: records from then on; 0: any time */
};

/* A request's filter members ("types", "namespace", "pod", "process",
 * "rule", "severity", "since"; others are ignored: the caller knows
 * its own), checked: -EINVAL with why[len] naming the member and the
 * problem. now_ns (unix) is where "since" counts back from. */
int rec_filter_from_request(struct rec_filter *f, struct json_object *req,
			    __s64 now_ns, char *why, size_t len);
bool rec_filter_match(const struct rec_filter *f, const struct rec_fields *r);
/* A filter that would match every record. */
bool rec_filter_empty(const struct rec_filter *f);

/* "30s", "5m", "1h30m", "2d", "250ms", "1.5h"; a bare number is
 * seconds. More than 0, at most 10 years. 0 or -EINVAL. */
int duration_parse(const char *s, __u64 *ns);
/* RFC 3339 ("2026-11-28T10:20:13.130947345Z", or with an offset): unix
 * ns. 0 or -EINVAL. */
int rfc3339_parse(const char *s, size_t len, __s64 *ns);
/* info 0, low 1, medium 2, high 3, critical 4; -1 for anything else */
int severity_level(const char *s);

#endif
