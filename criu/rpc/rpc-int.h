/* Shared by the files of criu/rpc/. */
#ifndef CR_RPC_INT_H
#define CR_RPC_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "rpc.pb-c.h"

/* go-criu reads a reply into 8 KiB */
#define RPC_MAX_REPLY	8192

int rpc_apply_opts(const CriuOpts *o, bool log_only, const char *action);
int rpc_unknown_field(const ProtobufCMessage *m, char *buf, size_t len);
void rpc_notify_enable(bool on);
int rpc_open_peer_fd(int n, const char *what, int flags);
bool rpc_fd_filled(int fd);

#endif
