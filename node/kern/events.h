/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Ring-buffer records decoded in one place: each is checked against the
 * ABI (type, size, lengths inside it) and handed to the stage that owns
 * it; a malformed record is counted and dropped.
 */
#ifndef PS_NODE_KERN_EVENTS_H
#define PS_NODE_KERN_EVENTS_H

#include <stddef.h>

#include "podsentry.h"

struct event_handlers {
	void (*exec)(void *arg, const struct ps_exec_event *e);
	void (*exit)(void *arg, const struct ps_exit_event *e);
	/* PS_EV_NET_USE, in the exit event's layout */
	void (*net_use)(void *arg, const struct ps_exit_event *e);
	void (*flow)(void *arg, const struct ps_flow_event *e);
	/* connect, accept, listen, inherit; -EINVAL when malformed */
	int (*sock)(void *arg, const struct ps_sock_event *e, size_t len);
	void *arg;
};

struct events {
	struct event_handlers h;
	unsigned long long events, malformed;
};

/* The ring buffer's callback (ctx: struct events). Always 0: one bad
 * record does not stop the others. */
int events_on_record(void *ctx, void *data, size_t len);

#endif
