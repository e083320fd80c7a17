/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Whole JSON lines to one file descriptor, buffered and written with
 * write(2): a line reaches the file whole or not at all. When a write
 * fails (a full disk: ENOSPC, a short write), the lines it did not write
 * are dropped and counted, and a line it wrote in part is cut back
 * (ftruncate) on a regular file, or completed first by the next write
 * on a pipe. The owner (export.c, podlog.c) decides what an episode of
 * failures means and what it tells.
 */
#ifndef PS_NODE_LINES_H
#define PS_NODE_LINES_H

#include <stdbool.h>
#include <stddef.h>

/* What an output did: the counters the stats record and the metrics
 * show. */
struct sink_counters {
	unsigned long long lines, bytes;	 /* written */
	unsigned long long dropped, dropped_bytes; /* lines a write lost */
	unsigned long long episodes; /* times writing started failing */
	bool failing;		     /* in such an episode now */
};

struct lines {
	int fd;		/* -1: not open */
	bool seekable;	/* a regular file: a partial line is cut back */
	char *buf;	/* whole lines, each with its newline */
	size_t len, cap;
	size_t keep;	/* leading bytes of buf: the rest of a line a pipe
			 * took in part, written before anything else */
	unsigned long long nlines; /* lines in buf after keep */
	struct sink_counters c;
	/* dropped lines not yet told in a "lost" record */
	unsigned long long unreported;
};

/* Lines buffered before a write is due. */
#define LINES_BUF (64 * 1024)

/* An output on fd (taken over: lines_close closes it unless it is 0-2). */
void lines_init(struct lines *l, int fd);
/* Switch to another descriptor (reopen): buffered lines go to the new
 * one; the old one is closed. */
void lines_set_fd(struct lines *l, int fd);
/* Whether n more bytes would pass LINES_BUF: time to flush first. */
bool lines_full(const struct lines *l, size_t n);
/* One line (len bytes, no newline) into the buffer; counted dropped
 * when there is no memory for it. */
void lines_put(struct lines *l, const char *line, size_t len);

struct lines_flush {
	bool failed;	   /* some lines were dropped */
	int err;	   /* why (errno) */
	bool head_written; /* the head line reached the file whole */
};

/* Write what is buffered, after head (one line without its newline, or
 * NULL): a line that stands for the ones dropped earlier, written first
 * and counted neither written nor dropped. */
struct lines_flush lines_flush(struct lines *l, const char *head,
			       size_t hlen);
/* Drop what is buffered, counted (the output cannot be opened). */
void lines_discard(struct lines *l);
/* Whether a flush has anything to write besides a head. */
bool lines_pending(const struct lines *l);
void lines_close(struct lines *l);

/*
 * An episode of failing writes: from the first failure until writing
 * has worked for LINES_RECOVER_NS with no failure, so a disk at the edge
 * of full is one episode, not one per record that still fits.
 */
struct lines_episode {
	bool failing;
	unsigned long long since_ok_ns; /* first success after a failure */
	unsigned long long episodes, dropped, bytes; /* and in this one */
};

#define LINES_RECOVER_NS 1000000000ULL

enum lines_change { LINES_SAME, LINES_STARTED, LINES_ENDED };

/* After a flush: failed or (wrote) something got through; dropped and
 * bytes what it dropped. */
enum lines_change lines_episode(struct lines_episode *ep, bool failed,
				bool wrote, unsigned long long dropped,
				unsigned long long bytes);

#endif
