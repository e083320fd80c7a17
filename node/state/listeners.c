// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>

#include "podsentry.h"
#include "node/state/listeners.h"

struct lsock {
	unsigned long inode;
	__u32 netns;
	__u16 port;
	__u8 proto; /* 6: a TCP socket in LISTEN; 17: a bound, unconnected UDP socket */
	__u32 owner; /* lowest pid holding it, 0 while unknown */
	int fd;	     /* its descriptor in owner */
};

struct seed {
	struct lsock *s;
	size_t n, cap;
	__u32 *netns_read; /* namespaces whose tables were read */
	size_t nn, ncap;
};

static bool grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *q;

	if (n < *cap)
		return true;
	q = realloc(*p, (*cap ? *cap * 2 : 64) * size);
	if (!q)
		return false;
	*p = q;
	*cap = *cap ? *cap * 2 : 64;
	return true;
}

/* The receiving sockets of /proc/PID/net/FILE (the table of PID's
 * netns): TCP in LISTEN (0x0A); UDP bound to a port with no peer (state
 * 0x07, remote port 0). */
static int table_read(struct seed *s, const char *pid, const char *file,
		      __u8 proto, __u32 netns)
{
	char path[64], line[512];
	unsigned long inode;
	unsigned int port, rport, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/net/%s", pid, file);
	f = fopen(path, "re");
	if (!f)
		return 0; /* gone, or no IPv6 */
	while (fgets(line, sizeof(line), f)) {
		/* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x %x %*s %*s %*s %*u %*u %lu",
			   &port, &rport, &st, &inode) != 4 || !inode || !port ||
		    (proto == 6 ? st != 0x0A : st != 0x07 || rport))
			continue;
		if (!grow((void **)&s->s, &s->cap, s->n, sizeof(*s->s))) {
			fclose(f);
			return -ENOMEM;
		}
		s->s[s->n++] = (struct lsock){ .inode = inode, .netns = netns,
					       .port = port, .proto = proto };
	}
	fclose(f);
	return 0;
}

static bool netns_seen(struct seed *s, __u32 netns)
{
	size_t i;

	for (i = 0; i < s->nn; i++)
		if (s->netns_read[i] == netns)
			return true;
	return false;
}

/* Owner of the receiving sockets among PID's descriptors. */
static void fds_match(struct seed *s, const char *pid, __u32 netns)
{
	char path[64], link[64];
	struct dirent *de;
	unsigned long inode;
	size_t i;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char fd[64 + 256];
		ssize_t n;

		snprintf(fd, sizeof(fd), "%s/%s", path, de->d_name);
		n = readlink(fd, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (sscanf(link, "socket:[%lu]", &inode) != 1)
			continue;
		for (i = 0; i < s->n; i++)
			if (s->s[i].inode == inode && s->s[i].netns == netns &&
			    !s->s[i].owner) {
				s->s[i].owner = (__u32)atoi(pid);
				s->s[i].fd = atoi(de->d_name);
			}
	}
	closedir(d);
}

static __u32 pid_netns(const char *pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
	return stat(path, &st) ? 0 : (__u32)st.st_ino;
}

static int pid_cmp(const void *a, const void *b)
{
	long x = atol(*(char *const *)a), y = atol(*(char *const *)b);

	return x < y ? -1 : x > y;
}

/* A UDP entry is removed at cgroup/sock_release through udp_binds, by
 * the socket's cookie: read with SO_COOKIE on a copy of the owner's
 * descriptor. The entry is written while the copy is held, so that if
 * the owner let the socket go meanwhile, closing the copy releases it
 * and the kernel removes the entry. */
static bool udp_seed(const struct lsock *ls, const struct ps_listen_key *k,
		     struct ps_listener *l, int listeners_fd, int udp_binds_fd)
{
	socklen_t len = sizeof(l->cookie);
	int pfd, sfd;
	bool added = false;

	pfd = syscall(SYS_pidfd_open, ls->owner, 0);
	if (pfd < 0)
		return false;
	sfd = syscall(SYS_pidfd_getfd, pfd, ls->fd, 0);
	close(pfd);
	if (sfd < 0)
		return false;
	if (!getsockopt(sfd, SOL_SOCKET, SO_COOKIE, &l->cookie, &len) && l->cookie &&
	    !bpf_map_update_elem(listeners_fd, k, l, BPF_NOEXIST)) {
		if (!bpf_map_update_elem(udp_binds_fd, &l->cookie, k, BPF_ANY))
			added = true;
		else /* could never be removed: not kept */
			bpf_map_delete_elem(listeners_fd, k);
	}
	close(sfd);
	return added;
}

int listeners_seed(struct proc_cache *procs, int listeners_fd,
		   int udp_binds_fd, int pods_fd, bool all)
{
	struct seed s = {};
	struct dirent *de;
	char **pids = NULL;
	size_t npids = 0, pcap = 0, i;
	int added = 0, err = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (!grow((void **)&pids, &pcap, npids, sizeof(*pids)) ||
		    !(pids[npids] = strdup(de->d_name))) {
			err = -ENOMEM;
			break;
		}
		npids++;
	}
	closedir(d);
	/* ascending: the first holder found is the lowest pid */
	qsort(pids, npids, sizeof(*pids), pid_cmp);
	for (i = 0; !err && i < npids; i++) {
		__u32 netns = pid_netns(pids[i]);
		struct ps_pod pod;

		if (!netns || netns_seen(&s, netns))
			continue;
		if (!all && (pods_fd < 0 || bpf_map_lookup_elem(pods_fd, &netns, &pod) < 0)) {
			/* not a pod: remembered so that it is not asked again */
		} else {
			err = table_read(&s, pids[i], "tcp", 6, netns) ?:
			      table_read(&s, pids[i], "tcp6", 6, netns) ?:
			      table_read(&s, pids[i], "udp", 17, netns) ?:
			      table_read(&s, pids[i], "udp6", 17, netns);
		}
		if (!err && !grow((void **)&s.netns_read, &s.ncap, s.nn, sizeof(__u32)))
			err = -ENOMEM;
		if (!err)
			s.netns_read[s.nn++] = netns;
	}
	for (i = 0; !err && s.n && i < npids; i++) {
		__u32 netns = pid_netns(pids[i]);
		size_t j;

		for (j = 0; j < s.n && s.s[j].netns != netns; j++)
			;
		if (j < s.n)
			fds_match(&s, pids[i], netns);
	}
	for (i = 0; !err && i < s.n; i++) {
		struct ps_listen_key k = { .netns_ino = s.s[i].netns,
					   .proto = s.s[i].proto,
					   .port = htons(s.s[i].port) };
		struct ps_listener l = { .tgid = s.s[i].owner };
		struct proc *p;

		if (!l.tgid || !(p = proc_cache_by_pid(procs, l.tgid)))
			continue;
		l.exec = p->id;
		if (k.proto == 17 ? udp_seed(&s.s[i], &k, &l, listeners_fd, udp_binds_fd) :
		    !bpf_map_update_elem(listeners_fd, &k, &l, BPF_NOEXIST))
			added++;
	}
	for (i = 0; i < npids; i++)
		free(pids[i]);
	free(pids);
	free(s.s);
	free(s.netns_read);
	return err ? err : added;
}
