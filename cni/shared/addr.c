// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni/shared/addr.h"

int addr_parse(const char *s, struct link_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long plen;

	memset(a, 0, sizeof(*a));
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (inet_pton(AF_INET, buf, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->addr) == 1)
		a->family = AF_INET6;
	else
		return -1;
	a->prefixlen = a->family == AF_INET ? 32 : 128;
	if (!slash)
		return 0;
	plen = strtol(slash + 1, &end, 10);
	if (!slash[1] || *end || plen < 0 || plen > a->prefixlen)
		return -1;
	a->prefixlen = (__u8)plen;
	return 0;
}

void addr_format(const struct link_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family, a->addr, ip, sizeof(ip));
	snprintf(buf, len, "%s/%u", ip, a->prefixlen);
}

bool addr_same(const struct link_addr *a, const struct link_addr *b)
{
	return a->family == b->family &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}
