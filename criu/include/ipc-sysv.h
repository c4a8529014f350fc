#ifndef CR_IPC_SYSV_H
#define CR_IPC_SYSV_H

#include <stdint.h>
#include <sys/types.h>

#include "mm.pb-c.h"
#include "proc_parse.h"

/*
 * Dump: every live task of the tree (@pids[0] the root) must be in the
 * root's IPC namespace; note whether that is criu's own or one of the
 * tree's. Refuses SEM_UNDO adjustments, which can't be read back.
 */
int ipc_sysv_check_tree(const pid_t *pids, int nr);
/* Dump, after ipc_sysv_check_tree(): is the tree's IPC namespace its own (not criu's)? */
int ipc_sysv_own_ns(void);
/* Dump: a "/SYSV..." area of @pid: VMA_SYSVSHM (in criu's own namespace, noted for ipc_sysv_dump()). */
int sysvshm_add_vma(pid_t pid, const struct proc_vma *p, VmaEntry *v);
/* Dump: ipc-ns.img and the segments' bytes, from inside the tree's namespace; or the segments of criu's the tree attached. */
int ipc_sysv_dump(int dfd);

/* Restore: read ipc-ns.img if there is one (the tree had its own namespace, or segments of criu's attached). */
int ipc_sysv_read(int dfd);
/* Restore: CLONE_NEWIPC when the images carry a namespace, else 0. */
uint64_t ipc_sysv_clone_flags(void);
/* Restore: size of segment @shmid rounded up to pages, or 0 if the images have no such segment. */
uint64_t ipc_sysv_shm_size(int shmid);
/* Restore, in the root, in its new namespace: make every object again with its id (criu's: check them). */
int ipc_sysv_restore(int dfd);
/* Restore, once every task is attached and before any runs: IPC_RMID, shm_rmid_forced. */
int ipc_sysv_restore_finish(pid_t root);
/* Restore failed, the tree @root is gone: segments made again in criu's namespace go too. */
void ipc_sysv_restore_abort(pid_t root);
void ipc_sysv_free(void);

#endif
