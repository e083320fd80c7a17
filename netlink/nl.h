/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rtnetlink on libmnl: one socket per network namespace, requests sent
 * with NLM_F_ACK, replies matched by sequence number and port id, kernel
 * extended ACK messages kept for the error line. The one place in
 * podsentry that speaks netlink.
 */
#ifndef PS_NETLINK_NL_H
#define PS_NETLINK_NL_H

#include <libmnl/libmnl.h>

#define NL_ERR_LEN 256

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char err[NL_ERR_LEN]; /* why the last request failed */
};

/* Open a NETLINK_ROUTE socket in the caller's network namespace. */
int nl_open(struct nl *nl);
/* Open a NETLINK_ROUTE socket inside the network namespace at path (for
 * example /run/netns/x or /proc/PID/ns/net). The calling thread enters
 * that namespace only while it creates the socket and returns to its own
 * before this returns, also on failure. */
int nl_open_netns(struct nl *nl, const char *netns_path);
/* The same in the network namespace of an open fd (name for messages). */
int nl_open_netns_fd(struct nl *nl, int netns_fd, const char *name);
void nl_close(struct nl *nl);

/* Prefix err (NL_ERR_LEN bytes) with a printf-style context and ": ". */
void nl_err_wrap(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Start a request in buf (at least MNL_SOCKET_BUFFER_SIZE bytes). */
struct nlmsghdr *nl_msg_new(struct nl *nl, void *buf, __u16 type,
			    __u16 flags);
/* Send a request built with nl_msg_new and read replies until the ACK
 * (or NLMSG_DONE for a dump); cb runs on every reply of type nl_msg's
 * reply type. Returns 0 or a negative errno; nl->err then names the
 * cause, with the kernel's extended ACK message when it sent one. */
int nl_request(struct nl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data);

#endif
