/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Least privilege once everything is loaded, pinned and attached: the
 * capabilities drop to what the running daemon uses (none, or CAP_BPF
 * on kernels that want it for bpf() on the map descriptors it holds),
 * no_new_privs is set, and a seccomp allow-list of the system calls the
 * running daemon makes (its loop, the pod logs and state file, SIGHUP
 * reopening, the local API and metrics threads it will have) is
 * installed. README.md, "Running the daemon", lists what is kept and
 * why.
 */
#ifndef PS_NODE_PRIVS_H
#define PS_NODE_PRIVS_H

enum privs_seccomp {
	PRIVS_SECCOMP_ENFORCE, /* a call off the list fails with EPERM, logged */
	PRIVS_SECCOMP_LOG,     /* allowed, and logged: to find what is missing */
	PRIVS_SECCOMP_OFF,
};

/* "enforce", "log" or "off"; -EINVAL otherwise. */
int privs_seccomp_parse(const char *s, enum privs_seccomp *mode);
/* Drop capabilities, set no_new_privs, install the filter; map_fd is a
 * map of the daemon's, used to find out whether bpf() on it needs
 * CAP_BPF. 0, or a negative errno with one line on stderr saying what
 * failed. */
int privs_drop(enum privs_seccomp mode, int map_fd);

#endif
