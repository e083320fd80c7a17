// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "node/records/match.h"

#define SCAN_DEPTH 64	/* nesting the scanner follows at all */
#define PATH_KEYS 4	/* keys of the deepest member picked */

enum field {
	F_NONE,
	F_TYPE,
	F_TIME,
	F_POD_NS, /* + 2 * pod index */
	F_POD_NAME,
	F_BIN = F_POD_NS + 2 * MATCH_PODS, /* + bin index */
	F_RULE = F_BIN + MATCH_BINS,
	F_SEVERITY,
	F_STATUS,
	F_ALERT_ID,
	F_FINAL,
	F_AGGREGATE,
	F_CONNECTIONS,
};

static const struct {
	const char *keys[PATH_KEYS];
	int field;
} paths[] = {
	{ { "type" }, F_TYPE },
	{ { "time" }, F_TIME },
	{ { "pod", "namespace" }, F_POD_NS },
	{ { "pod", "name" }, F_POD_NAME },
	{ { "flow", "src", "pod", "namespace" }, F_POD_NS + 2 },
	{ { "flow", "src", "pod", "name" }, F_POD_NAME + 2 },
	{ { "flow", "dst", "pod", "namespace" }, F_POD_NS + 4 },
	{ { "flow", "dst", "pod", "name" }, F_POD_NAME + 4 },
	{ { "socket", "src", "pod", "namespace" }, F_POD_NS + 6 },
	{ { "socket", "src", "pod", "name" }, F_POD_NAME + 6 },
	{ { "socket", "dst", "pod", "namespace" }, F_POD_NS + 8 },
	{ { "socket", "dst", "pod", "name" }, F_POD_NAME + 8 },
	{ { "process", "binary" }, F_BIN },
	{ { "flow", "src", "process", "binary" }, F_BIN + 1 },
	{ { "flow", "dst", "process", "binary" }, F_BIN + 2 },
	{ { "alert", "rule" }, F_RULE },
	{ { "alert", "severity" }, F_SEVERITY },
	{ { "alert", "status" }, F_STATUS },
	{ { "alert", "id" }, F_ALERT_ID },
	{ { "flow", "final" }, F_FINAL },
	{ { "flow", "aggregate" }, F_AGGREGATE },
	{ { "flow", "connections" }, F_CONNECTIONS },
};

struct scan {
	const char *p, *end;
	struct rec_fields *f;
	/* the keys down to here (raw bytes: the data model's keys have no
	 * escapes); depth past PATH_KEYS, or inside an array: no field */
	const char *key[PATH_KEYS];
	size_t klen[PATH_KEYS];
	int nkeys; /* -1: nothing below is picked */
};

static int path_field(const struct scan *s)
{
	size_t i;
	int k;

	if (s->nkeys <= 0)
		return F_NONE;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (k = 0; k < s->nkeys; k++)
			if (!paths[i].keys[k] || strlen(paths[i].keys[k]) != s->klen[k] ||
			    memcmp(paths[i].keys[k], s->key[k], s->klen[k]))
				break;
		if (k == s->nkeys && (k == PATH_KEYS || !paths[i].keys[k]))
			return paths[i].field;
	}
	return F_NONE;
}

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
				 *s->p == '\r'))
		s->p++;
}

static int hex4(const char *p, unsigned int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		char c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*v |= c - 'A' + 10;
		else
			return -1;
	}
	return 0;
}

static size_t utf8_put(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | (cp >> 6 & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | cp >> 18;
	o[1] = 0x80 | (cp >> 12 & 0x3f);
	o[2] = 0x80 | (cp >> 6 & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* A string at s->p ('"'): decoded into out[size] when out is not NULL
 * (cut, and *cut set, when longer); the raw bytes between the quotes in
 * *raw, *rawlen. */
static int str(struct scan *s, char *out, size_t size, bool *cut,
	       const char **raw, size_t *rawlen)
{
	size_t n = 0;
	const char *start;

	if (s->p >= s->end || *s->p != '"')
		return -EINVAL;
	start = ++s->p;
	while (s->p < s->end && *s->p != '"') {
		char buf[8];
		size_t k = 1;
		unsigned char c = *s->p;

		if (c < 0x20)
			return -EINVAL;
		if (c != '\\') {
			buf[0] = c;
			s->p++;
		} else {
			unsigned int cp, lo;

			if (s->end - s->p < 2)
				return -EINVAL;
			c = s->p[1];
			s->p += 2;
			switch (c) {
			case '"': case '\\': case '/': buf[0] = c; break;
			case 'b': buf[0] = '\b'; break;
			case 'f': buf[0] = '\f'; break;
			case 'n': buf[0] = '\n'; break;
			case 'r': buf[0] = '\r'; break;
			case 't': buf[0] = '\t'; break;
			case 'u':
				if (s->end - s->p < 4 || hex4(s->p, &cp))
					return -EINVAL;
				s->p += 4;
				if (cp >= 0xd800 && cp < 0xdc00 && s->end - s->p >= 6 &&
				    s->p[0] == '\\' && s->p[1] == 'u' &&
				    !hex4(s->p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					s->p += 6;
				} else if (cp >= 0xd800 && cp < 0xe000) {
					cp = 0xfffd;
				}
				k = utf8_put(buf, cp);
				break;
			default:
				return -EINVAL;
			}
		}
		if (out) {
			if (n + k < size) {
				memcpy(out + n, buf, k);
				n += k;
			} else {
				*cut = true;
			}
		}
	}
	if (s->p >= s->end)
		return -EINVAL;
	if (raw) {
		*raw = start;
		*rawlen = s->p - start;
	}
	s->p++;
	if (out)
		out[n] = 0;
	return 0;
}

static char *field_buf(struct rec_fields *f, int field, size_t *size)
{
	if (field >= F_POD_NS && field < F_BIN) {
		int i = (field - F_POD_NS) / 2;

		f->pods[i].set = true;
		*size = MATCH_NAME;
		return (field - F_POD_NS) % 2 ? f->pods[i].name : f->pods[i].ns;
	}
	if (field >= F_BIN && field < F_RULE) {
		*size = MATCH_PATH;
		return f->bins[field - F_BIN];
	}
	*size = MATCH_WORD;
	switch (field) {
	case F_TYPE: return f->type;
	case F_RULE: return f->rule;
	case F_SEVERITY: return f->severity;
	case F_STATUS: return f->status;
	case F_ALERT_ID: return f->alert_id;
	}
	return NULL;
}

static int value(struct scan *s, int depth);

static int object(struct scan *s, int depth)
{
	int nkeys = s->nkeys;

	s->p++; /* '{' */
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		const char *k;
		size_t kl;
		int err;

		ws(s);
		if (str(s, NULL, 0, NULL, &k, &kl))
			return -EINVAL;
		ws(s);
		if (s->p >= s->end || *s->p != ':')
			return -EINVAL;
		s->p++;
		if (nkeys >= 0 && nkeys < PATH_KEYS) {
			s->key[nkeys] = k;
			s->klen[nkeys] = kl;
			s->nkeys = nkeys + 1;
		} else {
			s->nkeys = -1;
		}
		err = value(s, depth + 1);
		s->nkeys = nkeys;
		if (err)
			return err;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return -EINVAL;
	}
}

static int array(struct scan *s, int depth)
{
	int nkeys = s->nkeys, err;

	s->p++; /* '[' */
	ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	s->nkeys = -1;
	for (;;) {
		err = value(s, depth + 1);
		if (err)
			break;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			break;
		}
		err = -EINVAL;
		break;
	}
	s->nkeys = nkeys;
	return err;
}

static int word(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n))
		return -EINVAL;
	s->p += n;
	return 0;
}

static int value(struct scan *s, int depth)
{
	int field;

	if (depth > SCAN_DEPTH)
		return -EINVAL;
	ws(s);
	if (s->p >= s->end)
		return -EINVAL;
	field = path_field(s);
	switch (*s->p) {
	case '{':
		return object(s, depth);
	case '[':
		return array(s, depth);
	case '"': {
		const char *raw;
		size_t rawlen, size = 0;
		char *out = field_buf(s->f, field, &size);

		if (str(s, out, size, &s->f->cut, &raw, &rawlen))
			return -EINVAL;
		if (field == F_TIME && rfc3339_parse(raw, rawlen, &s->f->time_ns))
			s->f->time_ns = 0;
		return 0;
	}
	case 't':
		if (field == F_FINAL)
			s->f->final = true;
		if (field == F_AGGREGATE)
			s->f->aggregate = true;
		return word(s, "true");
	case 'f':
		return word(s, "false");
	case 'n':
		return word(s, "null");
	default: {
		const char *start = s->p;

		while (s->p < s->end && strchr("+-0123456789.eE", *s->p))
			s->p++;
		if (s->p == start)
			return -EINVAL;
		if (field == F_CONNECTIONS)
			s->f->connections = strtoull(start, NULL, 10);
		return 0;
	}
	}
}

int rec_fields_parse(const char *line, size_t len, struct rec_fields *f)
{
	struct scan s = { .p = line, .end = line + len, .f = f };
	int i;

	f->type[0] = f->rule[0] = f->severity[0] = f->status[0] = 0;
	f->alert_id[0] = 0;
	for (i = 0; i < MATCH_PODS; i++) {
		f->pods[i].set = false;
		f->pods[i].ns[0] = f->pods[i].name[0] = 0;
	}
	for (i = 0; i < MATCH_BINS; i++)
		f->bins[i][0] = 0;
	f->time_ns = 0;
	f->final = f->aggregate = f->cut = false;
	f->connections = 0;
	ws(&s);
	if (s.p >= s.end || *s.p != '{' || object(&s, 0))
		return -EINVAL;
	ws(&s);
	return s.p == s.end ? 0 : -EINVAL;
}

/* ---- the filter ---- */

int severity_level(const char *s)
{
	static const char *const names[] = { "info", "low", "medium", "high",
					     "critical" };
	int i;

	for (i = 0; i < 5; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int duration_parse(const char *s, __u64 *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
		{ "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
		{ "d", 86400e9 },
	};
	double total = 0;
	const char *p = s;

	if (!*s)
		return -EINVAL;
	while (*p) {
		char *end;
		double v;
		size_t i, best = 0, blen = 0;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtod(p, &end);
		if (errno || end == p || !isfinite(v))
			return -EINVAL;
		p = end;
		if (!*p) { /* a bare number: seconds, alone only */
			if (total)
				return -EINVAL;
			total = v * 1e9;
			break;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);

			if (!strncmp(p, units[i].unit, n) && n > blen) {
				best = i;
				blen = n;
			}
		}
		/* "m" is a prefix of "ms": the longest unit wins */
		if (!blen)
			return -EINVAL;
		total += v * units[best].ns;
		p += blen;
	}
	if (!(total >= 1) || total > 10 * 366 * 86400e9)
		return -EINVAL;
	*ns = (__u64)total;
	return 0;
}

static int digits(const char *s, size_t n, int *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int rfc3339_parse(const char *s, size_t len, __s64 *ns)
{
	struct tm tm = {};
	int y, mo, d, h, mi, sec, oh, om;
	__s64 frac = 0, scale = 1000000000;
	size_t i = 19;
	time_t t;

	if (len < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (s[i] == '.') {
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return -EINVAL;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (scale > 1) {
				scale /= 10;
				frac += (s[i] - '0') * scale;
			}
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (i < len && (s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
		/* UTC */
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') &&
		   !digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
		   !digits(s + i + 4, 2, &om) && oh < 24 && om < 60) {
		t += (s[i] == '+' ? -1 : 1) * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	*ns = (__s64)t * 1000000000LL + frac;
	return 0;
}

static int copy_member(struct json_object *req, const char *key, char *out,
		       size_t size, char *why, size_t len)
{
	struct json_object *v;
	const char *s;

	out[0] = 0;
	if (!json_object_object_get_ex(req, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(why, len, "\"%s\" is not a string", key);
		return -EINVAL;
	}
	s = json_object_get_string(v);
	if (strlen(s) >= size) {
		snprintf(why, len, "\"%s\" is longer than %zu bytes", key, size - 1);
		return -EINVAL;
	}
	strcpy(out, s);
	return 0;
}

static int type_add(struct rec_filter *f, const char *s, size_t n, char *why,
		    size_t len)
{
	size_t i;

	if (!n || n >= MATCH_WORD) {
		snprintf(why, len, "\"types\": \"%.*s\" is not a record type",
			 (int)(n < 64 ? n : 64), s);
		return -EINVAL;
	}
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) {
			snprintf(why, len, "\"types\": \"%.*s\" is not a record type",
				 (int)(n < 64 ? n : 64), s);
			return -EINVAL;
		}
	if (f->ntypes == MATCH_TYPES) {
		snprintf(why, len, "\"types\": more than %d types", MATCH_TYPES);
		return -EINVAL;
	}
	memcpy(f->types[f->ntypes], s, n);
	f->types[f->ntypes++][n] = 0;
	return 0;
}

/* "types": ["flow", "alert"] or "flow,alert" */
static int types_member(struct rec_filter *f, struct json_object *req, char *why,
			size_t len)
{
	struct json_object *v;
	size_t i, n;

	if (!json_object_object_get_ex(req, "types", &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);

		while (*s) {
			n = strcspn(s, ",");
			if (type_add(f, s, n, why, len))
				return -EINVAL;
			s += n;
			if (*s == ',' && !*++s)
				return type_add(f, s, 0, why, len);
		}
		return 0;
	}
	if (!json_object_is_type(v, json_type_array)) {
		snprintf(why, len, "\"types\" is not a list of record types");
		return -EINVAL;
	}
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(v, i);

		if (!json_object_is_type(t, json_type_string)) {
			snprintf(why, len, "\"types\" is not a list of record types");
			return -EINVAL;
		}
		if (type_add(f, json_object_get_string(t), json_object_get_string_len(t),
			     why, len))
			return -EINVAL;
	}
	return 0;
}

int rec_filter_from_request(struct rec_filter *f, struct json_object *req,
			    __s64 now_ns, char *why, size_t len)
{
	char sev[MATCH_WORD], since[64], *slash;
	__u64 dur;

	memset(f, 0, sizeof(*f));
	f->severity = -1;
	if (types_member(f, req, why, len) ||
	    copy_member(req, "namespace", f->ns, sizeof(f->ns), why, len) ||
	    copy_member(req, "pod", f->pod, sizeof(f->pod), why, len) ||
	    copy_member(req, "process", f->process, sizeof(f->process), why, len) ||
	    copy_member(req, "rule", f->rule, sizeof(f->rule), why, len) ||
	    copy_member(req, "severity", sev, sizeof(sev), why, len) ||
	    copy_member(req, "since", since, sizeof(since), why, len))
		return -EINVAL;
	/* --pod NAMESPACE/NAME */
	slash = strchr(f->pod, '/');
	if (slash) {
		if (f->ns[0] && (strlen(f->ns) != (size_t)(slash - f->pod) ||
				 strncmp(f->ns, f->pod, slash - f->pod))) {
			snprintf(why, len, "\"pod\" \"%s\" names another namespace than \"namespace\" \"%s\"",
				 f->pod, f->ns);
			return -EINVAL;
		}
		memcpy(f->ns, f->pod, slash - f->pod);
		f->ns[slash - f->pod] = 0;
		memmove(f->pod, slash + 1, strlen(slash + 1) + 1);
	}
	if (sev[0]) {
		f->severity = severity_level(sev);
		if (f->severity < 0) {
			snprintf(why, len, "\"severity\" \"%s\" is not info, low, medium, high or critical",
				 sev);
			return -EINVAL;
		}
	}
	if (since[0]) {
		if (duration_parse(since, &dur)) {
			snprintf(why, len, "\"since\" \"%s\" is not a duration (e.g. 30s, 5m, 1h30m, 2d)",
				 since);
			return -EINVAL;
		}
		f->since_ns = now_ns - (__s64)dur;
	}
	return 0;
}

bool rec_filter_empty(const struct rec_filter *f)
{
	return !f->ntypes && !f->ns[0] && !f->pod[0] && !f->process[0] &&
	       !f->rule[0] && f->severity < 0 && !f->since_ns;
}

static bool binary_is(const char *bin, const char *want)
{
	const char *base = strrchr(bin, '/');

	return !strcmp(bin, want) || (base && !strcmp(base + 1, want));
}

bool rec_filter_match(const struct rec_filter *f, const struct rec_fields *r)
{
	unsigned int i;
	bool hit;

	if (f->ntypes) {
		for (i = 0; i < f->ntypes; i++)
			if (!strcmp(f->types[i], r->type))
				break;
		if (i == f->ntypes)
			return false;
	}
	if (f->since_ns && r->time_ns < f->since_ns)
		return false;
	if (f->rule[0] && strcmp(f->rule, r->rule))
		return false;
	if (f->severity >= 0 && severity_level(r->severity) < f->severity)
		return false;
	if (f->ns[0] || f->pod[0]) {
		for (i = 0, hit = false; i < MATCH_PODS && !hit; i++)
			hit = r->pods[i].set && (!f->ns[0] || !strcmp(f->ns, r->pods[i].ns)) &&
			      (!f->pod[0] || !strcmp(f->pod, r->pods[i].name));
		if (!hit)
			return false;
	}
	if (f->process[0]) {
		for (i = 0, hit = false; i < MATCH_BINS && !hit; i++)
			hit = r->bins[i][0] && binary_is(r->bins[i], f->process);
		if (!hit)
			return false;
	}
	return true;
}

unsigned long long rec_line_connections(const char *line, size_t len)
{
	static const char conn[] = "\"connections\":",
			  fin[] = "\"final\":true}",
			  agg[] = "\"reason\":\"aggregate\"";
	/* a flow record ends with its reason and final: only the tail is
	 * read, not the whole line twice (every flow line, two sinks) */
	size_t tail = len < 64 ? len : 64;
	const char *t = line + len - tail, *p;

	if (!memmem(t, tail, fin, sizeof(fin) - 1))
		return 0;
	if (!memmem(t, tail, agg, sizeof(agg) - 1))
		return 1;
	p = memmem(line, len, conn, sizeof(conn) - 1);
	return p ? strtoull(p + sizeof(conn) - 1, NULL, 10) : 1;
}
