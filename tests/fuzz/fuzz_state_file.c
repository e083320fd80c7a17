// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: a state file of any content, as podsentry-cni and
 * podsentryd read the state folder (state_parse, what state_load does
 * after reading the file). What parses is written again and read back:
 * the second reading must give the same state, and the file written must
 * be text (cni/shared/text.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define SAME_STR(f) MUST(!strcmp(a->f, b->f))
#define SAME_RAW(f)                                                            \
	MUST(a->f.len == b->f.len && !memcmp(a->f.bytes, b->f.bytes, a->f.len) && \
	     a->f.not_text == b->f.not_text)

static void same_state(const struct pod_state *a, const struct pod_state *b)
{
	SAME_STR(network);
	SAME_STR(container_id);
	SAME_STR(ifname);
	SAME_STR(pod_namespace);
	SAME_STR(pod_name);
	SAME_STR(pod_uid);
	SAME_STR(infra_id);
	SAME_RAW(pod_namespace_raw);
	SAME_RAW(pod_name_raw);
	SAME_RAW(pod_uid_raw);
	SAME_RAW(infra_id_raw);
	SAME_STR(netns);
	SAME_STR(host_ifname);
	SAME_STR(pending_reason);
	SAME_STR(bpffs);
	MUST(a->netns_ino == b->netns_ino && a->host_ifindex == b->host_ifindex);
	MUST(a->nips == b->nips && a->nips_held == b->nips_held);
	MUST(!memcmp(a->ips, b->ips, a->nips * sizeof(a->ips[0])));
	MUST(a->slot == b->slot && a->flags == b->flags &&
	     a->attached == b->attached && a->xdp == b->xdp &&
	     a->pending == b->pending && a->created == b->created);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pod_state st, back;
	char err[STATE_ERR_LEN];
	char *text;

	err[0] = 0;
	if (state_parse((const char *)data, size, "fuzz.json", &st, err)) {
		MUST(err[0]);
		return 0;
	}
	text = state_format(&st);
	MUST(text);
	MUST(text_is_clean(text, strlen(text)));
	if (state_parse(text, strlen(text), "again.json", &back, err)) {
		fprintf(stderr, "%s\n%s\n", text, err);
		MUST(0);
	}
	free(text);
	same_state(&st, &back);
	return 0;
}
