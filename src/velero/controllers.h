/* The controllers `stowage server` runs (controllers.c lists them). */
#ifndef STOW_VELERO_CONTROLLERS_H
#define STOW_VELERO_CONTROLLERS_H

#include "velero/server.h"

/* NULL-terminated, in start order. */
const stow_velero_controller *const *stow_velero_controllers(void);

/* One per controller module; add the declaration here and the call in
 * controllers.c when a module lands. */
const stow_velero_controller *stow_velero_ctl_bsl(void);
const stow_velero_controller *stow_velero_ctl_restore(void);
const stow_velero_controller *stow_velero_ctl_backup_sync(void);
const stow_velero_controller *stow_velero_ctl_download_request(void);
const stow_velero_controller *stow_velero_ctl_server_status_request(void);
const stow_velero_controller *stow_velero_ctl_backup(void);
const stow_velero_controller *stow_velero_ctl_schedule(void);
const stow_velero_controller *stow_velero_ctl_gc(void);
const stow_velero_controller *stow_velero_ctl_delete_backup_request(void);

#endif
