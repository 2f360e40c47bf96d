/* The controllers of `stowage server`, in start order. Each module
 * provides `const stow_velero_controller *stow_velero_ctl_<x>(void)`;
 * adding a controller is one declaration in controllers.h and one line
 * here. */
#include "velero/controllers.h"

#include <stddef.h>

const stow_velero_controller *const *stow_velero_controllers(void)
{
	/* Filled on each call (the server calls it once, at start). */
	static const stow_velero_controller *list[16];
	size_t n = 0;

	/* list[n++] = stow_velero_ctl_<x>(); -- one line per controller */
	list[n++] = stow_velero_ctl_bsl();
	list[n++] = stow_velero_ctl_backup_sync();
	list[n++] = stow_velero_ctl_download_request();
	list[n++] = stow_velero_ctl_server_status_request();
	list[n++] = stow_velero_ctl_backup();
	list[n++] = stow_velero_ctl_restore();
	list[n++] = stow_velero_ctl_schedule();
	list[n++] = stow_velero_ctl_gc();
	list[n++] = stow_velero_ctl_delete_backup_request();
	list[n] = NULL;
	return list;
}
