#ifndef CR_ACTION_SCRIPTS_H
#define CR_ACTION_SCRIPTS_H

#include <sys/types.h>

/*
 * Points in a dump or restore where the caller gets a say: each runs the
 * --action-script scripts (CRTOOLS_SCRIPT_ACTION=<name>) and, under swrk
 * with notify_scripts, asks the client, which must acknowledge it.
 * A script failing or a client answering false fails the dump/restore.
 */
enum cr_hook {
	HOOK_PRE_DUMP,
	HOOK_NETWORK_LOCK,
	HOOK_POST_DUMP,
	HOOK_NETWORK_UNLOCK,
	HOOK_PRE_RESTORE,
	HOOK_SETUP_NAMESPACES,		/* pid: the restored root */
	HOOK_POST_SETUP_NAMESPACES,
	HOOK_POST_RESTORE,		/* pid: the restored root */
	HOOK_PRE_RESUME,
	HOOK_POST_RESUME,
	HOOK_ORPHAN_PTS_MASTER,		/* fd: the pty master, sent to a swrk client */
	HOOK_STATUS_READY,
	HOOK_NR,
};

const char *hook_name(enum cr_hook h);
int action_script_add(const char *script);
/* pid: 0 when the hook has none; fd: -1 when it has none */
int run_hook(enum cr_hook h, pid_t pid, int fd);

#endif
