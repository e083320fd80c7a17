// SPDX-License-Identifier: GPL-2.0-only
/* <>: build/version.h, not this folder's version.h */
#include <version.h>

#include "cni/shared/version.h"

void version_print(FILE *f, const char *prog)
{
	fprintf(f, "%s %s (commit %s, bpf %s)\n", prog, PS_VERSION,
		PS_GIT_COMMIT, PS_BPF_BUILD_ID);
}
