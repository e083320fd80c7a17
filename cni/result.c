// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "cni/result.h"
#include "cni/shared/jsonparse.h"

static int result_ifaces(json_object *prev, struct prev_result *r,
			 struct cni_err *e)
{
	json_object *arr, *it, *v;
	size_t i, n;

	if (!json_object_object_get_ex(prev, "interfaces", &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return cni_fail(e, CNI_ERR_CONFIG,
				"prevResult: \"interfaces\" must be an array");
	n = json_object_array_length(arr);
	for (i = 0; i < n && i < RESULT_IFACES_MAX; i++) {
		it = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(it, json_type_object) ||
		    !json_object_object_get_ex(it, "name", &v) ||
		    !json_text(v))
			return cni_fail(e, CNI_ERR_CONFIG,
					"prevResult: interfaces[%zu] has no string \"name\"",
					i);
		snprintf(r->ifaces[i].name, sizeof(r->ifaces[i].name), "%s",
			 json_object_get_string(v));
		if (json_object_object_get_ex(it, "sandbox", &v)) {
			if (!json_text(v))
				return cni_fail(e, CNI_ERR_CONFIG,
						"prevResult: interfaces[%zu].sandbox must be a string without NUL",
						i);
			snprintf(r->ifaces[i].sandbox,
				 sizeof(r->ifaces[i].sandbox), "%s",
				 json_object_get_string(v));
		}
	}
	r->nifaces = (int)i;
	return 0;
}

/* One entry of "ips": {"address", "interface"?, "version"? (0.3/0.4)}. */
static int result_ip(json_object *it, size_t i, struct prev_result *r,
		     struct cni_err *e)
{
	struct result_ip *ip = &r->ips[r->nips];
	char q[CNI_ESC_LEN];
	json_object *v;
	const char *ver;
	int idx;

	if (!json_object_is_type(it, json_type_object) ||
	    !json_object_object_get_ex(it, "address", &v) ||
	    !json_object_is_type(v, json_type_string))
		return cni_fail(e, CNI_ERR_CONFIG,
				"prevResult: ips[%zu] has no string \"address\"", i);
	if (!json_text(v) || addr_parse(json_object_get_string(v), &ip->addr))
		return cni_fail(e, CNI_ERR_CONFIG,
				"prevResult: ips[%zu].address \"%s\" is not an IP/prefix",
				i, cni_esc(q, json_object_get_string(v),
					   json_object_get_string_len(v)));
	if (json_object_object_get_ex(it, "version", &v)) {
		ver = json_object_get_string(v);
		if (!json_object_is_type(v, json_type_string) ||
		    (strcmp(ver, "4") && strcmp(ver, "6")) ||
		    (ver[0] == '4') != (ip->addr.family == AF_INET))
			return cni_fail(e, CNI_ERR_CONFIG,
					"prevResult: ips[%zu].version does not match its address",
					i);
	}
	ip->iface = -1;
	if (json_object_object_get_ex(it, "interface", &v)) {
		idx = json_object_get_int(v);
		if (!json_object_is_type(v, json_type_int) || idx < 0 ||
		    idx >= r->nifaces)
			return cni_fail(e, CNI_ERR_CONFIG,
					"prevResult: ips[%zu].interface is not an index into interfaces",
					i);
		ip->iface = idx;
	}
	r->nips++;
	return 0;
}

int result_parse(json_object *prev, struct prev_result *r, struct cni_err *e)
{
	json_object *arr;
	size_t i, n;

	memset(r, 0, sizeof(*r));
	if (result_ifaces(prev, r, e))
		return -1;
	if (!json_object_object_get_ex(prev, "ips", &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return cni_fail(e, CNI_ERR_CONFIG,
				"prevResult: \"ips\" must be an array");
	n = json_object_array_length(arr);
	for (i = 0; i < n && r->nips < RESULT_IPS_MAX; i++)
		if (result_ip(json_object_array_get_idx(arr, i), i, r, e))
			return -1;
	return 0;
}

int result_pod_ips(const struct prev_result *r, const char *ifname,
		   struct link_addr *out, int max)
{
	const struct result_iface *ifc;
	int i, n = 0;

	for (i = 0; i < r->nips && n < max; i++) {
		if (r->ips[i].iface < 0)
			continue;
		ifc = &r->ifaces[r->ips[i].iface];
		if (ifc->sandbox[0] && !strcmp(ifc->name, ifname))
			out[n++] = r->ips[i].addr;
	}
	return n;
}

int result_has_host_iface(const struct prev_result *r, const char *host_ifname)
{
	int i, seen = -1;

	for (i = 0; i < r->nifaces; i++) {
		if (r->ifaces[i].sandbox[0])
			continue;
		if (!strcmp(r->ifaces[i].name, host_ifname))
			return 1;
		seen = 0;
	}
	return seen;
}

json_object *result_output(json_object *prev, const char *cni_version)
{
	json_object *out = NULL;

	if (json_object_deep_copy(prev, &out, NULL) || !out)
		return NULL;
	json_object_object_add(out, "cniVersion",
			       json_object_new_string(cni_version));
	return out;
}
