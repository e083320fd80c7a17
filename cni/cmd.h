/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The CNI commands of podsentry-cni: VERSION, ADD, DEL, CHECK, STATUS and
 * GC, from the environment and the network configuration on stdin to the
 * result (or error) on stdout and one log line.
 */
#ifndef PS_CNI_CMD_H
#define PS_CNI_CMD_H

#include <stddef.h>
#include <stdio.h>

struct cni_env {
	const char *command;	  /* CNI_COMMAND */
	const char *container_id; /* CNI_CONTAINERID */
	const char *netns;	  /* CNI_NETNS */
	const char *ifname;	  /* CNI_IFNAME */
	const char *args;	  /* CNI_ARGS */
	const char *path;	  /* CNI_PATH */
};

/* The CNI_* variables of the process environment. */
void cni_env_get(struct cni_env *env);
/* Run one command on the config in (len bytes); prints the result or the
 * error JSON on out. Returns the exit status. */
int cni_main(const struct cni_env *env, const char *in, size_t len, FILE *out);

#endif
