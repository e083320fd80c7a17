/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading a task's identity, arguments, working directory and the
 * paths of its files. */
#ifndef PS_BPF_TASK_H
#define PS_BPF_TASK_H

#include "podsentry.h"

static __always_inline __u32 task_netns_ino(struct task_struct *t)
{
	return BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
}

/* The same for a BTF task pointer (bpf_get_current_task_btf, tp_btf
 * arguments): direct loads instead of probe-read calls. */
static __always_inline __u32 task_btf_netns_ino(struct task_struct *t)
{
	return t->nsproxy->net_ns->ns.inum;
}

/* Copy the argument vector (NUL-separated, as in /proc/pid/cmdline) from
 * the new image's stack. Returns the bytes kept. */
static __always_inline __u16 task_read_args(struct task_struct *t, char *buf,
					    __u32 *flags)
{
	unsigned long start = BPF_CORE_READ(t, mm, arg_start);
	unsigned long end = BPF_CORE_READ(t, mm, arg_end);
	unsigned long len = end - start;

	if (end <= start)
		return 0;
	if (len > PS_ARGS_MAX - 1) {
		len = PS_ARGS_MAX - 1;
		*flags |= PS_EXEC_ARGS_TRUNC;
	}
	len &= PS_ARGS_MAX - 1;
	if (bpf_probe_read_user(buf, len, (void *)start)) {
		drop_count(PS_DROP_READ_FAIL);
		return 0;
	}
	return len;
}

#define PS_CWD_NAME_MAX 64

struct cwd_walk {
	struct dentry *d;
	struct vfsmount *vmnt;
	struct mount *mnt;
	struct dentry *root_d;
	struct vfsmount *root_mnt;
	char *buf;
	__u32 off;
	__u32 done;
	__u32 *flags;
	__u32 trunc; /* the flag that says the path was cut */
};

/* One step up a path: a mount crossing or one component. bpf_loop keeps
 * the verifier's work to one pass over this body. */
static long cwd_step(__u32 i, void *ctx)
{
	struct cwd_walk *w = ctx;
	/* locals: BPF_CORE_READ must not relocate accesses to cwd_walk */
	struct dentry *d = w->d, *parent, *mnt_root;
	struct vfsmount *vmnt = w->vmnt;
	struct mount *mnt = w->mnt;
	const unsigned char *name;
	__u32 off = w->off;
	long n;

	if (d == w->root_d && vmnt == w->root_mnt)
		goto done;
	mnt_root = BPF_CORE_READ(vmnt, mnt_root);
	if (d == mnt_root) {
		struct mount *pm = BPF_CORE_READ(mnt, mnt_parent);

		if (pm == mnt)
			goto done; /* the namespace's root */
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = pm;
		w->vmnt = &pm->mnt;
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (parent == d)
		goto done;
	if (off > PS_CWD_MAX - PS_CWD_NAME_MAX) {
		*w->flags |= w->trunc;
		goto done;
	}
	name = BPF_CORE_READ(d, d_name.name);
	n = bpf_probe_read_kernel_str(&w->buf[off], PS_CWD_NAME_MAX, name);
	if (n <= 0)
		goto done;
	if (n == PS_CWD_NAME_MAX)
		*w->flags |= w->trunc;
	w->off = off + n;
	w->d = parent;
	return 0;
done:
	w->done = 1;
	return 1;
}

/* Walk the path of dentry `d` on mount `vmnt` from the leaf up to the
 * task's root, crossing mounts, and store the components leaf first,
 * each NUL-terminated; `trunc` is set in *flags when the path is deeper
 * or longer than kept. User space joins them in reverse. Returns the
 * bytes used. */
static __always_inline __u16 task_read_path(struct task_struct *t,
					    struct dentry *d,
					    struct vfsmount *vmnt, char *buf,
					    __u32 *flags, __u32 trunc)
{
	struct fs_struct *fs = BPF_CORE_READ(t, fs);
	struct cwd_walk w = {
		.d = d,
		.vmnt = vmnt,
		.root_d = BPF_CORE_READ(fs, root.dentry),
		.root_mnt = BPF_CORE_READ(fs, root.mnt),
		.buf = buf,
		.flags = flags,
		.trunc = trunc,
	};

	if (!d || !vmnt)
		return 0;
	w.mnt = container_of(vmnt, struct mount, mnt);
	bpf_loop(PS_CWD_DEPTH * 2, cwd_step, &w, 0);
	if (!w.done)
		*flags |= trunc;
	return w.off;
}

/* The task's working directory (see task_read_path). */
static __always_inline __u16 task_read_cwd(struct task_struct *t, char *buf,
					   __u32 *flags)
{
	struct fs_struct *fs = BPF_CORE_READ(t, fs);

	return task_read_path(t, BPF_CORE_READ(fs, pwd.dentry),
			      BPF_CORE_READ(fs, pwd.mnt), buf, flags,
			      PS_EXEC_CWD_TRUNC);
}

/* The path of the file `f` (see task_read_path). */
static __always_inline __u16 task_read_file_path(struct task_struct *t,
						 struct file *f, char *buf,
						 __u32 *flags)
{
	if (!f)
		return 0;
	return task_read_path(t, BPF_CORE_READ(f, f_path.dentry),
			      BPF_CORE_READ(f, f_path.mnt), buf, flags,
			      PS_EXEC_EXE_TRUNC);
}

#endif
