// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/pods.h"

/* Minimal table: until podsentry-cni writes state files, pods are known
 * only by their netns inode in the kernel's pods map. */
struct pods {
	char *state_dir;
	char *bpffs;
};

struct pods *pods_open(const char *state_dir, const char *bpffs, int *err)
{
	struct pods *p = calloc(1, sizeof(*p));

	if (!p || !(p->state_dir = strdup(state_dir)) ||
	    !(p->bpffs = strdup(bpffs))) {
		pods_close(p);
		*err = -ENOMEM;
		return NULL;
	}
	return p;
}

int pods_reconcile(struct pods *p)
{
	return 0;
}

const struct pod_info *pods_by_netns(struct pods *p, __u32 netns_ino)
{
	return NULL;
}

void pods_close(struct pods *p)
{
	if (!p)
		return;
	free(p->state_dir);
	free(p->bpffs);
	free(p);
}
