// SPDX-License-Identifier: GPL-2.0-only
/*
 * A mount namespace nested below the tree's (a service with PrivateTmp,
 * a process that unshared CLONE_NEWNS): the test (in a mount namespace
 * of its own, zdtm_mntns()) has a private tmpfs P holding a file and a
 * shared tmpfs S; its child C unshares its mount namespace, makes its
 * copy of S a slave, mounts a private tmpfs T over the test's tmp/
 * directory with a file it keeps open and its cwd in it, a read-only
 * bind of the test's P/sub at ro/ and a bind of T's dir t2/ at b/; its
 * child D (C's namespace too) checks the same. After the unshare, the
 * test mounts a tmpfs Q, which C must not see.
 * After C/R: C and D see T (with the file, the offset of C's fd, the
 * cwd), ro/ read-only showing P's file, b/ showing T's t2; the test does
 * not see T, ro/, b/; C does not see Q; a tmpfs the test mounts in S
 * after the restore reaches C (slave), one C mounts in its S does not
 * reach the test. A file of the test's directory the test opened before
 * forking C (the same file in both namespaces) is still one description
 * in both: C moves its offset, the test sees it. C also holds a file of a
 * tmpfs H it covered with another tmpfs afterwards: after C/R the fd is
 * still on H (fdinfo's mnt_id is H's) with its contents. The test and C
 * each map the file at tmp/f, another one in each namespace: each still
 * maps its own.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define FILE_FD	40
#define SHARED_FD	41
#define HIDDEN_FD	42

static char dir[512];

static void at(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", dir, rel);
}

static bool mounted(const char *rel, const char *fstype)
{
	struct zdtm_mnt m;
	char p[700];

	at(p, sizeof(p), rel);
	return zdtm_mountinfo(p, &m) == 0 && (!fstype || !strcmp(m.fstype, fstype));
}

static bool has(const char *rel, const char *want)
{
	char p[700], *txt = NULL;
	bool ok;

	at(p, sizeof(p), rel);
	ok = zdtm_read_file(p, &txt) >= 0 && !strcmp(txt, want);
	free(txt);
	return ok;
}

static int write_file(const char *rel, const char *text)
{
	char p[700];
	int fd;

	at(p, sizeof(p), rel);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	return close(fd);
}

static int mnt(const char *src, const char *rel, const char *type, unsigned long flags)
{
	char p[700], s[700];

	at(p, sizeof(p), rel);
	if (src && src[0] != '/')
		at(s, sizeof(s), src);
	return mount(src && src[0] != '/' ? s : src, p, type, flags, type ? "size=1m" : NULL);
}

static const char *c_map, *t_map;

/* Map the file at @rel (read-only, private): its address, or NULL. */
static const char *map_file(const char *rel)
{
	char p[700];
	void *m;
	int fd;

	at(p, sizeof(p), rel);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return NULL;
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return m == MAP_FAILED ? NULL : m;
}

static struct shared {
	volatile int c_ready, d_ready, go, c_checked, d_checked, c_done;
	int c_ok, d_ok;
	char msg[1024];
} *sh;

static void say(const char *who, const char *what)
{
	snprintf(sh->msg + strlen(sh->msg), sizeof(sh->msg) - strlen(sh->msg), "%s: %s; ", who, what);
}

/* What C and D see of their namespace. */
static int check_nested(const char *who)
{
	char cwd[700], want[700];
	int ok = 1;

	if (!mounted("tmp", "tmpfs") || !has("tmp/f", "T") || !has("tmp/t2/g", "T2")) {
		say(who, "T is not at tmp/ with its files");
		ok = 0;
	}
	if (!mounted("ro", NULL) || !has("ro/h", "P") || write_file("ro/x", "x") == 0) {
		say(who, "ro/ is not a read-only bind of P/sub");
		ok = 0;
	}
	if (!mounted("b", NULL) || !has("b/g", "T2")) {
		say(who, "b/ is not a bind of T's t2");
		ok = 0;
	}
	if (mounted("q", NULL)) {
		say(who, "the test's Q, mounted after the unshare, is seen");
		ok = 0;
	}
	at(want, sizeof(want), "tmp");
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, want)) {
		say(who, "the cwd is not in T");
		ok = 0;
	}
	return ok;
}

static int d_main(void)
{
	sh->d_ready = 1;
	while (!sh->go)
		usleep(10000);
	sh->d_ok = check_nested("D");
	sh->d_checked = 1;
	while (!sh->c_done)
		usleep(10000);
	return 0;
}

static int c_main(void)
{
	char buf[8], buf2[700];
	int ok, status;
	pid_t d;

	/* the test's mapping of its tmp/f: in our namespace that path is another file */
	munmap((void *)t_map, 4096);
	if (unshare(CLONE_NEWNS) || mnt(NULL, "s", NULL, MS_SLAVE) || mnt("zdtm-T", "tmp", "tmpfs", 0) ||
	    write_file("tmp/f", "T") || mnt(NULL, "tmp", NULL, MS_PRIVATE))
		return 2;
	{
		char p[700];

		at(p, sizeof(p), "tmp/t2");
		if (mkdir(p, 0755) || write_file("tmp/t2/g", "T2") || mnt("p/sub", "ro", NULL, MS_BIND) ||
		    mnt(NULL, "ro", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY) || mnt("tmp/t2", "b", NULL, MS_BIND))
			return 3;
		at(p, sizeof(p), "h/x");
		if (mnt("zdtm-H", "h", "tmpfs", 0) || write_file("h/x", "H") ||
		    zdtm_fd_at(open(p, O_RDONLY), HIDDEN_FD) < 0 || mnt("zdtm-H2", "h", "tmpfs", 0))
			return 7;
		at(p, sizeof(p), "tmp");
		if (chdir(p) || zdtm_fd_at(open("f", O_RDONLY), FILE_FD) < 0 || read(FILE_FD, buf, 1) != 1 ||
		    !(c_map = map_file("tmp/f")))
			return 4;
	}
	d = fork();
	if (d < 0)
		return 5;
	if (d == 0)
		exit(d_main());
	while (!sh->d_ready)
		usleep(1000);
	sh->c_ready = 1;
	while (!sh->go)
		usleep(10000);

	ok = check_nested("C");
	if (c_map[0] != 'T') {
		say("C", "its mapping of tmp/f is not T's file");
		ok = 0;
	}
	if (lseek(FILE_FD, 0, SEEK_CUR) != 1) {
		say("C", "the offset of its fd on T's file moved");
		ok = 0;
	}
	if (lseek(SHARED_FD, 0, SEEK_CUR) != 2 || lseek(SHARED_FD, 5, SEEK_SET) != 5) {
		say("C", "the file shared with the test lost its offset");
		ok = 0;
	}
	{
		struct zdtm_mnt hm = { 0 };
		char hb[4] = "";

		if (zdtm_mountinfo_id(zdtm_fd_mnt_id(HIDDEN_FD), &hm) || !strrchr(hm.source, '/') ||
		    strcmp(strrchr(hm.source, '/'), "/zdtm-H") ||
		    pread(HIDDEN_FD, hb, 1, 0) != 1 || hb[0] != 'H') {
			char why[160];

			snprintf(why, sizeof(why), "its fd on the covered tmpfs H is not there (mnt_id %d, source %s, "
				 "byte %c)", zdtm_fd_mnt_id(HIDDEN_FD), hm.source, hb[0] ? hb[0] : '-');
			say("C", why);
			ok = 0;
		}
	}
	sh->c_ok = ok;
	sh->c_checked = 1;
	/* the test mounts in S now: it reaches us; ours does not reach it */
	while (sh->go < 2)
		usleep(10000);
	if (!mounted("s/from-test", "tmpfs")) {
		say("C", "a mount the test made in S after the restore did not reach its slave");
		sh->c_ok = 0;
	}
	at(buf2, sizeof(buf2), "s/from-c");
	if (mkdir(buf2, 0755) || mnt("zdtm-C", "s/from-c", "tmpfs", 0)) {
		say("C", "can't mount in S");
		sh->c_ok = 0;
	}
	sh->go = 3;
	while (sh->go < 4)
		usleep(10000);
	sh->c_done = 1;
	if (waitpid(d, &status, 0) != d || !WIFEXITED(status) || WEXITSTATUS(status))
		return 6;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const dirs[] = { "p", "s", "tmp", "ro", "b", "q", "h" };
	char p[700];
	int status;
	pid_t c;

	test_init(argc, argv);
	zdtm_mntns();
	snprintf(dir, sizeof(dir), "%s", test_dir());
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		test_bug("mmap");
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		at(p, sizeof(p), dirs[i]);
		if (mkdir(p, 0755))
			test_bug("mkdir %s", p);
	}
	at(p, sizeof(p), "p/sub");
	if (mnt("zdtm-P", "p", "tmpfs", 0) || mkdir(p, 0755) || write_file("p/sub/h", "P") ||
	    mnt("zdtm-S", "s", "tmpfs", 0) || mnt(NULL, "s", NULL, MS_SHARED))
		test_bug("the test's mounts");
	if (write_file("shared", "0123456789") || zdtm_fd_at(open(strcat(strcpy(p, dir), "/shared"), O_RDONLY),
							      SHARED_FD) < 0 || lseek(SHARED_FD, 2, SEEK_SET) != 2)
		test_bug("the shared file");
	if (write_file("tmp/f", "O") || !(t_map = map_file("tmp/f")))
		test_bug("the test's tmp/f");
	c = zdtm_fork();
	if (c == 0)
		exit(c_main());
	while (!sh->c_ready) {
		if (waitpid(c, &status, WNOHANG) == c)
			test_bug("C ended before the dump (status %#x)", status);
		usleep(1000);
	}
	if (mnt("zdtm-Q", "q", "tmpfs", 0))
		test_bug("Q");

	test_daemon();
	test_waitsig();

	sh->go = 1;
	for (int w = 0; w < 1000 && !(sh->c_checked && sh->d_checked); w++)
		usleep(10000);
	if (!sh->c_checked || !sh->d_checked)
		fail("C or D did not check");
	if (lseek(SHARED_FD, 0, SEEK_CUR) != 5)
		fail("the file shared with C is not one description any more");
	if (t_map[0] != 'O')
		fail("the test's mapping of tmp/f is not its own file");
	if (mounted("tmp", "tmpfs") || mounted("ro", NULL) || mounted("b", NULL))
		fail("the test sees C's mounts");
	if (!mounted("p", "tmpfs") || !has("p/sub/h", "P") || !mounted("q", "tmpfs"))
		fail("the test's own mounts are not there");
	at(p, sizeof(p), "s/from-test");
	if (mkdir(p, 0755) || mnt("zdtm-from-test", "s/from-test", "tmpfs", 0))
		fail("can't mount in S");
	sh->go = 2;
	for (int w = 0; w < 1000 && sh->go < 3; w++)
		usleep(10000);
	if (mounted("s/from-c", NULL))
		fail("a mount C made in its slave S reached the test");
	sh->go = 4;
	if (zdtm_reap(c, &status))
		fail("C ended with status %#x", status);
	if (!sh->c_ok || !sh->d_ok)
		fail("%s", sh->msg);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
