#ifndef CR_IPC_MQUEUE_H
#define CR_IPC_MQUEUE_H

#include <stdint.h>
#include <sys/stat.h>

#include "ipc.pb-c.h"

struct file_table;

/* Dump: is @copy (a copy of an fd whose link is @link) a POSIX message queue? */
int is_mqueue_fd(struct file_table *ft, int copy, const char *link, const struct stat *st);
/*
 * Dump, in a helper that joined the tree's IPC namespace (@ns_pid's): every
 * queue of it, with its messages, into @ns. The messages are read by a
 * process of its own that puts them back before it hands them over.
 */
int mqueue_dump_ns(IpcNsEntry *ns, pid_t ns_pid);
/* Restore: the queues of ipc-ns.img are sane. 0 or -1. */
int mqueue_check_ns(const IpcNsEntry *ns);
/* Restore: what making the queues again needs of the namespace's limits. */
void mqueue_needs(const IpcNsEntry *ns, uint64_t *maxmsg, uint64_t *msgsize, uint64_t *nr);
/* Restore, in the root, in its new namespace, limits raised: every queue made again. */
int mqueue_restore_ns(const IpcNsEntry *ns);

#endif
