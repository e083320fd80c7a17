// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "node/state/proc_cache.h"

#define BUCKETS 16384 /* power of two */

/* The gone processes, oldest first: those of the network (their flows
 * may name them later) and the others, each with its bound. */
enum { GONE_NET, GONE_PLAIN, GONE_QUEUES };

struct gone_queue {
	struct proc *head, *tail;
	__u32 n, max;
};

struct proc_cache {
	struct proc *by_id[BUCKETS];
	struct proc *by_pid[BUCKETS];
	struct gone_queue gone[GONE_QUEUES];
	__u64 grace_ns;
	__u32 count;
};

static __u32 id_hash(const struct ps_exec_id *id)
{
	__u64 h = id->ktime * 0x9e3779b97f4a7c15ULL ^ id->pid;

	return (h ^ (h >> 29)) & (BUCKETS - 1);
}

static __u32 pid_hash(__u32 pid)
{
	return (pid * 2654435761U) & (BUCKETS - 1);
}

struct proc_cache *proc_cache_new(__u64 grace_ns, __u32 max_gone,
				  __u32 max_gone_plain)
{
	struct proc_cache *c = calloc(1, sizeof(*c));

	if (c) {
		c->grace_ns = grace_ns;
		c->gone[GONE_NET].max = max_gone;
		c->gone[GONE_PLAIN].max = max_gone_plain;
	}
	return c;
}

static void proc_free(struct proc *p)
{
	free(p->binary);
	free(p->exe);
	free(p->cwd);
	free(p->args);
	free(p->json);
	free(p);
}

void proc_cache_free(struct proc_cache *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < BUCKETS; i++) {
		struct proc *p = c->by_id[i], *n;

		for (; p; p = n) {
			n = p->id_next;
			proc_free(p);
		}
	}
	free(c);
}

struct proc *proc_cache_get(struct proc_cache *c, const struct ps_exec_id *id)
{
	struct proc *p = c->by_id[id_hash(id)];

	for (; p; p = p->id_next)
		if (p->id.ktime == id->ktime && p->id.pid == id->pid)
			return p;
	return NULL;
}

struct proc *proc_cache_by_pid(struct proc_cache *c, __u32 pid)
{
	struct proc *p = c->by_pid[pid_hash(pid)];

	for (; p; p = p->pid_next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void pid_unlink(struct proc_cache *c, struct proc *p)
{
	struct proc **pp = &c->by_pid[pid_hash(p->pid)];

	for (; *pp; pp = &(*pp)->pid_next) {
		if (*pp == p) {
			*pp = p->pid_next;
			p->pid_next = NULL;
			return;
		}
	}
}

static void gone_push(struct proc_cache *c, struct proc *p, __u64 ktime)
{
	struct gone_queue *q = &c->gone[p->net ? GONE_NET : GONE_PLAIN];

	free(p->json); /* made again if a late record needs it */
	p->json = NULL;
	p->gone_ktime = ktime;
	p->gone_next = NULL;
	if (q->tail)
		q->tail->gone_next = p;
	else
		q->head = p;
	q->tail = p;
	q->n++;
}

void proc_cache_add(struct proc_cache *c, struct proc *p)
{
	struct proc *old = proc_cache_by_pid(c, p->pid);
	__u32 h = id_hash(&p->id);

	if (old) {
		/* kept as the network's when the kernel saw it use a socket
		 * (the new image holds those now) */
		old->net |= (p->exec_flags & PS_EXEC_REPLACED_NET) || old->procfs;
		pid_unlink(c, old);
		gone_push(c, old, p->id.ktime);
	}
	p->id_next = c->by_id[h];
	c->by_id[h] = p;
	h = pid_hash(p->pid);
	p->pid_next = c->by_pid[h];
	c->by_pid[h] = p;
	c->count++;
}

void proc_cache_exit(struct proc_cache *c, struct proc *p, __u64 ktime, bool net)
{
	if (p->exited)
		return;
	p->exited = true;
	p->net |= net || p->procfs; /* /proc's: what it did before is unknown */
	if (proc_cache_by_pid(c, p->pid) == p) {
		pid_unlink(c, p);
		gone_push(c, p, ktime);
	}
}

static void id_unlink(struct proc_cache *c, struct proc *p)
{
	struct proc **pp = &c->by_id[id_hash(&p->id)];

	for (; *pp; pp = &(*pp)->id_next) {
		if (*pp == p) {
			*pp = p->id_next;
			return;
		}
	}
}

void proc_cache_hold(struct proc_cache *c, const struct ps_exec_id *id,
		     __u64 until)
{
	struct proc *p = proc_cache_get(c, id);

	if (p && p->hold_until < until) {
		p->hold_until = until;
		p->net = true; /* goes to that queue when it leaves the other */
	}
}

void proc_cache_net_use(struct proc_cache *c, const struct ps_exec_id *id)
{
	struct proc *p = proc_cache_get(c, id);

	if (p)
		p->net = true;
}

static struct proc *gone_pop(struct gone_queue *q)
{
	struct proc *p = q->head;

	q->head = p->gone_next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	return p;
}

void proc_cache_reap(struct proc_cache *c, __u64 now)
{
	struct gone_queue *net = &c->gone[GONE_NET], *plain = &c->gone[GONE_PLAIN];
	__u32 requeued = 0;
	struct proc *p;

	/* the others go first when there are too many; one that turned out
	 * to own sockets (held since) moves to the network's queue */
	while ((p = plain->head) &&
	       (p->gone_ktime + c->grace_ns < now || plain->n > plain->max)) {
		gone_pop(plain);
		if (p->net) {
			gone_push(c, p, p->gone_ktime);
			continue;
		}
		id_unlink(c, p);
		c->count--;
		proc_free(p);
	}
	while ((p = net->head) &&
	       (p->gone_ktime + c->grace_ns < now || net->n > net->max)) {
		gone_pop(net);
		if (p->hold_until > now && net->n < net->max &&
		    requeued++ < net->n + 1) {
			/* still held: another grace period from now */
			gone_push(c, p, now);
			continue;
		}
		id_unlink(c, p);
		c->count--;
		proc_free(p);
	}
}

__u32 proc_cache_count(const struct proc_cache *c)
{
	return c->count;
}

__u64 proc_ticks_to_ns(unsigned long long ticks)
{
	static long hz;

	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	return ticks * (1000000000ULL / hz);
}

static char *read_small(const char *path, __u32 *len)
{
	char buf[4096];
	ssize_t n;
	char *s;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, buf, n);
	s[n] = 0;
	if (len)
		*len = n;
	return s;
}

static char *read_link(const char *path)
{
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	if (n < 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

/* /proc/<pid>/stat: pid (comm) state ppid ... field 22 is starttime */
static int stat_parse(const char *stat, __u32 *ppid, unsigned long long *start)
{
	const char *p = strrchr(stat, ')');
	int i;

	if (!p || sscanf(p + 2, "%*c %u", ppid) != 1)
		return -EINVAL;
	for (i = 0; i < 20 && p; i++) /* to the space before field 22 */
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", start) != 1)
		return -EINVAL;
	return 0;
}

/* The kernel's identity of a process's executable (ps_exe_id: the
 * kernel's device numbers are major << 20 | minor). */
static __u64 exe_of_pid(__u32 pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	if (stat(path, &st))
		return 0;
	return ps_exe_id(st.st_ino, major(st.st_dev) << 20 | minor(st.st_dev));
}

static struct proc *proc_from_procfs(__u32 pid)
{
	char path[64], *st_line;
	unsigned long long start;
	struct stat st;
	struct proc *p;
	__u32 ppid;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	st_line = read_small(path, NULL);
	if (!st_line)
		return NULL;
	if (stat_parse(st_line, &ppid, &start)) {
		free(st_line);
		return NULL;
	}
	free(st_line);
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->ppid = ppid;
	p->id.pid = pid;
	p->id.ktime = proc_ticks_to_ns(start);
	p->procfs = true;
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	p->binary = read_link(path);
	snprintf(path, sizeof(path), "/proc/%u/cwd", pid);
	p->cwd = read_link(path);
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	p->args = read_small(path, &p->args_len);
	snprintf(path, sizeof(path), "/proc/%u", pid);
	if (!stat(path, &st)) {
		p->uid = st.st_uid;
		p->gid = st.st_gid;
	}
	snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
	if (!stat(path, &st))
		p->netns_ino = st.st_ino;
	return p;
}

int proc_cache_seed(struct proc_cache *c, int procs_fd)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct ps_proc kv;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		struct proc *p;

		if (*end || !pid || proc_cache_by_pid(c, pid))
			continue;
		p = proc_from_procfs(pid);
		if (!p)
			continue; /* exited meanwhile */
		/* a daemon restarted with kept pins: the kernel knows this
		 * exec already, and flows and sockets carry its exec id */
		if (procs_fd >= 0 && !bpf_map_lookup_elem(procs_fd, &(__u32){ pid }, &kv) &&
		    !(kv.flags & PS_PROC_CLONE) && kv.exec.pid == pid && kv.exec.ktime) {
			p->id = kv.exec;
			p->parent = kv.parent;
		}
		proc_cache_add(c, p);
		n++;
	}
	closedir(d);

	/* parents: now that every pid is known */
	for (int i = 0; i < BUCKETS; i++) {
		struct proc *p;

		for (p = c->by_pid[i]; p; p = p->pid_next) {
			struct proc *pp;
			struct ps_proc v = {};
			__u32 key = p->pid;

			if (!p->procfs || p->parent.ktime)
				continue; /* parent known from the kernel */
			pp = proc_cache_by_pid(c, p->ppid);
			p->parent.pid = p->ppid;
			if (pp)
				p->parent.ktime = pp->id.ktime;
			if (procs_fd < 0)
				continue;
			v.exec = p->id;
			v.parent = p->parent;
			v.netns_ino = p->netns_ino;
			v.flags = PS_PROC_PROCFS;
			v.exe = exe_of_pid(p->pid);
			bpf_map_update_elem(procs_fd, &key, &v, BPF_NOEXIST);
		}
	}
	return n;
}

/* A path (cwd, exe) from its components as the kernel walked them, leaf
 * first. */
static char *cwd_from_components(const char *buf, __u32 len)
{
	const char *comp[PS_CWD_DEPTH + 1];
	size_t clen[PS_CWD_DEPTH + 1];
	size_t total = 2;
	__u32 i = 0, n = 0;
	char *s, *p;

	/* the last component may lack its NUL (a record cut, or not from
	 * the kernel): each is copied by its length within len */
	while (i < len && n < PS_CWD_DEPTH + 1) {
		size_t l = strnlen(buf + i, len - i);

		comp[n] = buf + i;
		clen[n++] = l;
		total += l + 1;
		i += l + 1;
	}
	s = p = malloc(total);
	if (!s)
		return NULL;
	if (!n)
		*p++ = '/';
	while (n--) {
		*p++ = '/';
		memcpy(p, comp[n], clen[n]);
		p += clen[n];
	}
	*p = 0;
	return s;
}

struct proc *proc_from_exec(const struct ps_exec_event *e)
{
	struct proc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->id = e->exec;
	p->parent = e->parent;
	p->pid = e->tgid;
	p->ppid = e->ppid;
	p->uid = e->uid;
	p->gid = e->gid;
	p->netns_ino = e->netns_ino;
	if (e->flags & PS_EXEC_PARENT_OTHER_NETNS)
		p->parent_netns = e->parent_netns_ino;
	p->cgroup_id = e->cgroup_id;
	p->exec_flags = e->flags;
	memcpy(p->stdio, e->stdio, sizeof(p->stdio));
	p->parent_sock = e->parent_sock;
	p->binary = strndup(e->binary, sizeof(e->binary));
	p->args_len = e->args_len; /* < PS_ARGS_MAX: node/kern/events.c */
	p->args = malloc(p->args_len + 1);
	if (p->args) {
		memcpy(p->args, e->args, p->args_len);
		p->args[p->args_len] = 0;
	}
	p->cwd = cwd_from_components(e->args + p->args_len, e->cwd_len);
	if (!p->binary || !p->args || !p->cwd) {
		proc_free(p);
		return NULL;
	}
	/* a path cut at its top would name another file: none then */
	if (e->exe_len && !(e->flags & PS_EXEC_EXE_TRUNC)) {
		p->exe = cwd_from_components(e->args + p->args_len + e->cwd_len,
					     e->exe_len);
		if (p->exe && !strcmp(p->exe, p->binary)) {
			free(p->exe);
			p->exe = NULL;
		}
	}
	return p;
}
