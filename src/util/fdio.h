/* Descriptor helpers shared by the layers that write files. */
#ifndef STOW_UTIL_FDIO_H
#define STOW_UTIL_FDIO_H

/* Retire a file written for the last time: wait until its dirty pages are
 * written back (sync_file_range, i.e. data only: no metadata, no device
 * cache flush, so not a substitute for fsync), drop its now clean pages
 * from the page cache and close it. Returns 0, or the errno of the first
 * failure: the writeback, or the close (NFS reports write errors there).
 * The descriptor is closed in every case. */
int stow_fd_retire(int fd);

#endif
