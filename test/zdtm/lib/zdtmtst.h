/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helper library for the zdtm checkpoint/restore tests.
 *
 * Life of a test:
 *
 *	test_init(argc, argv);	// daemonize, output goes to --outfile
 *	... build the state to be checkpointed ...
 *	test_daemon();		// write --pidfile, the runner may dump now
 *	test_waitsig();		// sleep until the runner sends SIGTERM
 *	... verify the state ...
 *	pass();			// or fail("...")
 *
 * Tests that have to stay busy (spin in asm, sleep in a loop, ...)
 * poll test_go() instead of calling test_waitsig().
 */
#ifndef ZDTM_TST_H
#define ZDTM_TST_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#define ZDTM_PAGE_SIZE 4096UL

/* Arguments left after --pidfile/--outfile have been consumed. */
extern int test_argc;
extern char **test_argv;

/* Set to 1 by the SIGTERM handler. */
extern volatile sig_atomic_t test_sigterm;

void test_init(int argc, char **argv);
void test_daemon(void);
/*
 * test_daemon() in two halves for tests that must report readiness
 * without calling a function (e.g. from inside an asm block holding
 * register values): writes the pidfile and returns the readiness pipe
 * descriptor.  The caller must write one byte into it and close it
 * (e.g. with raw write/close syscalls) before it may be dumped.
 */
int test_daemon_prepare(void);
void test_waitsig(void);

/* True while no SIGTERM has been received. */
static inline bool test_go(void)
{
	return !test_sigterm;
}

/*
 * Optional hook called from the SIGTERM handler after the flag has been
 * set; it must be async-signal-safe.
 */
void test_set_sigterm_hook(void (*hook)(void));

/* Directory the outfile lives in; tests create their files there. */
const char *test_dir(void);
/* Builds "<test_dir>/<name>" into a static buffer of the caller. */
void test_path(char *buf, size_t len, const char *name);

void test_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pass(void);
void __test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints "FAIL: file:line: message (strerror(errno))" when errno != 0. */
#define fail(fmt, ...) __test_fail(__FILE__, __LINE__, fmt, ##__VA_ARGS__)

/* Like fail() for value mismatches: never appends a stale errno. */
#define failv(fmt, ...)						\
	do {							\
		errno = 0;					\
		fail(fmt, ##__VA_ARGS__);			\
	} while (0)

/* Number of fail() calls so far. */
extern int test_failures;

/* Setup errors before test_daemon(): print and exit(1). */
#define test_bug(fmt, ...)					\
	do {							\
		fail("setup: " fmt, ##__VA_ARGS__);		\
		_exit(1);					\
	} while (0)

/*
 * A cheap, well mixed 64-bit pattern for a (seed, index) pair
 * (splitmix64 finalizer), used to fill and verify memory.
 */
static inline uint64_t zdtm_pattern(uint64_t seed, uint64_t idx)
{
	uint64_t z = seed + (idx + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Fills len bytes (multiple of 8) at buf with the pattern for seed. */
void zdtm_fill(void *buf, size_t len, uint64_t seed);
/*
 * Checks a buffer filled by zdtm_fill().  Returns the offset of the
 * first mismatching byte or (size_t)-1 if all bytes match.
 */
size_t zdtm_check(const void *buf, size_t len, uint64_t seed);
/* Returns the offset of the first non-zero byte or (size_t)-1. */
size_t zdtm_check_zero(const void *buf, size_t len);

/* Returns a random 64-bit value (getrandom, falls back to time/pid). */
uint64_t zdtm_random(void);

/*
 * Looks up the mapping containing addr in /proc/self/maps.  Fills
 * start/end (may be NULL) and the 4-letter protection string prot
 * (e.g. "rw-p", may be NULL).  Returns 0 on success, -1 if no mapping
 * contains addr.
 */
int zdtm_find_vma(const void *addr, unsigned long *start, unsigned long *end,
		  char prot[5]);

/*
 * Reads a whole file into a malloc'ed buffer, NUL-terminated (so that it
 * can be parsed as text).  Returns the length or -1; *buf must be freed
 * by the caller.
 */
ssize_t zdtm_read_file(const char *path, char **buf);

/* fork(), a setup error (test_bug) if it fails: 0 in the child, its pid in the parent. */
pid_t zdtm_fork(void);

/*
 * Children that check shared state after the restore: the parent blocks
 * SIGUSR1 before forking them (zdtm_block_usr1(true)), so that none is
 * lost before they wait; they wait with zdtm_wait_usr1(); after SIGTERM
 * the parent wakes and reaps each with zdtm_wake_and_reap().
 */
void zdtm_block_usr1(bool block);
/* In a child: 0 once SIGUSR1 arrived, -1 on error. */
int zdtm_wait_usr1(void);

/*
 * Waits for child @pid to end: its exit code, or -1 if waitpid failed or
 * a signal killed it.  *status (may be NULL) gets the wait status, -1 if
 * waitpid failed.
 */
int zdtm_reap(pid_t pid, int *status);
/* Sends SIGUSR1 to child @pid, then zdtm_reap(); -1 if the kill failed. */
int zdtm_wake_and_reap(pid_t pid, int *status);

/*
 * The parent's half of a readiness pipe @p: a child closes p[1] (or
 * exits) once it is set up.  Closes both ends; 0 once the child closed
 * its end, -1 if something was written or the read failed.
 */
int zdtm_wait_ready(int p[2]);

/*
 * clone(@fn, @flags, @arg) on a stack of its own (never freed: a CLONE_VM
 * child uses it in our memory): the child's pid, or -1.
 */
pid_t zdtm_clone(int (*fn)(void *), int flags, void *arg);
/*
 * Polls until *@step, set by another process or a CLONE_VM child, reaches
 * @want, or becomes negative (that one failed).
 */
void zdtm_wait_step(volatile int *step, int want);

/*
 * Puts the open file @fd at number @to (the old number is closed): @to,
 * or -1 if @fd < 0 (so that the call that made it can be the argument)
 * or dup2 failed.
 */
int zdtm_fd_at(int fd, int to);

/*
 * How many entries of directory @dir have @part in their name (-1 if it
 * can't be read); the path of the last one in @path (may be NULL).
 */
int zdtm_dir_count(const char *dir, const char *part, char *path, size_t len);

/* True if @fd is the file at @path (same device and inode) and it has @nlink links. */
bool zdtm_fd_is_path(int fd, const char *path, nlink_t nlink);

/*
 * Puts the test in a mount namespace of its own, as a container runtime
 * would: all private, pivoted into a root that is a bind of the host's
 * "/" (its own mount only), with a bind of the host's /dev, a proc of its
 * own at /proc and the test directory (bound too if it is on another
 * mount). The test adds its mounts below test_dir(). Root only.
 */
void zdtm_mntns(void);
/*
 * The same, keeping a peer of the mount at @shared (in the test directory,
 * of criu's namespace) at the same path: still in that mount's peer group.
 */
void zdtm_mntns_keep(const char *shared);

/*
 * A root as container runtimes make one: zdtm_rootfs(NAME) makes the
 * directory NAME in the test directory with the mountpoints of a root
 * (usr, dev, proc, sys, the test directory and the test's executable's),
 * the merged-/usr links and a file "marker" holding NAME;
 * zdtm_mntns_rootfs(NAME) puts the test in a mount namespace of its own
 * pivoted into a bind of it, with the host's /usr, the test directory and
 * the executable's directory bound in, and the host's /dev if asked (the
 * caller mounts /proc, /sys and the rest). Root only.
 */
void zdtm_rootfs(const char *name);
void zdtm_mntns_rootfs(const char *name, bool host_dev);

/* One line of /proc/self/mountinfo: the mount at @point (the topmost), or -1. */
struct zdtm_mnt {
	int id, parent;
	char root[256], point[256], fstype[32], source[64];
	char opts[256];		/* per-mount options */
	char sbopts[256];	/* superblock options */
	int shared, master;	/* peer group numbers, 0 if none */
	bool unbindable;
};
int zdtm_mountinfo(const char *point, struct zdtm_mnt *m);
/* The same, among the mounts at @point the one whose source is @source (covered or not). */
int zdtm_mountinfo_src(const char *point, const char *source, struct zdtm_mnt *m);
int zdtm_mountinfo_id(int id, struct zdtm_mnt *m);
/* Any of them may be left out (NULL, -1). */
int zdtm_mountinfo_find(const char *point, const char *source, int id, struct zdtm_mnt *m);
/* fdinfo's mnt_id of our fd @fd, or -1. */
int zdtm_fd_mnt_id(int fd);

/*
 * Cgroups, for tests whose desc has "cgroups" (root only): the runner
 * made a cgroup for the test in each hierarchy named there.
 */
/* The test's cgroup directory in hierarchy @name ("cpu", "v2", ...): test_bug() if there is none. */
const char *zdtm_cg(const char *name);
/* @dir/@sub made (test_bug() on failure); its path in @out. */
void zdtm_cg_mkdir(const char *dir, const char *sub, char *out, size_t len);
/* Write @val to @dir/@file: 0, or -1 with errno. */
int zdtm_cg_write(const char *dir, const char *file, const char *val);
/* @dir/@file without its last newline, malloc'ed, or NULL. */
char *zdtm_cg_read(const char *dir, const char *file);
/* Thread @tid (0: the caller) into cgroup @dir: its whole process, or only it (@thread). 0 or -1. */
int zdtm_cg_enter(const char *dir, pid_t tid, bool thread);
/*
 * The cgroup of thread @tid of this process in hierarchy @ctrl ("" for
 * cgroup2), from /proc/self/task/TID/cgroup, into @out: 0 or -1.
 */
int zdtm_cg_of(pid_t tid, const char *ctrl, char *out, size_t len);

#endif /* ZDTM_TST_H */
