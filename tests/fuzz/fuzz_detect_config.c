// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: podsentryd's detection config (--config FILE) of any
 * content, through config_parse as config_load reads a file (the bytes
 * up to the first NUL). A refused config has one message that names the
 * file; an accepted one is used to match a few pods.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/detect/config.h"

#define MUST(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct det_config c;
	char err[512] = "", *text;
	int r;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (config_parse(&c, "fuzz.json", text, err, sizeof(err))) {
		MUST(!strncmp(err, "fuzz.json: ", 11));
	} else {
		MUST(c.n_allow >= 0 && c.n_allow <= CFG_MAX_ALLOW);
		MUST(c.n_sensitive_allow >= 0 &&
		     c.n_sensitive_allow <= CFG_MAX_ALLOW);
		MUST(c.n_tools >= 0 && c.n_tools <= CFG_MAX_LIST);
		for (r = 0; r < RULE_MAX; r++)
			config_allowed(c.allow, c.n_allow, r, "kube-system",
				       "web-0", "/usr/bin/nc");
		config_allowed(c.sensitive_allow, c.n_sensitive_allow,
			       RULE_SENSITIVE, "shop", "api-1", NULL);
	}
	free(text);
	return 0;
}
