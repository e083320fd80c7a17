/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Listening TCP sockets and bound UDP sockets that were open before
 * podsentryd started: the kernel saw their listen() or bind() before its
 * programs were attached, so the listeners map does not know them and
 * connections they accept (datagrams they receive) would name no
 * process. They are read from /proc once at start.
 */
#ifndef PS_NODE_LISTENERS_H
#define PS_NODE_LISTENERS_H

#include <stdbool.h>

#include "node/state/proc_cache.h"

/* Add to the kernel's listeners map (fd) every TCP socket in LISTEN state
 * and every UDP socket bound to a port without a peer, in a netns that
 * pods_fd registers (every netns when all), owned by the lowest pid
 * holding it; a UDP entry also goes into udp_binds (its socket cookie ->
 * key), or is not kept. Entries the kernel wrote are kept. Returns how
 * many were added, or a negative errno when /proc cannot be read. */
int listeners_seed(struct proc_cache *procs, int listeners_fd,
		   int udp_binds_fd, int pods_fd, bool all);

#endif
