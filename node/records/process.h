/* SPDX-License-Identifier: GPL-2.0-only */
/* The writers of the process_exec and process_exit records. */
#ifndef PS_NODE_RECORDS_PROCESS_H
#define PS_NODE_RECORDS_PROCESS_H

#include "node/records/records.h"

/* A process_exec record of p into w (reset first); parent may be NULL. */
void process_exec_w(struct record_ctx *rc, struct jw *w, struct proc *p,
		    struct proc *parent, __u64 ktime);
/* A process_exit record: exit_code is the kernel's (status << 8 | sig). */
void process_exit_w(struct record_ctx *rc, struct jw *w, struct proc *p,
		    struct proc *parent, __u32 exit_code, __u64 ktime);

#endif
