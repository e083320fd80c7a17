/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CNI errors: the codes of the CNI spec and podsentry-cni's own (100+),
 * and the JSON object printed on stdout when a command fails.
 */
#ifndef PS_CNI_ERR_H
#define PS_CNI_ERR_H

#include <json-c/json.h>

#include "cni/shared/util.h"

enum cni_code {
	CNI_ERR_VERSION = 1,	/* incompatible CNI version */
	CNI_ERR_FIELD = 2,	/* unsupported field in the network config */
	CNI_ERR_CONTAINER = 3,	/* container unknown or does not exist */
	CNI_ERR_ENV = 4,	/* invalid environment variables */
	CNI_ERR_IO = 5,		/* I/O failure */
	CNI_ERR_DECODE = 6,	/* failed to decode content */
	CNI_ERR_CONFIG = 7,	/* invalid network config */
	CNI_ERR_TRY_LATER = 11, /* try again later */
	CNI_ERR_UNAVAILABLE = 50, /* STATUS: plugin not available */
	CNI_ERR_UNAVAILABLE_IPS = 51,
	PS_ERR_ATTACH = 100,	/* attaching programs or writing maps failed */
	PS_ERR_LINK = 101,	/* the host veth of the pod was not found */
	PS_ERR_CHECK = 102,	/* CHECK: an attachment is not as recorded */
};

#define CNI_MSG_LEN 256
#define CNI_DETAILS_LEN 512

struct cni_err {
	int code; /* 0: no error */
	char msg[CNI_MSG_LEN];
	char details[CNI_DETAILS_LEN];
};

/* Record an error; returns -1 so callers can `return cni_fail(...)`. */
int cni_fail(struct cni_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Add details (the underlying cause) to a recorded error. */
void cni_details(struct cni_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Input quoted in a message: s[0..n) with control bytes, invalid UTF-8,
 * '"' and '\\' escaped (text_escape), cut to fit CNI_ESC_LEN with "...".
 * Returns buf. */
#define CNI_ESC_LEN 96
const char *cni_esc(char buf[CNI_ESC_LEN], const char *s, size_t n);
/* {"cniVersion", "code", "msg", "details"}; the caller puts it. */
json_object *cni_err_json(const struct cni_err *e, const char *cni_version);

#endif
