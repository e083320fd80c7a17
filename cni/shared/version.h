/* SPDX-License-Identifier: GPL-2.0-only */
/* What a build is: the release, the git commit of its sources and the
 * build id of the BPF objects its skeletons embed (build/version.h, made
 * by the Makefile). Both podsentry-cni and podsentryd print it, so two
 * binaries that share pinned maps can be told apart. */
#ifndef PS_SHARED_VERSION_H
#define PS_SHARED_VERSION_H

#include <stdio.h>

/* "PROG 0.4.0 (commit abc1234, bpf 0123456789abcdef)" and a newline */
void version_print(FILE *f, const char *prog);

#endif
