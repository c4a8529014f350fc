/*
 * Landlock domains can't be read back, so a task restricted with
 * landlock_restrict_self() would come back unrestricted: refused. The
 * kernel shows the domain nowhere, but it denies a restricted task any
 * ptrace access (kcmp() too) to a task outside its domain that it could
 * otherwise reach. So a probe is made: a process of criu's with the
 * task's real uid and gid, no capabilities, dumpable; the task (through
 * the parasite, each thread: a domain is per thread) asks kcmp() about it,
 * and EPERM means a domain. Only for a task in criu's user and pid
 * namespaces (elsewhere the probe can't be reached the same way).
 */
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump.h"
#include "log.h"
#include "util.h"

#define MAX_PROBES	16

static struct probe {
	unsigned int uid, gid;
	pid_t pid;
} probes[MAX_PROBES];
static int nr_probes;

static int same_ns(pid_t pid, const char *ns)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	if (stat(path, &a))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	return !stat(path, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/*
 * What the probe runs: a static x86-64 program, loaded at 0x400000, of
 * one segment: write(3, any byte, 1); close(3); for (;;) pause();
 */
static const unsigned char probe_prog[] = {
	/* ELF header: 64-bit, little-endian, ET_EXEC, x86-64, entry 0x400078, 1 program header at 64 */
	0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	2, 0, 0x3e, 0, 1, 0, 0, 0, 0x78, 0, 0x40, 0, 0, 0, 0, 0,
	64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 64, 0, 56, 0, 1, 0, 0, 0, 0, 0, 0, 0,
	/* PT_LOAD, R+X, offset 0 at 0x400000, 0xa8 bytes in the file and in memory, 4 KiB aligned */
	1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0,
	0xa8, 0, 0, 0, 0, 0, 0, 0, 0xa8, 0, 0, 0, 0, 0, 0, 0,
	0, 0x10, 0, 0, 0, 0, 0, 0,
	/* 0x78: mov $3,%edi; lea 0(%rip),%rsi; mov $1,%edx; mov $1,%eax (write); syscall */
	0xbf, 3, 0, 0, 0, 0x48, 0x8d, 0x35, 0, 0, 0, 0, 0xba, 1, 0, 0, 0, 0xb8, 1, 0, 0, 0, 0x0f, 0x05,
	/* mov $3,%edi; mov $3,%eax (close); syscall */
	0xbf, 3, 0, 0, 0, 0xb8, 3, 0, 0, 0, 0x0f, 0x05,
	/* 1: mov $34,%eax (pause); syscall; jmp 1b */
	0xb8, 34, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7,
	/* padding to 0xa8 */
	0, 0, 0,
};

/*
 * The probe is a fork of criu: its memory holds what criu read of the
 * tree so far, and as a dumpable process of the task's uid anyone of that
 * uid may read it. So it runs probe_prog instead, from a memfd; where that
 * can't be (memfd exec forbidden), it says ready and waits as it is.
 */
static void probe_exec(void)
{
	static char *const argv[] = { "criu-landlock-probe", NULL };
	static char *const envp[] = { NULL };
	int fd = syscall(SYS_memfd_create, "criu-landlock-probe", MFD_CLOEXEC | 0x10 /* MFD_EXEC */);

	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_memfd_create, "criu-landlock-probe", MFD_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, probe_prog, sizeof(probe_prog)) == sizeof(probe_prog))
		syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	close(fd);
}

/* Says on @ready (a byte) when its ids are in place, then waits to be killed (criu's death too). */
static void probe_child(unsigned int uid, unsigned int gid, int ready, pid_t parent)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {};

	/*
	 * An exec as uid 0 gives back every capability: the probe would then
	 * have more than a container's root (runc and podman drop some), and
	 * the kernel denies kcmp() to a task without them whatever its
	 * domain. So no root fixups for it; where that can't be set, no exec.
	 */
	bool can_exec = uid != 0 || !prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0, 0);

	if (dup2(ready, 3) != 3)
		_exit(1);
	syscall(SYS_close_range, 4, ~0U, 0);
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid) ||
	    syscall(SYS_capset, &h, d) || prctl(PR_SET_DUMPABLE, 1))
		_exit(1);
	/* after the id change, which clears it (an exec of the same ids keeps it) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(1);
	if (can_exec)
		probe_exec();
	if (write(3, "", 1) != 1)
		_exit(1);
	close(3);
	for (;;)
		pause();
}

pid_t landlock_probe(pid_t pid, const struct proc_status *st)
{
	unsigned int uid = st->uid[0], gid = st->gid[0];
	int p[2], ret;
	pid_t child, self = getpid();
	char c;

	if (!same_ns(pid, "user") || !same_ns(pid, "pid"))
		return 0;
	for (int i = 0; i < nr_probes; i++)
		if (probes[i].uid == uid && probes[i].gid == gid)
			return probes[i].pid;
	if (nr_probes == MAX_PROBES)
		return 0;
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("can't make a pipe for the landlock probe");
		return -1;
	}
	child = fork();
	if (child < 0) {
		pr_perror("can't fork a probe for landlock domains");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (!child)
		probe_child(uid, gid, p[1], self);
	close(p[1]);
	probes[nr_probes++] = (struct probe){ uid, gid, child };
	/* its ids must be in place before a task asks about it */
	ret = read(p[0], &c, 1);
	close(p[0]);
	if (ret != 1) {
		pr_err("the probe for landlock domains could not take uid %u, gid %u\n", uid, gid);
		return -1;
	}
	return child;
}

int landlock_check(pid_t pid, pid_t tid, pid_t probe, long kcmp_ret)
{
	if (probe <= 0 || kcmp_ret >= 0)
		return 0;
	/* killed by someone of its uid (or by the task's own sandbox, not a domain): no answer */
	if (kcmp_ret != -EPERM) {
		pr_err("can't dump task %d: the probe for landlock domains (%d) could not be asked about from thread "
		       "%d: %s\n", pid, probe, tid, strerror(-kcmp_ret));
		return -1;
	}
	pr_err("can't dump task %d: thread %d is restricted by a landlock domain (landlock_restrict_self()), which "
	       "can't be read back; not supported\n", pid, tid);
	return -1;
}

void landlock_probes_stop(void)
{
	for (int i = 0; i < nr_probes; i++) {
		kill_child(probes[i].pid, "the landlock probe");
	}
	nr_probes = 0;
}
