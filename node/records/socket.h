/* SPDX-License-Identifier: GPL-2.0-only */
/* The connect, accept, listen and inherit records (opt-in, --records). */
#ifndef PS_NODE_RECORDS_SOCKET_H
#define PS_NODE_RECORDS_SOCKET_H

#include "podsentry.h"
#include "node/records/records.h"

/* The record of socket event e into w; p is the process it is about
 * (the holder for INHERIT), parent its parent, opener the exec that
 * opened the socket (INHERIT). Returns the netns of the pod at the
 * socket's remote end (0: none), which detection uses. */
__u32 socket_record_w(struct record_ctx *rc, struct jw *w,
		      const struct ps_sock_event *e, struct proc *p,
		      struct proc *parent, struct proc *opener);

#endif
