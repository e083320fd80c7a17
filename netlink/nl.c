// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netlink/nl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static int nl_fail(struct nl *nl, int err, const char *fmt, const char *what)
{
	snprintf(nl->err, sizeof(nl->err), fmt, what, strerror(-err));
	return err;
}

int nl_open(struct nl *nl)
{
	int one = 1, err;

	memset(nl, 0, sizeof(*nl));
	nl->sock = mnl_socket_open(NETLINK_ROUTE);
	if (!nl->sock)
		return nl_fail(nl, -errno, "netlink %s: %s", "socket");
	/* Kernel error strings and a short ACK (no copy of our request). */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = nl_fail(nl, -errno, "netlink %s: %s", "bind");
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return err;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	return 0;
}

int nl_open_netns_fd(struct nl *nl, int netns_fd, const char *name)
{
	int self, err;
	char msg[NL_ERR_LEN];

	memset(nl, 0, sizeof(*nl));
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return nl_fail(nl, -errno, "open %s: %s",
			       "/proc/thread-self/ns/net");
	if (setns(netns_fd, CLONE_NEWNET)) {
		err = nl_fail(nl, -errno, "enter netns %s: %s", name);
		goto out;
	}
	err = nl_open(nl);
	if (setns(self, CLONE_NEWNET)) {
		/* Carrying on in the pod's namespace would act on the wrong
		 * links: there is no safe way forward. */
		snprintf(msg, sizeof(msg), "return from netns %s: %s", name,
			 strerror(errno));
		fprintf(stderr, "%s\n", msg);
		abort();
	}
	if (err)
		nl_err_wrap(nl->err, "in netns %s", name);
out:
	close(self);
	return err;
}

int nl_open_netns(struct nl *nl, const char *netns_path)
{
	int target, err;

	memset(nl, 0, sizeof(*nl));
	target = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return nl_fail(nl, -errno, "open netns %s: %s", netns_path);
	err = nl_open_netns_fd(nl, target, netns_path);
	close(target);
	return err;
}

void nl_err_wrap(char *err, const char *fmt, ...)
{
	char old[NL_ERR_LEN];
	va_list ap;
	int n;

	memcpy(old, err, sizeof(old));
	old[sizeof(old) - 1] = 0;
	va_start(ap, fmt);
	n = vsnprintf(err, NL_ERR_LEN, fmt, ap);
	va_end(ap);
	if (n >= 0 && n < NL_ERR_LEN && old[0])
		snprintf(err + n, NL_ERR_LEN - n, ": %s", old);
}

void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

struct nlmsghdr *nl_msg_new(struct nl *nl, void *buf, __u16 type, __u16 flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

/* The kernel's text for a failed request, from NLMSGERR_ATTR_MSG. */
static void nl_ext_ack(const struct nlmsghdr *nlh, char *out, size_t len)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	size_t off = sizeof(*e);

	out[0] = 0;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* Without NLM_F_CAPPED the original request follows the header. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (mnl_nlmsg_get_payload_len(nlh) < off)
		return;
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) != NLMSGERR_ATTR_MSG ||
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			continue;
		snprintf(out, len, "%s", mnl_attr_get_str(a));
		return;
	}
}

/* One reply message: 1 to read on, 0 when the request is complete, or a
 * negative errno. */
static int nl_reply(struct nl *nl, const struct nlmsghdr *nlh, __u32 seq,
		    mnl_cb_t cb, void *data)
{
	const struct nlmsgerr *e;
	char ext[NL_ERR_LEN];
	int err;

	if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != nl->portid)
		return 1; /* a stale reply to an earlier request */
	switch (nlh->nlmsg_type) {
	case NLMSG_ERROR:
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
			snprintf(nl->err, sizeof(nl->err), "netlink: short ACK");
			return -EBADMSG;
		}
		e = mnl_nlmsg_get_payload(nlh);
		if (!e->error)
			return 0;
		nl_ext_ack(nlh, ext, sizeof(ext));
		snprintf(nl->err, sizeof(nl->err), "%s%s%s",
			 strerror(-e->error), ext[0] ? ": " : "", ext);
		return e->error;
	case NLMSG_DONE:
		if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int) &&
		    *(int *)mnl_nlmsg_get_payload(nlh) < 0) {
			err = *(int *)mnl_nlmsg_get_payload(nlh);
			snprintf(nl->err, sizeof(nl->err), "%s",
				 strerror(-err));
			return err;
		}
		return 0;
	case NLMSG_NOOP:
		return 1;
	}
	if (cb && cb(nlh, data) < MNL_CB_OK) {
		snprintf(nl->err, sizeof(nl->err), "malformed reply");
		return -EBADMSG;
	}
	return 1;
}

int nl_request(struct nl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	struct nlmsghdr *nlh;
	__u32 seq = req->nlmsg_seq;
	ssize_t n;
	int left, ret = 1;

	nl->err[0] = 0;
	if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
		return nl_fail(nl, -errno, "netlink %s: %s", "send");
	while (ret > 0) {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nl_fail(nl, -errno, "netlink %s: %s", "receive");
		}
		left = (int)n;
		nlh = (struct nlmsghdr *)buf;
		for (; ret > 0 && mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left))
			ret = nl_reply(nl, nlh, seq, cb, data);
	}
	return ret;
}
