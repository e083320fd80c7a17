// SPDX-License-Identifier: GPL-2.0-only
/* The daemon's process cache: lookups, exec replacing exec on one pid,
 * exit, grace period and the bound on gone processes. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/state/proc_cache.h"
#include "tests/harness.h"

static struct proc *mk(__u64 ktime, __u32 pid, __u64 pk, __u32 ppid)
{
	struct proc *p = calloc(1, sizeof(*p));

	p->id.ktime = ktime;
	p->id.pid = pid;
	p->pid = pid;
	p->parent.ktime = pk;
	p->parent.pid = ppid;
	p->binary = strdup("/bin/x");
	return p;
}

static void lookups(void)
{
	struct proc_cache *c = proc_cache_new(1000, 100, 100);
	struct ps_exec_id id = { .ktime = 10, .pid = 42 }, other = { .ktime = 11, .pid = 42 };

	proc_cache_add(c, mk(10, 42, 5, 1));
	ASSERT_TRUE(proc_cache_get(c, &id) != NULL, "get by exec id");
	ASSERT_TRUE(proc_cache_get(c, &other) == NULL, "other ktime, same pid");
	ASSERT_EQ(proc_cache_by_pid(c, 42)->id.ktime, 10, "by pid");
	ASSERT_TRUE(proc_cache_by_pid(c, 43) == NULL, "unknown pid");
	proc_cache_free(c);
}

static void exec_replaces_exec(void)
{
	struct proc_cache *c = proc_cache_new(1000, 100, 100);
	struct ps_exec_id first = { .ktime = 10, .pid = 42 },
			  second = { .ktime = 20, .pid = 42 };

	proc_cache_add(c, mk(10, 42, 5, 1));
	proc_cache_add(c, mk(20, 42, 10, 42));
	ASSERT_EQ(proc_cache_by_pid(c, 42)->id.ktime, 20, "pid names the new exec");
	ASSERT_TRUE(proc_cache_get(c, &first) != NULL, "old exec still known");
	ASSERT_EQ(proc_cache_count(c), 2, "count");
	proc_cache_reap(c, 20 + 500);
	ASSERT_TRUE(proc_cache_get(c, &first) != NULL, "kept within grace");
	proc_cache_reap(c, 20 + 1001);
	ASSERT_TRUE(proc_cache_get(c, &first) == NULL, "reaped after grace");
	ASSERT_TRUE(proc_cache_get(c, &second) != NULL, "live exec kept");
	proc_cache_free(c);
}

static void exit_and_reap(void)
{
	struct proc_cache *c = proc_cache_new(1000, 100, 100);
	struct ps_exec_id id = { .ktime = 10, .pid = 42 };
	struct proc *p;

	proc_cache_add(c, mk(10, 42, 5, 1));
	p = proc_cache_get(c, &id);
	proc_cache_exit(c, p, 50, false);
	proc_cache_exit(c, p, 60, false); /* twice: no double free */
	ASSERT_TRUE(proc_cache_by_pid(c, 42) == NULL, "exited pid unmapped");
	ASSERT_TRUE(proc_cache_get(c, &id) != NULL, "exited exec kept for grace");
	proc_cache_reap(c, 2000);
	ASSERT_TRUE(proc_cache_get(c, &id) == NULL, "reaped");
	ASSERT_EQ(proc_cache_count(c), 0, "empty");
	proc_cache_free(c);
}

static void exit_at(struct proc_cache *c, __u32 i, bool net)
{
	struct ps_exec_id id = { .ktime = i, .pid = i };

	proc_cache_add(c, mk(i, i, 0, 1));
	proc_cache_exit(c, proc_cache_get(c, &id), i, net);
}

static bool known(struct proc_cache *c, __u32 i)
{
	struct ps_exec_id id = { .ktime = i, .pid = i };

	return proc_cache_get(c, &id) != NULL;
}

/* Each kind of gone process has its bound; those that used a socket
 * (or hold one) outlast a storm of the others. */
static void gone_bound(void)
{
	struct proc_cache *c = proc_cache_new(1000000, 20, 10);
	__u32 i;

	exit_at(c, 1, true);   /* used a socket, oldest of all */
	exit_at(c, 2, false);  /* held since its exit: owns a socket */
	proc_cache_hold(c, &(struct ps_exec_id){ .ktime = 2, .pid = 2 }, 5000000);
	exit_at(c, 3, false);  /* a fork of it used a socket since */
	proc_cache_net_use(c, &(struct ps_exec_id){ .ktime = 3, .pid = 3 });
	proc_cache_net_use(c, &(struct ps_exec_id){ .ktime = 999, .pid = 3 });
	for (i = 4; i <= 100; i++)
		exit_at(c, i, false);
	proc_cache_reap(c, 200);
	ASSERT_TRUE(known(c, 1), "a socket user outlasts 97 others");
	ASSERT_TRUE(known(c, 2), "a held one too");
	ASSERT_TRUE(known(c, 3), "and one whose fork used a socket");
	ASSERT_TRUE(!known(c, 4) && !known(c, 90) && known(c, 91) && known(c, 100),
		    "the newest 10 others kept");
	ASSERT_EQ(proc_cache_count(c), 13, "13 kept");
	for (i = 101; i <= 150; i++)
		exit_at(c, i, true);
	proc_cache_reap(c, 300);
	ASSERT_TRUE(!known(c, 1) && !known(c, 130) && known(c, 131) && known(c, 150),
		    "the newest 20 socket users kept");
	ASSERT_EQ(proc_cache_count(c), 30, "at most 20 + 10 kept");
	ASSERT_TRUE(!known(c, 2) && !known(c, 3), "over the bound, held or not");
	proc_cache_free(c);
}

/* An image replaced by an exec without fork is kept as a socket user
 * when the kernel saw it use one (the new image holds those sockets). */
static void replaced_bound(void)
{
	struct proc_cache *c = proc_cache_new(1000000, 20, 5);
	struct proc *p;
	__u32 i;

	proc_cache_add(c, mk(1, 7, 0, 1));
	p = mk(2, 7, 1, 7);
	p->exec_flags = PS_EXEC_REPLACED_NET;
	proc_cache_add(c, p);
	proc_cache_add(c, mk(3, 8, 0, 1));
	proc_cache_add(c, mk(4, 8, 3, 8));
	for (i = 10; i < 20; i++)
		exit_at(c, i, false);
	proc_cache_reap(c, 100);
	ASSERT_TRUE(proc_cache_get(c, &(struct ps_exec_id){ .ktime = 1, .pid = 7 }) != NULL,
		    "the replaced socket user outlasts 10 others");
	ASSERT_TRUE(proc_cache_get(c, &(struct ps_exec_id){ .ktime = 3, .pid = 8 }) == NULL,
		    "the replaced image without a socket goes with the others");
	ASSERT_EQ(proc_cache_count(c), 2 + 1 + 5, "two live, one kept, five others");
	proc_cache_free(c);
}

static void seed_from_proc(void)
{
	struct proc_cache *c = proc_cache_new(1000, 100, 100);
	struct proc *me, *parent;
	int n = proc_cache_seed(c, -1);

	ASSERT_TRUE(n > 1, "processes read from /proc");
	me = proc_cache_by_pid(c, getpid());
	if (!ASSERT_TRUE(me != NULL, "this process is known"))
		goto out;
	ASSERT_TRUE(me->procfs, "flagged as seeded");
	ASSERT_TRUE(me->id.ktime > 0, "start time from /proc/pid/stat");
	ASSERT_EQ(me->ppid, getppid(), "ppid");
	parent = proc_cache_by_pid(c, getppid());
	if (ASSERT_TRUE(parent != NULL, "parent known"))
		ASSERT_EQ(me->parent.ktime, parent->id.ktime, "parent exec id");
	ASSERT_TRUE(me->binary && strstr(me->binary, "test_proc_cache"), "binary");
out:
	proc_cache_free(c);
}

/* Free a process proc_from_exec made outside a cache. */
static void decoded_free(struct proc *p)
{
	free(p->binary);
	free(p->args);
	free(p->cwd);
	free(p->exe);
	free(p);
}

/* cwd components leaf first; the last may lack its NUL: only the
 * cwd_len bytes are read, whatever follows them */
static void cwd_components(void)
{
	static struct ps_exec_event e;
	struct proc *p;

	memset(&e, 'z', sizeof(e));
	e.binary[0] = 0;
	e.args_len = 2;
	memcpy(e.args, "a", 2);
	memcpy(e.args + 2, "sub\0usr", 7); /* "usr" without its NUL */
	e.cwd_len = 7;
	e.exe_len = 0;
	e.flags = 0;
	p = proc_from_exec(&e);
	if (!ASSERT_TRUE(p != NULL, "decoded"))
		return;
	ASSERT_STREQ(p->cwd, "/usr/sub", "the components within cwd_len");
	ASSERT_TRUE(p->exe == NULL, "no exe without its components");
	decoded_free(p);
}

/* exe: its components after the cwd's, kept when it is another path
 * than binary, and not at all when the kernel cut it */
static void exe_components(void)
{
	static struct ps_exec_event e;
	struct proc *p;

	memset(&e, 'z', sizeof(e));
	snprintf(e.binary, sizeof(e.binary), "/bin/sh");
	e.args_len = 2;
	memcpy(e.args, "a", 2);
	memcpy(e.args + 2, "tmp", 4);
	e.cwd_len = 4;
	memcpy(e.args + 6, "dash\0bin\0usr", 13); /* "usr" without its NUL */
	e.exe_len = 13;
	e.flags = 0;
	p = proc_from_exec(&e);
	if (!ASSERT_TRUE(p != NULL, "decoded"))
		return;
	ASSERT_STREQ(p->cwd, "/tmp", "cwd before exe");
	ASSERT_STREQ(p->exe, "/usr/bin/dash", "the components within exe_len");
	decoded_free(p);

	e.flags = PS_EXEC_EXE_TRUNC;
	p = proc_from_exec(&e);
	if (!ASSERT_TRUE(p != NULL, "decoded, cut"))
		return;
	ASSERT_TRUE(p->exe == NULL, "a cut exe is left out");
	decoded_free(p);

	snprintf(e.binary, sizeof(e.binary), "/usr/bin/dash");
	e.flags = 0;
	p = proc_from_exec(&e);
	if (!ASSERT_TRUE(p != NULL, "decoded, same path"))
		return;
	ASSERT_TRUE(p->exe == NULL, "an exe equal to binary is left out");
	decoded_free(p);
}

TEST_MAIN(TEST(lookups), TEST(exec_replaces_exec), TEST(exit_and_reap),
	  TEST(gone_bound), TEST(replaced_bound), TEST(seed_from_proc), TEST(cwd_components),
	  TEST(exe_components))
