/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The files the daemon writes, with modes that keep other local users
 * out of what pods do (command lines carry secrets): outputs 0640,
 * private state 0600. A file that exists keeps its mode unless it is
 * more open than that; then it is tightened, with one line on stderr.
 */
#ifndef PS_NODE_FILES_H
#define PS_NODE_FILES_H

#include <stddef.h>
#include <sys/types.h>

#define SINK_FILE_MODE 0640    /* export, alerts, pod logs */
#define SINK_PRIVATE_MODE 0600 /* the detection state */
#define SINK_DIR_MODE 0750     /* folders of pod logs */
#define SINK_PRIVATE_DIR_MODE 0700

/* Open path to append to, creating it with mode. Returns the descriptor
 * or a negative errno. */
int sink_open_append(const char *path, mode_t mode);
/* Replace path with len bytes of data at once (a temporary file renamed
 * over it), with mode, or the old file's mode where that is closer. */
int sink_file_replace(const char *path, const char *data, size_t len,
		      mode_t mode);

#endif
