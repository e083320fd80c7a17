// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "node/kern/ringbuf.h"

int ringbuf_open(struct ringbuf *r, int map_fd, ringbuf_cb cb, void *ctx)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	void *c, *p;

	memset(r, 0, sizeof(*r));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_RINGBUF || !info.max_entries ||
	    (info.max_entries & (info.max_entries - 1)))
		return -EINVAL;
	r->page = sysconf(_SC_PAGESIZE);
	r->size = info.max_entries;
	c = mmap(NULL, r->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (c == MAP_FAILED)
		return -errno;
	p = mmap(NULL, r->page + 2 * r->size, PROT_READ, MAP_SHARED, map_fd,
		 r->page);
	if (p == MAP_FAILED) {
		int err = -errno;

		munmap(c, r->page);
		return err;
	}
	r->fd = map_fd;
	r->consumer = c;
	r->producer = p;
	r->data = (const char *)p + r->page;
	r->pos = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	r->cb = cb;
	r->ctx = ctx;
	return 0;
}

void ringbuf_close(struct ringbuf *r)
{
	if (r->consumer)
		munmap(r->consumer, r->page);
	if (r->producer)
		munmap((void *)r->producer, r->page + 2 * r->size);
	memset(r, 0, sizeof(*r));
}

int ringbuf_read(struct ringbuf *r, int max)
{
	unsigned long prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	int n = 0;

	while (r->pos < prod && (!max || n < max)) {
		const __u32 *hdr =
		    (const void *)(r->data + (r->pos & (r->size - 1)));
		__u32 len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);

		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* still being written: the next read */
		r->pos += (BPF_RINGBUF_HDR_SZ +
			   (len & ~BPF_RINGBUF_DISCARD_BIT) + 7) & ~7UL;
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			r->cb(r->ctx, (void *)(hdr + 2), len);
			n++;
		}
		if (r->pos >= prod)
			prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	}
	return n;
}

void ringbuf_release(struct ringbuf *r)
{
	__atomic_store_n(r->consumer, r->pos, __ATOMIC_RELEASE);
}

int ringbuf_pending(const struct ringbuf *r)
{
	return __atomic_load_n(r->producer, __ATOMIC_ACQUIRE) > r->pos;
}
