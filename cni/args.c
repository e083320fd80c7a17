// SPDX-License-Identifier: GPL-2.0-only
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cni/args.h"

struct arg_key {
	const char *name;
	size_t off, len;
};

#define ARG_KEY(n, f) { n, offsetof(struct cni_args, f), \
			sizeof(((struct cni_args *)0)->f) }

static const struct arg_key arg_keys[] = {
	ARG_KEY("K8S_POD_NAMESPACE", pod_namespace),
	ARG_KEY("K8S_POD_NAME", pod_name),
	ARG_KEY("K8S_POD_INFRA_CONTAINER_ID", infra_id),
	ARG_KEY("K8S_POD_UID", pod_uid),
};

static int arg_bool(const char *v, size_t n, bool *out)
{
	if ((n == 1 && v[0] == '1') || (n == 4 && !strncasecmp(v, "true", 4)))
		*out = true;
	else if ((n == 1 && v[0] == '0') ||
		 (n == 5 && !strncasecmp(v, "false", 5)))
		*out = false;
	else
		return -1;
	return 0;
}

/* One "K=V" of n bytes at p. */
static int arg_pair(const char *p, size_t n, struct cni_args *a,
		    struct cni_err *e)
{
	const char *eq = memchr(p, '=', n);
	char q[CNI_ESC_LEN];
	size_t klen, vlen, i;
	char *dst;

	if (!eq || eq == p)
		return cni_fail(e, CNI_ERR_ENV,
				"CNI_ARGS: \"%s\" is not KEY=VALUE",
				cni_esc(q, p, n));
	klen = eq - p;
	vlen = n - klen - 1;
	if (memchr(eq + 1, '=', vlen))
		return cni_fail(e, CNI_ERR_ENV,
				"CNI_ARGS: \"%s\" has more than one '='",
				cni_esc(q, p, n));
	if (klen == 13 && !strncmp(p, "IgnoreUnknown", 13)) {
		if (arg_bool(eq + 1, vlen, &a->ignore_unknown))
			return cni_fail(e, CNI_ERR_ENV,
					"CNI_ARGS: IgnoreUnknown=%s is not a boolean",
					cni_esc(q, eq + 1, vlen));
		return 0;
	}
	for (i = 0; i < sizeof(arg_keys) / sizeof(arg_keys[0]); i++) {
		if (strlen(arg_keys[i].name) != klen ||
		    strncmp(arg_keys[i].name, p, klen))
			continue;
		dst = (char *)a + arg_keys[i].off;
		if (dst[0])
			return cni_fail(e, CNI_ERR_ENV,
					"CNI_ARGS: %s given twice",
					arg_keys[i].name);
		if (vlen >= arg_keys[i].len)
			return cni_fail(e, CNI_ERR_ENV,
					"CNI_ARGS: %s is %zu bytes long, at most %zu",
					arg_keys[i].name, vlen,
					arg_keys[i].len - 1);
		memcpy(dst, eq + 1, vlen);
		dst[vlen] = 0;
		return 0;
	}
	a->unknown++;
	return 0;
}

int cni_args_parse(const char *s, struct cni_args *a, struct cni_err *e)
{
	const char *p = s, *end;
	size_t n;

	memset(a, 0, sizeof(*a));
	if (!s)
		return 0;
	while (*p) {
		end = strchr(p, ';');
		n = end ? (size_t)(end - p) : strlen(p);
		/* Empty elements (";;", a trailing ';') carry nothing. */
		if (n && arg_pair(p, n, a, e))
			return -1;
		p += n;
		if (*p == ';')
			p++;
	}
	return 0;
}
