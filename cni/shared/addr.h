/* SPDX-License-Identifier: GPL-2.0-only */
/* Pod addresses as CNI writes them: "10.1.2.3/24", "fd00::1/64". */
#ifndef PS_SHARED_ADDR_H
#define PS_SHARED_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "netlink/link.h"

/* "10.1.2.3/24" / "fd00::1/64" <-> struct link_addr; -1 when s is not one */
int addr_parse(const char *s, struct link_addr *a);
void addr_format(const struct link_addr *a, char *buf, size_t len);
/* Same family and address (the prefix length aside). */
bool addr_same(const struct link_addr *a, const struct link_addr *b);

#endif
