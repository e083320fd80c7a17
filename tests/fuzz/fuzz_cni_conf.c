// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: what podsentry-cni reads from its caller. The input
 * is the network config on stdin, then a 0xff byte (UTF-8 never has
 * one), then CNI_ARGS (up to a NUL, as an environment variable ends).
 * The config goes through conf_parse and, when it has a prevResult,
 * through what ADD reads of it; CNI_ARGS through cni_args_parse, and the
 * names it gives through a state file and back. Beyond crashes, leaks
 * and undefined behaviour, it checks what those promise: every error
 * message and log value is text (cni/shared/text.h), a state file is
 * text and gives back the exact bytes of every name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni/args.h"
#include "cni/conf.h"
#include "cni/log.h"
#include "cni/result.h"
#include "cni/shared/state.h"
#include "cni/shared/text.h"

#define MUST(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static void err_is_text(const struct cni_err *e)
{
	MUST(e->code > 0);
	MUST(text_is_clean(e->msg, strlen(e->msg)));
	MUST(text_is_clean(e->details, strlen(e->details)));
}

static void conf_input(const char *buf, size_t len)
{
	struct link_addr ips[RESULT_IPS_MAX];
	struct cni_err e = {};
	struct prev_result pr;
	struct cni_conf c;
	json_object *out;

	if (conf_parse(buf, len, &c, &e)) {
		err_is_text(&e);
		MUST(!c.root);
		return;
	}
	if (c.prev_result) {
		if (result_parse(c.prev_result, &pr, &e)) {
			err_is_text(&e);
		} else {
			MUST(pr.nifaces <= RESULT_IFACES_MAX);
			MUST(pr.nips <= RESULT_IPS_MAX);
			MUST(result_pod_ips(&pr, "eth0", ips, RESULT_IPS_MAX) <=
			     pr.nips);
			result_has_host_iface(&pr, "veth1234");
		}
		out = result_output(c.prev_result, c.cni_version);
		MUST(out);
		json_object_put(out);
	}
	conf_free(&c);
}

/* One name through state_name_set, a state file and state_parse. */
static void name_same(const struct state_raw *back, const char *given)
{
	MUST(back->len == strlen(given));
	MUST(!memcmp(back->bytes, given, back->len));
	MUST(back->not_text == !text_is_clean(given, strlen(given)));
}

static void args_round_trip(const struct cni_args *a)
{
	static struct pod_state st, back;
	char err[STATE_ERR_LEN], val[1100];
	char *text;

	memset(&st, 0, sizeof(st));
	snprintf(st.container_id, sizeof(st.container_id), "c0ffee");
	snprintf(st.ifname, sizeof(st.ifname), "eth0");
	snprintf(st.netns, sizeof(st.netns), "%s", a->pod_name);
	st.slot = 1;
	STATE_NAME_SET(&st, pod_namespace, a->pod_namespace);
	STATE_NAME_SET(&st, pod_name, a->pod_name);
	STATE_NAME_SET(&st, pod_uid, a->pod_uid);
	STATE_NAME_SET(&st, infra_id, a->infra_id);
	MUST(text_is_clean(st.pod_name, strlen(st.pod_name)));
	text = state_format(&st);
	MUST(text);
	MUST(text_is_clean(text, strlen(text)));
	if (state_parse(text, strlen(text), "fuzz", &back, err)) {
		fprintf(stderr, "%s\n", err);
		MUST(0);
	}
	free(text);
	name_same(&back.pod_namespace_raw, a->pod_namespace);
	name_same(&back.pod_name_raw, a->pod_name);
	name_same(&back.pod_uid_raw, a->pod_uid);
	name_same(&back.infra_id_raw, a->infra_id);
	MUST(!strcmp(back.pod_name, st.pod_name));
	MUST(!strcmp(back.netns, st.netns));
	/* a log value is one word of text */
	log_val(val, sizeof(val), a->pod_name);
	MUST(text_is_clean(val, strlen(val)) && !strchr(val, ' '));
}

static void args_input(const char *s)
{
	struct cni_err e = {};
	struct cni_args a;

	if (cni_args_parse(s, &a, &e)) {
		err_is_text(&e);
		return;
	}
	args_round_trip(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *sep = memchr(in, 0xff, size);
	size_t clen = sep ? (size_t)(sep - in) : size, alen;
	char *args;

	conf_input(in, clen);
	if (!sep)
		return 0;
	alen = strnlen(sep + 1, size - clen - 1);
	args = malloc(alen + 1);
	if (!args)
		return 0;
	memcpy(args, sep + 1, alen);
	args[alen] = 0;
	args_input(args);
	free(args);
	return 0;
}
