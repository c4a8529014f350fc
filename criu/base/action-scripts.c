/*
 * Hooks: --action-script on the command line, notifications under swrk.
 * Both see the same points in the same order (action-scripts.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action-scripts.h"
#include "cr_options.h"
#include "log.h"
#include "namespaces.h"
#include "rpc.h"
#include "util.h"

static const char *const names[HOOK_NR] = {
	[HOOK_PRE_DUMP] = "pre-dump",
	[HOOK_NETWORK_LOCK] = "network-lock",
	[HOOK_POST_DUMP] = "post-dump",
	[HOOK_NETWORK_UNLOCK] = "network-unlock",
	[HOOK_PRE_RESTORE] = "pre-restore",
	[HOOK_SETUP_NAMESPACES] = "setup-namespaces",
	[HOOK_POST_SETUP_NAMESPACES] = "post-setup-namespaces",
	[HOOK_POST_RESTORE] = "post-restore",
	[HOOK_PRE_RESUME] = "pre-resume",
	[HOOK_POST_RESUME] = "post-resume",
	[HOOK_ORPHAN_PTS_MASTER] = "orphan-pts-master",
	[HOOK_STATUS_READY] = "status-ready",
};

#define MAX_SCRIPTS 16
static const char *scripts[MAX_SCRIPTS];
static int nr_scripts;

const char *hook_name(enum cr_hook h)
{
	return h < HOOK_NR ? names[h] : "?";
}

int action_script_add(const char *script)
{
	if (nr_scripts == MAX_SCRIPTS) {
		pr_err("too many --action-script options (at most %d)\n", MAX_SCRIPTS);
		return -1;
	}
	scripts[nr_scripts++] = script;
	return 0;
}

static int run_script(const char *script, enum cr_hook h, pid_t pid)
{
	char num[16];
	int status;
	pid_t child;

	child = fork();
	if (child < 0) {
		pr_perror("can't fork for action script %s", script);
		return -1;
	}
	if (child == 0) {
		char *dir = opts.imgs_dir ? realpath(opts.imgs_dir, NULL) : NULL;

		/* a script locking the network does it from where criu was started, not from inside the tree */
		if (ns_criu_net_enter())
			_exit(127);

		setenv("CRTOOLS_SCRIPT_ACTION", names[h], 1);
		/* under swrk imgs_dir is /proc/self/fd/N, which means nothing to the script */
		if (dir)
			setenv("CRTOOLS_IMAGE_DIR", dir, 1);
		if (pid) {
			snprintf(num, sizeof(num), "%d", pid);
			setenv("CRTOOLS_INIT_PID", num, 1);
		}
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		pr_perror("can't run /bin/sh for action script %s", script);
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) {
			pr_perror("waiting for action script %s", script);
			return -1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		pr_err("action script %s failed at %s with exit status %d\n", script, names[h], WEXITSTATUS(status));
	else
		pr_err("action script %s was killed by signal %d at %s\n", script, WTERMSIG(status), names[h]);
	return -1;
}

int run_hook(enum cr_hook h, pid_t pid, int fd)
{
	pr_info("hook %s%s\n", names[h], nr_scripts || rpc_notify_wanted() ? "" : " (nobody asked)");
	/* a script can't be handed an fd: that one is for swrk clients only */
	if (h != HOOK_ORPHAN_PTS_MASTER)
		for (int i = 0; i < nr_scripts; i++)
			if (run_script(scripts[i], h, pid))
				return -1;
	return rpc_notify(names[h], pid, fd);
}
