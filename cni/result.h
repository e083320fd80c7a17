/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * prevResult: what the main plugin reported (interfaces and IPs in the
 * 0.3.x/0.4.0 or 1.x shape), and the result a chained plugin prints.
 */
#ifndef PS_CNI_RESULT_H
#define PS_CNI_RESULT_H

#include <limits.h>
#include <net/if.h>
#include <json-c/json.h>

#include "cni/err.h"
#include "cni/shared/addr.h"
#include "netlink/link.h"

#define RESULT_IFACES_MAX 16
#define RESULT_IPS_MAX 16

struct result_iface {
	char name[IFNAMSIZ];
	char sandbox[PATH_MAX]; /* "" for host-side interfaces */
};

struct result_ip {
	struct link_addr addr;
	int iface; /* index into ifaces, or -1 */
};

struct prev_result {
	struct result_iface ifaces[RESULT_IFACES_MAX];
	int nifaces;
	struct result_ip ips[RESULT_IPS_MAX];
	int nips;
};

/* Parse prevResult. Errors are code 7 naming the element. */
int result_parse(json_object *prev, struct prev_result *r, struct cni_err *e);
/* The addresses on the sandbox interface ifname; returns how many. */
int result_pod_ips(const struct prev_result *r, const char *ifname,
		   struct link_addr *out, int max);
/* The host-side interfaces prevResult lists (no sandbox): -1 when it
 * lists none, 1 when one is named host_ifname, 0 otherwise. */
int result_has_host_iface(const struct prev_result *r, const char *host_ifname);
/* A copy of prevResult carrying cni_version: what ADD prints. */
json_object *result_output(json_object *prev, const char *cni_version);


#endif
