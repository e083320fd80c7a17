/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a task's descriptors are, from its file table: the kind of file
 * (inode mode, device numbers of terminals), and for a socket its
 * family, type, protocol, state and both ends. Read at exec, where the
 * kernel knows for certain what a new shell's stdin and stdout are.
 */
#ifndef PS_BPF_FDS_H
#define PS_BPF_FDS_H

#include "podsentry.h"

#define PS_S_IFMT 00170000
#define PS_S_IFSOCK 0140000
#define PS_S_IFREG 0100000
#define PS_S_IFDIR 0040000
#define PS_S_IFCHR 0020000
#define PS_S_IFIFO 0010000

#define PS_AF_UNIX 1
#define PS_FD_AF_INET 2
#define PS_FD_AF_INET6 10
#define PS_FD_TCP 6
#define PS_FD_UDP 17
#define PS_TCP_STATE_ESTABLISHED 1
#define PS_TCP_STATE_CLOSE_WAIT 8

/* Device numbers (include/uapi/linux/major.h): 4 ttys, 5:0 /dev/tty,
 * 5:1 the console, 5:2 /dev/ptmx, 136-143 /dev/pts/N. */
#define PS_MINORBITS 20

/* The file table of t, read once for several descriptors. */
struct ps_fdtab {
	struct file **fd;
	unsigned int max;
};

static __always_inline void fdtab_of(struct task_struct *t, struct ps_fdtab *ft)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);

	ft->fd = BPF_CORE_READ(fdt, fd);
	ft->max = BPF_CORE_READ(fdt, max_fds);
}

static __always_inline struct file *fdtab_get(const struct ps_fdtab *ft,
					      unsigned int fd)
{
	struct file *f = NULL;

	if (!ft->fd || fd >= ft->max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &ft->fd[fd]);
	return f;
}

static __always_inline bool fd_v4_mapped(const __be32 *w)
{
	return !w[0] && !w[1] && w[2] == bpf_htonl(0xffff);
}

/* Family, type, protocol, state and ends of the socket behind f. */
static __always_inline void fd_socket(struct file *f, struct ps_fd_fact *x)
{
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	int i;

	if (!sk)
		return;
	x->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	x->type = BPF_CORE_READ(sk, sk_type);
	x->proto = BPF_CORE_READ(sk, sk_protocol);
	x->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (x->family != PS_FD_AF_INET && x->family != PS_FD_AF_INET6)
		return;
	x->lport = bpf_htons(BPF_CORE_READ(sk, __sk_common.skc_num));
	x->rport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	if (x->family == PS_FD_AF_INET) {
		x->raddr.w[0] = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		x->laddr.w[0] = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		return;
	}
	for (i = 0; i < 4; i++) {
		x->raddr.w[i] = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32[i]);
		x->laddr.w[i] = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i]);
	}
	/* an IPv6 socket carrying IPv4 (v4-mapped): an IPv4 peer */
	if (fd_v4_mapped(x->raddr.w)) {
		x->family = PS_FD_AF_INET;
		x->raddr.w[0] = x->raddr.w[3];
		x->laddr.w[0] = x->laddr.w[3];
		x->raddr.w[1] = x->raddr.w[2] = x->raddr.w[3] = 0;
		x->laddr.w[1] = x->laddr.w[2] = x->laddr.w[3] = 0;
	}
}

/* The fact of descriptor `fd` (its file f, NULL when not open) into x. */
static __always_inline void fd_fact(struct file *f, unsigned int fd,
				    struct ps_fd_fact *x)
{
	struct inode *ino;
	unsigned int mode, major, minor;
	__u32 rdev;

	__builtin_memset(x, 0, sizeof(*x));
	x->fd = fd;
	if (!f) {
		x->kind = PS_FD_NONE;
		return;
	}
	ino = BPF_CORE_READ(f, f_inode);
	mode = BPF_CORE_READ(ino, i_mode);
	x->ino = BPF_CORE_READ(ino, i_ino);
	switch (mode & PS_S_IFMT) {
	case PS_S_IFREG:
		x->kind = PS_FD_FILE;
		break;
	case PS_S_IFDIR:
		x->kind = PS_FD_DIR;
		break;
	case PS_S_IFIFO:
		x->kind = PS_FD_PIPE;
		break;
	case PS_S_IFSOCK:
		x->kind = PS_FD_SOCKET;
		fd_socket(f, x);
		break;
	case PS_S_IFCHR:
		rdev = BPF_CORE_READ(ino, i_rdev);
		major = rdev >> PS_MINORBITS;
		minor = rdev & ((1U << PS_MINORBITS) - 1);
		if ((major >= 136 && major <= 143) || (major == 5 && minor == 2))
			x->kind = PS_FD_PTY;
		else if (major == 4 || (major == 5 && minor <= 1))
			x->kind = PS_FD_TTY;
		else
			x->kind = PS_FD_CHAR;
		break;
	default:
		x->kind = PS_FD_OTHER;
	}
}

/* A socket of the network with a peer: a TCP connection (established,
 * or closing from the peer's side), a connected UDP socket. */
static __always_inline bool fd_net_connected(const struct ps_fd_fact *x)
{
	if (x->kind != PS_FD_SOCKET ||
	    (x->family != PS_FD_AF_INET && x->family != PS_FD_AF_INET6))
		return false;
	if (x->proto == PS_FD_TCP)
		return x->state == PS_TCP_STATE_ESTABLISHED ||
		       x->state == PS_TCP_STATE_CLOSE_WAIT;
	return x->rport != 0;
}

#endif
