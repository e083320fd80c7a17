// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "node/sinks/files.h"

/* The mode a file of mode `have` gets: no bit that `mode` does not
 * allow. Says so when that changes it. */
static mode_t mode_tightened(const char *path, mode_t have, mode_t mode)
{
	have &= 07777;
	if (!(have & ~mode))
		return have;
	fprintf(stderr, "podsentryd: %s: mode %04o is more open than %04o: now %04o\n",
		path, (unsigned)have, (unsigned)mode, (unsigned)(have & mode));
	return have & mode;
}

int sink_open_append(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode);
	struct stat st;

	if (fd < 0)
		return -errno;
	/* only a regular file: /dev/null or a FIFO keeps its mode */
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && (st.st_mode & 07777 & ~mode)) {
		mode_t m = mode_tightened(path, st.st_mode, mode);

		if (fchmod(fd, m))
			fprintf(stderr, "podsentryd: %s: chmod %04o: %s\n", path,
				(unsigned)m, strerror(errno));
	}
	return fd;
}

int sink_file_replace(const char *path, const char *data, size_t len,
		      mode_t mode)
{
	char tmp[PATH_MAX];
	struct stat st;
	mode_t m = mode;
	size_t off = 0;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (!stat(path, &st) && S_ISREG(st.st_mode))
		m = mode_tightened(path, st.st_mode, mode);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, m);
	if (fd < 0)
		return -errno;
	/* a temporary file left by a crash keeps its old mode otherwise */
	if (fchmod(fd, m))
		err = -errno;
	while (!err && off < len) {
		ssize_t r = write(fd, data + off, len - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			err = r < 0 ? -errno : -EIO;
		else
			off += r;
	}
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}
