#ifndef CR_RPC_H
#define CR_RPC_H

#include <stdbool.h>
#include <sys/types.h>

/* criu swrk FD: serve the requests of the client at the other end of FD. */
int cr_service_work(const char *fd_arg);

/* Under swrk with notify_scripts: tell the client, wait for its answer. */
bool rpc_notify_wanted(void);
int rpc_notify(const char *action, pid_t pid, int fd);

/* Under swrk: the socket to the client, to poll for it going away (-1 otherwise). */
int rpc_client_fd(void);

#endif
