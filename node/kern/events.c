// SPDX-License-Identifier: GPL-2.0-only
#include <stdbool.h>

#include "node/kern/events.h"

static bool exec_ok(const struct ps_exec_event *e, size_t len)
{
	return len >= PS_EXEC_EVENT_MIN && e->args_len < PS_ARGS_MAX &&
	       e->cwd_len < PS_CWD_MAX && e->exe_len < PS_CWD_MAX &&
	       len >= PS_EXEC_EVENT_LEN(e);
}

int events_on_record(void *ctx, void *data, size_t len)
{
	struct events *ev = ctx;
	const struct ps_event_hdr *h = data;
	const struct event_handlers *f = &ev->h;

	ev->events++;
	if (len < sizeof(*h))
		goto bad;
	switch (h->type) {
	case PS_EV_EXEC:
		if (!exec_ok(data, len))
			goto bad;
		f->exec(f->arg, data);
		return 0;
	case PS_EV_EXIT:
		if (len < sizeof(struct ps_exit_event))
			goto bad;
		f->exit(f->arg, data);
		return 0;
	case PS_EV_NET_USE:
		if (len < sizeof(struct ps_exit_event))
			goto bad;
		f->net_use(f->arg, data);
		return 0;
	case PS_EV_FLOW_END:
	case PS_EV_FLOW_UPDATE:
		if (len < sizeof(struct ps_flow_event))
			goto bad;
		f->flow(f->arg, data);
		return 0;
	case PS_EV_CONNECT:
	case PS_EV_ACCEPT:
	case PS_EV_LISTEN:
	case PS_EV_INHERIT:
		if (len < sizeof(struct ps_sock_event) || f->sock(f->arg, data, len))
			goto bad;
		return 0;
	}
bad:
	ev->malformed++;
	return 0;
}
