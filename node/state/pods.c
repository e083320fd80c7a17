// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's pod table. podsentry-cni writes one state file per pod
 * attachment; the daemon reads them all at start, and again whenever a
 * lookup misses and the state folder changed since the last read (its
 * mtime moves with every rename and unlink in it), so a pod added after
 * start is named from its first record on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "cni/shared/attach.h"
#include "cni/shared/pod.h"
#include "cni/shared/state.h"
#include "cni/shared/text.h"
#include "node/state/pods.h"

/* A hit re-checks the folder at most this often, so names of pods whose
 * netns inode was reused do not stay stale. */
#define PODS_RECHECK_NS (1000ULL * 1000 * 1000)
/* Inode times may tick coarsely (a jiffy): a change in the same tick as
 * the one we read would leave the mtime equal. A table read this close
 * to the folder's mtime is re-read on the next miss regardless. */
#define PODS_MTIME_SLACK_NS (50ULL * 1000 * 1000)

#define PODS_GONE 64
#define PODS_GRACE_NS (120ULL * 1000 * 1000 * 1000) /* RECORD_GRACE_NS */

struct pods {
	char *state_dir;
	char *bpffs;
	struct pod_info *tab; /* sorted by netns_ino, one per netns */
	int n;
	struct pod_info *old; /* the previous table: pointers handed out
			       * before a reload stay valid one more reload */
	/* pods whose state file went (CNI DEL), named for PODS_GRACE_NS:
	 * records of their last flows come after the DEL. A ring: a
	 * pointer handed out stays valid until PODS_GONE more pods go. */
	struct pod_info gone[PODS_GONE];
	unsigned long long gone_ns[PODS_GONE];
	unsigned int ngone;
	struct timespec mtime; /* of the state folder when tab was read */
	bool have_mtime;
	bool uncertain; /* read within PODS_MTIME_SLACK_NS of mtime */
	unsigned long long checked_ns;
};

static unsigned long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000ULL + ts->tv_nsec;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* a cache age */
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int info_cmp(const void *a, const void *b)
{
	const struct pod_info *x = a, *y = b;

	return x->netns_ino < y->netns_ino ? -1 : x->netns_ino > y->netns_ino;
}

/* The exact bytes a runtime gave (records escape and flag what is not
 * text, so it can be read back), else the text form. */
static void name_copy(char *dst, size_t size, const char *text,
		      const struct state_raw *raw)
{
	if (raw->not_text && raw->len) {
		size_t n = raw->len < size - 1 ? raw->len : size - 1;

		memcpy(dst, raw->bytes, n);
		dst[n] = 0;
		return;
	}
	/* cut at a character boundary where it is longer */
	text_display(dst, size, text, strlen(text));
}

static void info_from_state(struct pod_info *pi, const struct pod_state *st)
{
	memset(pi, 0, sizeof(*pi));
	name_copy(pi->namespace, sizeof(pi->namespace), st->pod_namespace,
		  &st->pod_namespace_raw);
	name_copy(pi->name, sizeof(pi->name), st->pod_name, &st->pod_name_raw);
	name_copy(pi->uid, sizeof(pi->uid), st->pod_uid, &st->pod_uid_raw);
	snprintf(pi->container_id, sizeof(pi->container_id), "%s",
		 st->container_id);
	snprintf(pi->host_ifname, sizeof(pi->host_ifname), "%s", st->host_ifname);
	pi->netns_ino = st->netns_ino;
	pi->slot = st->slot;
	pi->pending = st->pending;
}

static const struct pod_info *tab_find(const struct pod_info *tab, int n,
				       __u32 ino)
{
	struct pod_info key = { .netns_ino = ino };

	return n ? bsearch(&key, tab, n, sizeof(*tab), info_cmp) : NULL;
}

/* The pods of the current table that the new one (tab, n) lacks. */
static void pods_gone_note(struct pods *p, const struct pod_info *tab, int n)
{
	unsigned long long now = now_ns();
	int i;

	for (i = 0; i < p->n; i++) {
		unsigned int slot = p->ngone++ % PODS_GONE;

		if (tab_find(tab, n, p->tab[i].netns_ino)) {
			p->ngone--;
			continue;
		}
		p->gone[slot] = p->tab[i];
		p->gone_ns[slot] = now;
	}
}

/* A pod that went within the grace period, the latest for that netns. */
static const struct pod_info *pods_gone_find(const struct pods *p, __u32 ino)
{
	unsigned long long now = now_ns(), best = 0;
	const struct pod_info *pi = NULL;
	unsigned int i;

	for (i = 0; i < PODS_GONE && i < p->ngone; i++)
		if (p->gone[i].netns_ino == ino && now - p->gone_ns[i] < PODS_GRACE_NS &&
		    p->gone_ns[i] >= best) {
			best = p->gone_ns[i];
			pi = &p->gone[i];
		}
	return pi;
}

/* Read every state file into a new table. */
static int pods_load(struct pods *p)
{
	struct pod_state *all = NULL;
	struct pod_info *tab;
	char err[STATE_ERR_LEN];
	struct timespec rt;
	struct stat sb;
	int n, i, m = 0;

	if (stat(p->state_dir, &sb) == 0) {
		clock_gettime(CLOCK_REALTIME, &rt);
		p->mtime = sb.st_mtim;
		p->have_mtime = true;
		p->uncertain = ts_ns(&rt) < ts_ns(&sb.st_mtim) + PODS_MTIME_SLACK_NS;
	} else {
		p->have_mtime = false;
		p->uncertain = false;
	}
	n = state_list(p->state_dir, &all, err);
	if (n < 0) {
		fprintf(stderr, "podsentryd: %s\n", err);
		return n;
	}
	tab = calloc(n ? n : 1, sizeof(*tab));
	if (!tab) {
		free(all);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		if (all[i].netns_ino)
			info_from_state(&tab[m++], &all[i]);
	qsort(tab, m, sizeof(*tab), info_cmp);
	/* One entry per netns: a pod with two interfaces is one pod. */
	for (i = 1, n = m ? 1 : 0; i < m; i++)
		if (tab[i].netns_ino != tab[n - 1].netns_ino)
			tab[n++] = tab[i];
	free(all);
	pods_gone_note(p, tab, n);
	free(p->old);
	p->old = p->tab;
	p->tab = tab;
	p->n = n;
	p->checked_ns = now_ns();
	return 0;
}

/* Has the state folder changed since the table was read? */
static bool pods_stale(struct pods *p)
{
	struct stat sb;

	p->checked_ns = now_ns();
	if (stat(p->state_dir, &sb))
		return p->have_mtime || p->n;
	return !p->have_mtime || p->uncertain || sb.st_mtim.tv_sec != p->mtime.tv_sec ||
	       sb.st_mtim.tv_nsec != p->mtime.tv_nsec;
}

struct pods *pods_open(const char *state_dir, const char *bpffs, int *err)
{
	struct pods *p = calloc(1, sizeof(*p));

	if (!p || !(p->state_dir = strdup(state_dir)) ||
	    !(p->bpffs = strdup(bpffs))) {
		pods_close(p);
		*err = -ENOMEM;
		return NULL;
	}
	*err = pods_load(p);
	if (*err) {
		pods_close(p);
		return NULL;
	}
	return p;
}

static const struct pod_info *pods_find(const struct pods *p, __u32 ino)
{
	return tab_find(p->tab, p->n, ino);
}

const struct pod_info *pods_by_netns(struct pods *p, __u32 netns_ino)
{
	const struct pod_info *pi = pods_find(p, netns_ino);

	if (pi && now_ns() - p->checked_ns < PODS_RECHECK_NS)
		return pi;
	/* A miss costs one stat(); the folder is re-read only when a CNI
	 * command changed it. */
	if (pods_stale(p) && pods_load(p) == 0)
		pi = pods_find(p, netns_ino);
	return pi ? pi : pods_gone_find(p, netns_ino);
}

void pods_each(struct pods *p, void (*fn)(void *arg, const struct pod_info *pi),
	       void *arg)
{
	int i;

	if (pods_stale(p))
		pods_load(p);
	for (i = 0; i < p->n; i++)
		fn(arg, &p->tab[i]);
}

/* ---- reconciliation ---- */

/* The netns of st is gone (or is another one now): undo what is left. */
static void reconcile_gone(struct pods *p, const struct pins *pins,
			   struct pod_state *st, const char *why)
{
	char err[POD_ERR_LEN];

	fprintf(stderr, "podsentryd: pod %s (container %s, %s): %s; removing its state\n",
		st->pod_name, st->container_id, st->ifname, why);
	if (pod_detach(st, err))
		fprintf(stderr, "podsentryd: %s\n", err);
	/* Entries are removed only where they still carry this pod's slot. */
	if (pod_unregister(pins, st, false, false, err))
		fprintf(stderr, "podsentryd: %s\n", err);
	if (state_remove(p->state_dir, st->container_id, st->ifname, err))
		fprintf(stderr, "podsentryd: %s\n", err);
}

/* Attach and register one live pod; 1 when it is watched now. */
static int reconcile_one(struct pods *p, const struct pins *pins,
			 struct pod_state *st)
{
	struct pod_state now = *st;
	char err[POD_ERR_LEN];
	int ret;

	now.host_ifindex = 0;
	ret = pod_host_link(&now, err);
	if (ret) {
		fprintf(stderr, "podsentryd: pod %s: %s; left pending\n",
			st->pod_name, err);
		return 0;
	}
	if (st->host_ifindex && st->host_ifindex != now.host_ifindex)
		pod_detach(st, err);
	now.attached = 0;
	ret = pod_register(pins, &now, err);
	if (!ret)
		ret = pod_attach(pins, &now, err);
	if (ret) {
		fprintf(stderr, "podsentryd: pod %s: %s; left pending\n",
			st->pod_name, err);
		return 0;
	}
	now.pending = false;
	now.pending_reason[0] = 0;
	snprintf(now.bpffs, sizeof(now.bpffs), "%s", p->bpffs);
	if (state_write(p->state_dir, &now, err))
		fprintf(stderr, "podsentryd: %s\n", err);
	*st = now;
	return 1;
}

int pods_reconcile(struct pods *p)
{
	struct pod_state *all = NULL;
	char err[POD_ERR_LEN];
	struct pins pins;
	int lock, n, i, live = 0;
	__u32 ino;

	lock = state_lock(p->state_dir, err);
	if (lock < 0) {
		fprintf(stderr, "podsentryd: %s\n", err);
		return lock;
	}
	/* XDP's pin is needed only by pods that asked for XDP. */
	n = pins_open(p->bpffs, true, &pins, err);
	if (n)
		n = pins_open(p->bpffs, false, &pins, err);
	if (n) {
		fprintf(stderr, "podsentryd: reconcile: %s\n", err);
		state_unlock(lock);
		return n;
	}
	n = state_list(p->state_dir, &all, err);
	if (n < 0) {
		fprintf(stderr, "podsentryd: %s\n", err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		ino = pod_netns_ino(all[i].netns, err);
		if (!ino)
			reconcile_gone(p, &pins, &all[i], err);
		else if (ino != all[i].netns_ino)
			reconcile_gone(p, &pins, &all[i], "netns inode changed");
		else
			live += reconcile_one(p, &pins, &all[i]);
	}
	free(all);
	n = live;
	if (n)
		fprintf(stderr, "podsentryd: reconciled %d pod attachment(s) from %s\n",
			n, p->state_dir);
out:
	pins_close(&pins);
	state_unlock(lock);
	pods_load(p);
	return n;
}

void pods_close(struct pods *p)
{
	if (!p)
		return;
	free(p->tab);
	free(p->old);
	free(p->state_dir);
	free(p->bpffs);
	free(p);
}
