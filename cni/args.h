/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CNI_ARGS: "K=V;K=V" as kubelet's runtime (containerd, CRI-O) or podman
 * pass it. Known keys name the pod; unknown keys are tolerated.
 */
#ifndef PS_CNI_ARGS_H
#define PS_CNI_ARGS_H

#include <stdbool.h>

#include "cni/err.h"

struct cni_args {
	char pod_namespace[64]; /* K8S_POD_NAMESPACE: a DNS label */
	char pod_name[254];	/* K8S_POD_NAME: a DNS subdomain */
	char infra_id[256];	/* K8S_POD_INFRA_CONTAINER_ID */
	char pod_uid[64];	/* K8S_POD_UID */
	bool ignore_unknown;	/* IgnoreUnknown */
	int unknown;		/* how many keys were not ours */
};

/* Parse s (NULL or "" is no arguments). Errors are code 4 naming the
 * offending pair. */
int cni_args_parse(const char *s, struct cni_args *a, struct cni_err *e);

#endif
