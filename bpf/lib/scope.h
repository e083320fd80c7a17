/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Which processes a program reports: those of registered pods (the pinned
 * pods map, keyed by netns inode), or all of them. Set by the daemon in
 * rodata before load. */
#ifndef PS_BPF_SCOPE_H
#define PS_BPF_SCOPE_H

#include "podsentry.h"
#include "lib/maps.h"

const volatile __u32 scope = PS_SCOPE_PODS;

static __always_inline bool netns_watched(__u32 ino)
{
	struct ps_pod *pod;

	if (scope == PS_SCOPE_ALL)
		return true;
	pod = bpf_map_lookup_elem(&pods, &ino);
	return pod && (pod->flags & PS_POD_MONITOR);
}

#endif
