// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cni/err.h"
#include "cni/shared/text.h"

int cni_fail(struct cni_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	e->details[0] = 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void cni_details(struct cni_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->details, sizeof(e->details), fmt, ap);
	va_end(ap);
}

const char *cni_esc(char buf[CNI_ESC_LEN], const char *s, size_t n)
{
	if (text_escape(buf, CNI_ESC_LEN - 3, s, n, TEXT_ESC_QUOTE) >=
	    CNI_ESC_LEN - 3)
		strcat(buf, "...");
	return buf;
}

json_object *cni_err_json(const struct cni_err *e, const char *cni_version)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cniVersion",
			       json_object_new_string(cni_version));
	json_object_object_add(o, "code", json_object_new_int(e->code));
	json_object_object_add(o, "msg", json_object_new_string(e->msg));
	if (e->details[0])
		json_object_object_add(o, "details",
				       json_object_new_string(e->details));
	return o;
}
