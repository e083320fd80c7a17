// SPDX-License-Identifier: GPL-2.0-only
/* process_exec and process_exit records (see README.md, Records). */
#include <stdio.h>
#include <string.h>

#include "node/records/process.h"

void process_exec_w(struct record_ctx *rc, struct jw *w, struct proc *p,
		    struct proc *parent, __u64 ktime)
{
	record_head_w(rc, w, "process_exec", ktime);
	record_pod_w(rc, w, "pod", p->netns_ino);
	record_process_w(rc, w, "process", p, PROC_EXEC);
	if (parent)
		record_process_w(rc, w, "parent", parent, PROC_BRIEF);
	jw_obj_end(w);
}

void process_exit_w(struct record_ctx *rc, struct jw *w, struct proc *p,
		    struct proc *parent, __u32 exit_code, __u64 ktime)
{
	__u32 sig = exit_code & 0x7f;
	const char *name = sig ? sigabbrev_np(sig) : NULL;

	record_head_w(rc, w, "process_exit", ktime);
	record_pod_w(rc, w, "pod", p->netns_ino);
	record_process_w(rc, w, "process", p, PROC_FULL);
	if (parent)
		record_process_w(rc, w, "parent", parent, PROC_BRIEF);
	jw_int(w, "exit_code", sig ? 0 : (exit_code >> 8) & 0xff);
	jw_int(w, "signal", sig);
	if (name) {
		char buf[32];

		snprintf(buf, sizeof(buf), "SIG%s", name);
		jw_str(w, "signal_name", buf);
	}
	jw_obj_end(w);
}
