// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cap-ng.h>
#include <seccomp.h>

#include "node/kern/privs.h"

/*
 * What the daemon calls once it runs. Start-up (loading programs,
 * netlink, mounts, /proc scans) is done by then and is not on the list.
 * Names this architecture does not have are skipped.
 */

/* A rule's argument test, every field set (the SCMP_An macros leave
 * datum_b to C's zeroing, which clang's -Wextra flags). */
static struct scmp_arg_cmp arg_cmp(unsigned int arg, enum scmp_compare op,
				   scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = a, .datum_b = b };

	return c;
}

static const char *const allowed[] = {
	/* files: outputs, pod logs, state files, /proc/PID/fd links */
	"read", "readv", "pread64", "preadv", "write", "writev", "pwrite64",
	"pwritev", "close", "close_range", "lseek", "open", "openat",
	"stat", "lstat", "fstat", "newfstatat", "fstatat64", "statx",
	"statfs", "fstatfs", "access", "faccessat", "faccessat2",
	"getdents", "getdents64", "readlink", "readlinkat", "fcntl",
	"fcntl64", "dup", "dup2", "dup3", "ftruncate", "fsync", "fdatasync",
	"fchmod", "flock", "rename", "renameat", "renameat2", "unlink",
	"unlinkat", "mkdir", "mkdirat", "rmdir", "sendfile",
	/* the loop: ring buffer, timers, signals */
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select",
	"pselect6", "pipe", "pipe2", "eventfd2", "signalfd4",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "rt_sigtimedwait",
	"sigaltstack", "restart_syscall", "clock_gettime", "clock_getres",
	"clock_nanosleep", "nanosleep", "gettimeofday", "time",
	/* the maps */
	"bpf",
	/* memory and threads (the metrics server's) */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex",
	"set_robust_list", "get_robust_list", "rseq", "set_tid_address",
	"sched_yield", "sched_getaffinity", "getrlimit", "prlimit64",
	"getrandom", "uname", "sysinfo",
	/* who am I, and how it ends (abort() raises a signal) */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "tgkill", "tkill", "exit", "exit_group",
	/* sockets of the local API and the metrics endpoint */
	"socketpair", "bind", "listen", "accept", "accept4", "getsockname",
	"getpeername", "getsockopt", "setsockopt", "sendto", "recvfrom",
	"sendmsg", "recvmsg", "shutdown",
};

static int rule(scmp_filter_ctx ctx, unsigned int action, const char *name,
		unsigned int n, const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name), err;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* unknown here */
	err = seccomp_rule_add_array(ctx, action, nr, n, args);
	if (err && nr < 0)
		return 0; /* not a call of this architecture */
	if (err)
		fprintf(stderr, "podsentryd: seccomp rule for %s: %s\n", name,
			strerror(-err));
	return err;
}

/* A sanitizer build's LeakSanitizer stops the process at exit with a
 * thread that ptraces the others: its calls are allowed there, and only
 * there (a property of the runtime linked in, so known when building). */
#if defined(__SANITIZE_ADDRESS__)
#define PRIVS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PRIVS_LSAN 1
#endif
#endif

static int rules_lsan(scmp_filter_ctx ctx)
{
#ifdef PRIVS_LSAN
	static const int prctls[] = { PR_SET_PTRACER, PR_SET_PDEATHSIG,
				      PR_GET_DUMPABLE, PR_SET_DUMPABLE };
	static const char *const calls[] = { "ptrace", "wait4", "waitid" };
	struct scmp_arg_cmp a;
	size_t i;
	int err = 0;

	for (i = 0; !err && i < sizeof(calls) / sizeof(calls[0]); i++)
		err = rule(ctx, SCMP_ACT_ALLOW, calls[i], 0, NULL);
	for (i = 0; !err && i < sizeof(prctls) / sizeof(prctls[0]); i++) {
		a = arg_cmp(0, SCMP_CMP_EQ, prctls[i], 0);
		err = rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &a);
	}
	return err;
#else
	return 0;
#endif
}

/* Calls allowed only with some arguments. */
static int rules_narrow(scmp_filter_ctx ctx)
{
	static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };
	static const unsigned long ioctls[] = { TCGETS, TIOCGWINSZ, FIONREAD,
						FIONBIO };
	static const int prctls[] = { PR_SET_NAME, PR_GET_NAME };
	const scmp_datum_t ns = CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID |
				CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
				CLONE_NEWCGROUP;
	struct scmp_arg_cmp a;
	size_t i;
	int err = 0;

	for (i = 0; !err && i < sizeof(families) / sizeof(families[0]); i++) {
		a = arg_cmp(0, SCMP_CMP_EQ, families[i], 0);
		err = rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &a);
	}
	for (i = 0; !err && i < sizeof(ioctls) / sizeof(ioctls[0]); i++) {
		a = arg_cmp(1, SCMP_CMP_EQ, ioctls[i], 0);
		err = rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &a);
	}
	for (i = 0; !err && i < sizeof(prctls) / sizeof(prctls[0]); i++) {
		a = arg_cmp(0, SCMP_CMP_EQ, prctls[i], 0);
		err = rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &a);
	}
	/* threads, not namespaces: without capabilities a new user
	 * namespace would hand them all back inside it */
	a = arg_cmp(0, SCMP_CMP_MASKED_EQ, ns, 0);
	if (!err)
		err = rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &a);
	/* clone3's flags are in memory, out of a filter's reach: ENOSYS
	 * makes glibc fall back to clone */
	if (!err)
		err = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	return err;
}

static int seccomp_install(enum privs_seccomp mode)
{
	scmp_filter_ctx ctx;
	size_t i;
	int err = 0;

	ctx = seccomp_init(mode == PRIVS_SECCOMP_LOG ? SCMP_ACT_LOG
						     : SCMP_ACT_ERRNO(EPERM));
	if (!ctx) {
		fprintf(stderr, "podsentryd: seccomp: cannot make a filter\n");
		return -ENOMEM;
	}
	/* refused calls go to the kernel's audit log (type=1326 syscall=N):
	 * a missing entry shows there and as EPERM, never as a crash */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (i = 0; !err && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		err = rule(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL);
	if (!err)
		err = rules_narrow(ctx);
	if (!err)
		err = rules_lsan(ctx);
	if (!err) {
		err = seccomp_load(ctx);
		if (err)
			fprintf(stderr, "podsentryd: seccomp: load the filter: %s\n",
				strerror(-err));
	}
	seccomp_release(ctx);
	return err;
}

/*
 * Whether bpf() on a map descriptor the daemon holds needs CAP_BPF here:
 * kernels before 6.5 refuse every bpf() command to a task without it
 * while kernel.unprivileged_bpf_disabled is set; later ones check only
 * when maps and programs are made. A child without capabilities tries.
 */
static bool bpf_needs_cap(int map_fd)
{
	int status;
	pid_t pid;

	if (map_fd < 0)
		return true;
	pid = fork();
	if (pid < 0)
		return true;
	if (!pid) {
		__u32 key;

		capng_clear(CAPNG_SELECT_ALL);
		if (capng_apply(CAPNG_SELECT_ALL))
			_exit(2);
		_exit(bpf_map_get_next_key(map_fd, NULL, &key) && errno == EPERM);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return true;
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

static int caps_drop(bool keep_bpf)
{
	capng_clear(CAPNG_SELECT_ALL);
	if (keep_bpf && capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
						       CAPNG_BOUNDING_SET,
				     CAP_BPF)) {
		fprintf(stderr, "podsentryd: capabilities: CAP_BPF unknown to libcap-ng\n");
		return -EINVAL;
	}
	if (capng_apply(CAPNG_SELECT_ALL)) {
		fprintf(stderr, "podsentryd: capabilities: cannot drop them\n");
		return -EPERM;
	}
	/* what the kernel now says, not what was asked */
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) !=
		    (keep_bpf ? CAPNG_PARTIAL : CAPNG_NONE) ||
	    capng_have_capability(CAPNG_EFFECTIVE, CAP_BPF) != keep_bpf ||
	    capng_have_capability(CAPNG_PERMITTED, CAP_SYS_ADMIN)) {
		fprintf(stderr, "podsentryd: capabilities: the kernel kept more than asked\n");
		return -EPERM;
	}
	return 0;
}

int privs_seccomp_parse(const char *s, enum privs_seccomp *mode)
{
	if (!strcmp(s, "enforce"))
		*mode = PRIVS_SECCOMP_ENFORCE;
	else if (!strcmp(s, "log"))
		*mode = PRIVS_SECCOMP_LOG;
	else if (!strcmp(s, "off"))
		*mode = PRIVS_SECCOMP_OFF;
	else
		return -EINVAL;
	return 0;
}

static const char *const mode_names[] = {
	[PRIVS_SECCOMP_ENFORCE] = "enforce",
	[PRIVS_SECCOMP_LOG] = "log",
	[PRIVS_SECCOMP_OFF] = "off",
};

int privs_drop(enum privs_seccomp mode, int map_fd)
{
	bool keep_bpf = bpf_needs_cap(map_fd);
	int err = caps_drop(keep_bpf);

	if (err)
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		err = -errno;
		fprintf(stderr, "podsentryd: no_new_privs: %s\n", strerror(errno));
		return err;
	}
	if (mode != PRIVS_SECCOMP_OFF)
		err = seccomp_install(mode);
	if (!err)
		fprintf(stderr, "podsentryd: privileges: capabilities %s, no_new_privs, seccomp %s\n",
			keep_bpf ? "CAP_BPF" : "none", mode_names[mode]);
	return err;
}
