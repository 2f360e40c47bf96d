#include "util/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int stow_fd_retire(int fd)
{
	int err = 0;

	/* ESPIPE/EINVAL: not a regular file or a filesystem without it;
	 * ENOSYS: an old kernel. Nothing to wait for then. */
	if (sync_file_range(fd, 0, 0,
			    SYNC_FILE_RANGE_WAIT_BEFORE |
				SYNC_FILE_RANGE_WRITE |
				SYNC_FILE_RANGE_WAIT_AFTER) != 0 &&
	    errno != ESPIPE && errno != EINVAL && errno != ENOSYS)
		err = errno;
	if (err == 0)
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (close(fd) != 0 && errno != EINTR && err == 0)
		err = errno;
	return err;
}
