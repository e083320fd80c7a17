// SPDX-License-Identifier: GPL-2.0-only
/*
 * podsentry-cni: the chained CNI plugin. The runtime runs it after the
 * main plugin with the CNI_* environment and the network configuration on
 * stdin; it prints the result (or a CNI error) on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni/cmd.h"
#include "cni/err.h"
#include "cni/shared/version.h"

#define STDIN_MAX (16U << 20)

static char *stdin_read(size_t *len)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap + 1), *grown;
	ssize_t r;

	while (buf) {
		if (n == cap) {
			if (cap >= STDIN_MAX)
				break;
			cap *= 2;
			grown = realloc(buf, cap + 1);
			if (!grown)
				break;
			buf = grown;
		}
		r = read(STDIN_FILENO, buf + n, cap - n);
		if (r == 0) {
			buf[n] = 0;
			*len = n;
			return buf;
		}
		if (r < 0)
			break;
		n += r;
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	struct cni_env env;
	struct cni_err e = {};
	size_t len = 0;
	char *in;
	int ret;

	/* a runtime passes no arguments: the CNI VERSION command is CNI_COMMAND */
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		version_print(stdout, "podsentry-cni");
		return 0;
	}
	cni_env_get(&env);
	in = stdin_read(&len);
	if (!in) {
		cni_fail(&e, CNI_ERR_IO, "reading the network config from stdin failed");
		printf("%s\n", json_object_to_json_string_ext(
			cni_err_json(&e, "1.1.0"), JSON_C_TO_STRING_PLAIN));
		return 1;
	}
	ret = cni_main(&env, in, len, stdout);
	free(in);
	return ret;
}
