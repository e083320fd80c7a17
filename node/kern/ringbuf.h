/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The reader of the kernel's ring buffer (BPF_MAP_TYPE_RINGBUF), mapped
 * as the kernel lays it out: a consumer page the reader writes, then the
 * producer page and the data pages, mapped twice in a row so a record
 * that wraps reads in one piece. Unlike libbpf's reader, which frees
 * each record's space as soon as its callback returns, this one frees
 * the records it read only when told (ringbuf_release), after what they
 * became is written out: a daemon killed in between leaves them in the
 * ring for the next one, instead of losing them with its buffers.
 */
#ifndef PS_NODE_KERN_RINGBUF_H
#define PS_NODE_KERN_RINGBUF_H

#include <stddef.h>

typedef int (*ringbuf_cb)(void *ctx, void *data, size_t len);

struct ringbuf {
	int fd;
	size_t page, size; /* page size; data bytes (a power of 2) */
	unsigned long *consumer;
	const unsigned long *producer;
	const char *data;
	unsigned long pos; /* read up to here, freed up to *consumer */
	ringbuf_cb cb;
	void *ctx;
};

/* Map the ring buffer map `map_fd` (kept open by the caller); reading
 * starts where the last reader freed. 0 or -errno. */
int ringbuf_open(struct ringbuf *r, int map_fd, ringbuf_cb cb, void *ctx);
void ringbuf_close(struct ringbuf *r);
/* The descriptor to poll for records (the map's). */
static inline int ringbuf_fd(const struct ringbuf *r) { return r->fd; }
/* Hand every complete record there is to the callback, in order, at
 * most `max` of them (0: no bound); the number handed. Their space is
 * still held. */
int ringbuf_read(struct ringbuf *r, int max);
/* Free the space of the records read so far. */
void ringbuf_release(struct ringbuf *r);
/* Records (or parts being written) after those read. */
int ringbuf_pending(const struct ringbuf *r);

#endif
