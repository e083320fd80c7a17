// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process lifecycle: exec, fork and exit from scheduler tracepoints.
 * Every exec gets a fresh exec id; forks inherit the exec they run; exits
 * of reported execs are reported. Only processes in a registered pod's
 * netns are reported unless the daemon chose scope "all".
 *
 * At exec the kernel's own facts about the new image's stdin, stdout and
 * stderr go with the event (the file table, not /proc read later). A new
 * image whose stdin and stdout are a connected network socket, or whose
 * stdin is a pty to a parent holding one, marks its tree in the kernel
 * at once (marks: inherited at fork), before the daemon has read the
 * event; and a socket on its stdio that another exec of the process
 * opened (nc -e /bin/sh) is an inherit event.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include <bpf/bpf_endian.h>

#include "podsentry.h"
#include "lib/maps.h"
#include "lib/scope.h"
#include "lib/task.h"
#include "lib/fds.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ps_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid);
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	struct ps_proc *pp, c = {};
	struct ps_mark *m;

	if ((__u32)BPF_CORE_READ(child, pid) != tgid)
		return 0; /* a thread: same process */
	/* a marked tree stays marked, however fast it forks */
	m = bpf_map_lookup_elem(&marks, &ptgid);
	if (m && bpf_map_update_elem(&marks, &tgid, m, BPF_ANY))
		drop_count(PS_DROP_MARKS_FULL);
	pp = bpf_map_lookup_elem(&procs, &ptgid);
	if (pp) {
		c.exec = pp->exec;
		c.parent = pp->parent;
		c.exe = pp->exe;
		/* a fork of an image marked as a socket user: the image
		 * (its holder, or the daemon) knows it already */
		c.flags = pp->flags & (PS_PROC_REPORTED | PS_PROC_NET);
	} else {
		c.exec.pid = ptgid; /* exec id unknown: user space resolves */
	}
	c.flags |= PS_PROC_CLONE;
	c.netns_ino = task_netns_ino(child);
	if (c.netns_ino != task_netns_ino(parent))
		c.flags |= PS_PROC_NEWNET;
	if (bpf_map_update_elem(&procs, &tgid, &c, BPF_ANY))
		drop_count(PS_DROP_PROCS_FULL);
	return 0;
}

/* An exec record is built in full here before its used part is copied
 * to the ring buffer (a reservation has a fixed size). */
struct exec_scratch {
	struct ps_exec_event e;
	char cwd[PS_CWD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

/* The parent's descriptors, looked through for a connected network
 * socket (bpf_loop: one verified pass over the body). */
struct parent_scan {
	struct ps_fdtab ft;
	struct ps_fd_fact *out;
	bool found;
};

static long parent_fd_step(__u32 i, void *ctx)
{
	struct parent_scan *ps = ctx;
	struct file *f = fdtab_get(&ps->ft, i);

	if (!f)
		return i >= ps->ft.max ? 1 : 0;
	fd_fact(f, i, ps->out);
	if (fd_net_connected(ps->out)) {
		ps->found = true;
		return 1;
	}
	return 0;
}

static __always_inline void inherit_emit(const struct ps_fd_fact *x,
					 const struct ps_exec_id *opener,
					 const struct ps_exec_id *holder,
					 __u32 tgid, __u32 netns)
{
	struct ps_sock_event *ev;

	ev = events_reserve(sizeof(*ev), PS_EV_INHERIT, bpf_ktime_get_boot_ns(),
			    PS_DROP_RB_SOCK);
	if (!ev)
		return;
	__builtin_memset((char *)ev + sizeof(ev->hdr), 0,
			 sizeof(*ev) - sizeof(ev->hdr));
	ev->key.netns_ino = netns;
	ev->key.family = x->family;
	ev->key.proto = x->proto;
	ev->key.local_port = x->lport;
	ev->key.remote_port = x->rport;
	ev->key.local_addr = x->laddr;
	ev->key.remote_addr = x->raddr;
	ev->tgid = tgid;
	ev->exec = *opener;
	ev->holder = *holder;
	ev->flags = PS_SOCK_INHERITED;
	events_submit(ev, sizeof(*ev));
}

/*
 * A TCP socket on the new image's stdio that another exec of this
 * process opened (execve kept the descriptor): its flow names the opener
 * in the socket's end; tell who holds it now.
 */
static __always_inline void stdio_inherit(const struct ps_fd_fact *x,
					  const struct ps_exec_id *exec,
					  __u32 tgid, __u32 netns)
{
	struct ps_flow_key k = {};
	struct ps_flow_end *end;
	struct ps_flow *f;
	int local;

	if (x->kind != PS_FD_SOCKET || x->proto != PS_FD_TCP ||
	    (x->family != PS_FD_AF_INET && x->family != PS_FD_AF_INET6))
		return;
	local = !ps_flow_side_lower(x->laddr.w, x->lport, x->raddr.w, x->rport,
				    x->family == PS_FD_AF_INET ? 1 : 4);
	if (local) {
		k.addr[1] = x->laddr;
		k.addr[0] = x->raddr;
		k.port[1] = x->lport;
		k.port[0] = x->rport;
	} else {
		k.addr[0] = x->laddr;
		k.addr[1] = x->raddr;
		k.port[0] = x->lport;
		k.port[1] = x->rport;
	}
	k.family = x->family;
	k.proto = PS_FD_TCP;
	if (x->family == PS_FD_AF_INET) {
		struct ps_flow_key4 k4;

		ps_flow_key4_of(&k, &k4);
		f = bpf_map_lookup_elem(&flows4, &k4);
	} else {
		f = bpf_map_lookup_elem(&flows6, &k);
	}
	if (!f)
		return;
	end = local ? &f->end[1] : &f->end[0];
	if (end->tgid == tgid && end->exec.pid &&
	    (end->exec.ktime != exec->ktime || end->exec.pid != exec->pid))
		inherit_emit(x, &end->exec, exec, tgid, netns);
}

/*
 * stdin, stdout, stderr of the new image into e; the parent's connected
 * network socket when the image talks to it through a pty or pipe; the
 * mark of a tree whose shell is on the network.
 */
static __always_inline void stdio_facts(struct task_struct *task,
					struct task_struct *parent,
					struct ps_exec_event *e,
					const struct ps_exec_id *exec,
					__u32 tgid, __u32 *flags)
{
	struct parent_scan ps = { .out = &e->parent_sock };
	struct ps_fdtab ft;
	struct ps_mark m = {};
	__u8 k0;

	fdtab_of(task, &ft);
	fd_fact(fdtab_get(&ft, 0), 0, &e->stdio[0]);
	fd_fact(fdtab_get(&ft, 1), 1, &e->stdio[1]);
	fd_fact(fdtab_get(&ft, 2), 2, &e->stdio[2]);
	__builtin_memset(&e->parent_sock, 0, sizeof(e->parent_sock));
	if (fd_net_connected(&e->stdio[0]) && fd_net_connected(&e->stdio[1]))
		*flags |= PS_EXEC_STDIO_NET;
	k0 = e->stdio[0].kind;
	if (k0 == PS_FD_PTY || k0 == PS_FD_PIPE ||
	    (k0 == PS_FD_SOCKET && e->stdio[0].family == PS_AF_UNIX)) {
		fdtab_of(parent, &ps.ft);
		bpf_loop(PS_PARENT_FDS, parent_fd_step, &ps, 0);
		if (ps.found)
			*flags |= PS_EXEC_PARENT_NET;
		else
			__builtin_memset(&e->parent_sock, 0, sizeof(e->parent_sock));
	}
	/* the shell on the network, or on a pty its parent relays to it */
	if ((*flags & PS_EXEC_STDIO_NET) ||
	    ((*flags & PS_EXEC_PARENT_NET) && k0 == PS_FD_PTY)) {
		m.root = *exec;
		m.flags = PS_MARK_STDIO;
		if (bpf_map_update_elem(&marks, &tgid, &m, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&marks, &tgid))
			drop_count(PS_DROP_MARKS_FULL);
	}
	if (bpf_map_lookup_elem(&marks, &tgid))
		*flags |= PS_EXEC_MARKED;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ps_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct task_struct *rparent = BPF_CORE_READ(task, real_parent);
	struct ps_proc *old, np = {};
	struct exec_scratch *s;
	struct ps_exec_event *e;
	__u64 now = bpf_ktime_get_boot_ns(), ug;
	__u32 flags = 0, zero = 0, args_len, cwd_len, exe_len, from_netns;
	long n;

	np.exec.ktime = now;
	np.exec.pid = tgid;
	old = bpf_map_lookup_elem(&procs, &tgid);
	if (old) {
		/* fork+exec: the clone carries the forker's exec; exec
		 * without fork: the previous image on this pid */
		np.parent = old->exec;
		if ((old->flags & (PS_PROC_CLONE | PS_PROC_NET)) == PS_PROC_NET)
			flags |= PS_EXEC_REPLACED_NET;
	} else {
		np.parent.pid = BPF_CORE_READ(rparent, tgid);
	}
	if (!np.parent.ktime)
		flags |= PS_EXEC_PARENT_UNKNOWN;
	np.netns_ino = task_netns_ino(task);
	/*
	 * Where the process came from: the netns it was forked into or ran
	 * its previous image in (a setns() since, as ip netns exec, runc and
	 * kubectl exec do), or its forker's when it was cloned into a new
	 * one. Not its parent's now: a process whose parent exited was
	 * reparented, and that says nothing about where it came from.
	 */
	if (old && old->netns_ino != np.netns_ino)
		from_netns = old->netns_ino;
	else if (!old || (old->flags & PS_PROC_NEWNET))
		from_netns = task_netns_ino(rparent);
	else
		from_netns = np.netns_ino;
	{
		struct inode *ino = BPF_CORE_READ(bprm, file, f_inode);

		np.exe = ps_exe_id(BPF_CORE_READ(ino, i_ino),
				   BPF_CORE_READ(ino, i_sb, s_dev));
	}
	if (netns_watched(np.netns_ino))
		np.flags = PS_PROC_REPORTED;
	if (bpf_map_update_elem(&procs, &tgid, &np, BPF_ANY))
		drop_count(PS_DROP_PROCS_FULL);
	if (!np.flags)
		return 0;

	/* built here, then copied to the ring buffer at its used length */
	s = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!s)
		return 0;
	e = &s->e;
	e->hdr.type = PS_EV_EXEC;
	e->hdr.cpu = bpf_get_smp_processor_id();
	e->hdr.ktime = now;
	e->exec = np.exec;
	e->parent = np.parent;
	e->tgid = tgid;
	e->ppid = BPF_CORE_READ(rparent, tgid);
	ug = bpf_get_current_uid_gid();
	e->uid = (__u32)ug;
	e->gid = ug >> 32;
	e->netns_ino = np.netns_ino;
	e->parent_netns_ino = from_netns;
	if (e->parent_netns_ino != e->netns_ino)
		flags |= PS_EXEC_PARENT_OTHER_NETNS;
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	/* the kernel's copy of the path, not the syscall argument */
	n = bpf_probe_read_kernel_str(e->binary, sizeof(e->binary),
				      BPF_CORE_READ(bprm, filename));
	if (n < 0) {
		e->binary[0] = 0;
		drop_count(PS_DROP_READ_FAIL);
	} else if (n == sizeof(e->binary)) {
		flags |= PS_EXEC_BINARY_TRUNC;
	}
	stdio_facts(task, rparent, e, &np.exec, tgid, &flags);
	args_len = task_read_args(task, e->args, &flags) & (PS_ARGS_MAX - 1);
	cwd_len = task_read_cwd(task, s->cwd, &flags) & (PS_CWD_MAX - 1);
	/* the cwd right after the arguments */
	if (cwd_len && bpf_probe_read_kernel(e->args + args_len, cwd_len, s->cwd))
		cwd_len = 0;
	/* the file it runs, after the cwd (the scratch buffer is free again) */
	exe_len = task_read_file_path(task, BPF_CORE_READ(bprm, file), s->cwd,
				      &flags) & (PS_CWD_MAX - 1);
	if (exe_len && bpf_probe_read_kernel(e->args + args_len + cwd_len,
					     exe_len, s->cwd))
		exe_len = 0;
	e->args_len = args_len;
	e->cwd_len = cwd_len;
	e->exe_len = exe_len;
	e->pad2 = 0;
	e->flags = flags;
	if (events_output(e, PS_EXEC_EVENT_MIN + args_len + cwd_len + exe_len))
		drop_count(PS_DROP_RB_EXEC);
	/* after the exec event: its process is known when these arrive */
	stdio_inherit(&e->stdio[0], &np.exec, tgid, e->netns_ino);
	if (e->stdio[1].ino != e->stdio[0].ino)
		stdio_inherit(&e->stdio[1], &np.exec, tgid, e->netns_ino);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ps_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct ps_exit_event *e;
	struct ps_proc *p, pc;

	/* report once per process, when its last thread exits */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;
	pc = *p;
	bpf_map_delete_elem(&procs, &tgid);
	bpf_map_delete_elem(&marks, &tgid);
	if (pc.flags & PS_PROC_CLONE)
		return 0;
	/* an exec sent, or one older than the daemon (seeded from /proc)
	 * in a watched netns: the daemon knows it, its end is reported */
	if (!(pc.flags & PS_PROC_REPORTED) &&
	    !((pc.flags & PS_PROC_PROCFS) && netns_watched(pc.netns_ino)))
		return 0;

	e = events_reserve(sizeof(*e), PS_EV_EXIT, bpf_ktime_get_boot_ns(),
			   PS_DROP_RB_EXIT);
	if (!e)
		return 0;
	e->exec = pc.exec;
	e->tgid = tgid;
	e->netns_ino = pc.netns_ino;
	e->exit_code = BPF_CORE_READ(task, exit_code);
	e->flags = pc.flags & PS_PROC_NET ? PS_EXIT_NET : 0;
	events_submit(e, sizeof(*e));
	return 0;
}
