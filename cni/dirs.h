/* SPDX-License-Identifier: GPL-2.0-only */
/* Folder creation shared by the plugin's state folder and the daemon. */
#ifndef PS_CNI_DIRS_H
#define PS_CNI_DIRS_H

#include <sys/types.h>

/* mkdir -p: missing parents with mode `parents`, the folder with `leaf`.
 * Returns 0 or a negative errno. */
int dir_make(const char *dir, mode_t parents, mode_t leaf);

#endif
