/*
 * libcriu.so.2 through the build tree's real criu ($CRIU): versions,
 * features, dump and restore_child of a forked counter, notifications,
 * errors a caller must get back as negative values, and a console pty
 * whose master criu hands back (orphan-pts-master).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <cmocka.h>

#include "criu.h"
#include "rpc.pb-c.h"

static char tmp[] = "/tmp/libcriu-test.XXXXXX";
static const char *criu_bin;

static void opts_init(void)
{
	assert_int_equal(criu_init_opts(), 0);
	assert_int_equal(criu_set_service_binary(criu_bin), 0);
}

static int is_root(void)
{
	return geteuid() == 0;
}

static void test_version(void **state)
{
	opts_init();
	assert_true(criu_get_version() >= 40000);
	/* what crun and runc ask for */
	assert_int_equal(criu_check_version(31500), 1);
	assert_int_equal(criu_check_version(31601), 1);
	assert_int_equal(criu_check_version(990000), 0);
}

static void test_features(void **state)
{
	struct criu_feature_check f = { .mem_track = true, .lazy_pages = true, .pidfd_store = true };
	struct { struct criu_feature_check f; int more; } big = { 0 };

	opts_init();
	assert_int_equal(criu_feature_check(&f, sizeof(f)), 0);
	/* not done yet, and said so; mem_track and lazy_pages are what the kernel gives */
	assert_false(f.pidfd_store);
	assert_int_equal(criu_feature_check(&big.f, sizeof(big)), -EINVAL);
}

static void test_no_binary(void **state)
{
	opts_init();
	assert_int_equal(criu_set_service_binary("/nonexistent/criu"), 0);
	assert_int_equal(criu_get_version(), -ECOMM);
	assert_int_equal(criu_check_version(30000), -ECOMM);
}

static void test_local_opts(void **state)
{
	criu_opts *a, *b;

	assert_int_equal(criu_local_init_opts(&a), 0);
	assert_int_equal(criu_local_init_opts(&b), 0);
	criu_local_set_service_binary(a, criu_bin);
	criu_local_set_service_binary(b, "/nonexistent/criu");
	assert_true(criu_local_get_version(a) >= 40000);
	assert_int_equal(criu_local_get_version(b), -ECOMM);
	assert_int_equal(criu_local_add_ext_mount(a, "/a", "/b"), 0);
	assert_int_equal(criu_local_join_ns_add(a, "uts", "/proc/1/ns/uts", NULL), 0);
	assert_int_equal(criu_local_join_ns_add(a, NULL, "/x", NULL), -EINVAL);
	criu_local_free_opts(a);
	criu_local_free_opts(b);
}

static void test_check(void **state)
{
	if (!is_root())
		skip();
	opts_init();
	assert_int_equal(criu_check(), 0);
}

/* A counter in a session of its own that shows its count in a file. */
static pid_t start_counter(const char *file)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd, n = 0;
		char b[32];

		setsid();
		close_range(0, ~0U, 0);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 1);
		dup2(fd, 2);
		fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
		for (;;) {
			int l = snprintf(b, sizeof(b), "%020d\n", n++);

			if (pwrite(fd, b, l, 0) != l)
				_exit(1);
			usleep(5000);
		}
	}
	usleep(100000);
	return pid;
}

static long count_of(const char *file)
{
	char b[32] = "";
	int fd = open(file, O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, b, sizeof(b) - 1) < 0)
		b[0] = '\0';
	close(fd);
	return atol(b);
}

static int counting(const char *file)
{
	long a = count_of(file);

	usleep(100000);
	return count_of(file) > a;
}

static char actions[512];
static int refuse_post_dump;
static int notified_pid;

static int notify(char *action, criu_notify_arg_t na)
{
	strncat(actions, action, sizeof(actions) - strlen(actions) - 2);
	strcat(actions, " ");
	if (!strcmp(action, "post-restore"))
		notified_pid = criu_notify_pid(na);
	return refuse_post_dump && !strcmp(action, "post-dump") ? -1 : 0;
}

static int images_dir(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	mkdir(path, 0700);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	return fd;
}

static void test_dump_restore_child(void **state)
{
	char file[256];
	int status, dfd;
	pid_t pid, back;
	long before;

	if (!is_root())
		skip();
	snprintf(file, sizeof(file), "%s/count1", tmp);
	pid = start_counter(file);
	dfd = images_dir("img1");

	opts_init();
	criu_set_images_dir_fd(dfd);
	criu_set_pid(pid);
	criu_set_log_level(4);
	assert_int_equal(criu_set_log_file("dump.log"), 0);
	criu_set_notify_cb(notify);
	actions[0] = '\0';
	assert_int_equal(criu_dump(), 0);
	assert_string_equal(actions, "pre-dump network-lock post-dump ");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	before = count_of(file);

	opts_init();
	criu_set_images_dir_fd(dfd);
	criu_set_log_level(4);
	assert_int_equal(criu_set_log_file("restore.log"), 0);
	criu_set_notify_cb(notify);
	actions[0] = '\0';
	back = criu_restore_child();
	assert_int_equal(back, pid);
	assert_int_equal(notified_pid, pid);
	assert_string_equal(actions, "pre-restore setup-namespaces post-setup-namespaces post-restore "
				     "network-unlock pre-resume post-resume ");
	assert_int_equal(criu_get_orphan_pts_master_fd(), -1);
	assert_true(counting(file));
	assert_true(count_of(file) >= before);
	/* a child of ours */
	kill(back, SIGKILL);
	assert_int_equal(waitpid(back, &status, 0), back);
	close(dfd);
}

/* criu_dump_iters(): the caller's more() moves each pre-dump to a dir of its own, the next one's parent */
static int iter, iters_fd[3], more_ret;

static int next_iter(criu_predump_info pi)
{
	char parent[32];

	if (more_ret < 0)
		return more_ret;
	snprintf(parent, sizeof(parent), "../iter%d", iter);
	iter++;
	criu_set_images_dir_fd(iters_fd[iter]);
	assert_int_equal(criu_set_parent_images(parent), 0);
	return iter < 2;
}

static void test_dump_iters(void **state)
{
	char file[256], path[300];
	int status, i;
	pid_t pid, back;
	long before;

	if (!is_root())
		skip();
	snprintf(file, sizeof(file), "%s/count_iters", tmp);
	pid = start_counter(file);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "iter%d", i);
		iters_fd[i] = images_dir(path);
	}

	/* more()'s error ends it there, the tree running on */
	opts_init();
	criu_set_images_dir_fd(iters_fd[0]);
	criu_set_pid(pid);
	more_ret = -EL3HLT;
	assert_int_equal(criu_dump_iters(next_iter), -EL3HLT);
	assert_true(counting(file));

	more_ret = 0;
	iter = 0;
	opts_init();
	criu_set_images_dir_fd(iters_fd[0]);
	criu_set_pid(pid);
	criu_set_track_mem(true);
	criu_set_log_level(4);
	assert_int_equal(criu_set_log_file("dump.log"), 0);
	assert_int_equal(criu_dump_iters(next_iter), 0);
	assert_int_equal(iter, 2);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	before = count_of(file);
	/* the dump took its pages from the chain of pre-dumps */
	snprintf(path, sizeof(path), "%s/iter2/parent", tmp);
	assert_int_equal(access(path, F_OK), 0);

	opts_init();
	criu_set_images_dir_fd(iters_fd[2]);
	back = criu_restore_child();
	assert_int_equal(back, pid);
	assert_true(counting(file));
	assert_true(count_of(file) >= before);
	kill(back, SIGKILL);
	assert_int_equal(waitpid(back, &status, 0), back);
	for (i = 0; i < 3; i++)
		close(iters_fd[i]);
}

static void test_refused_notify(void **state)
{
	char file[256];
	int status, dfd;
	pid_t pid;

	if (!is_root())
		skip();
	snprintf(file, sizeof(file), "%s/count2", tmp);
	pid = start_counter(file);
	dfd = images_dir("img2");
	opts_init();
	criu_set_images_dir_fd(dfd);
	criu_set_pid(pid);
	criu_set_notify_cb(notify);
	refuse_post_dump = 1;
	assert_true(criu_dump() < 0);
	refuse_post_dump = 0;
	assert_true(counting(file));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(dfd);
}

static void test_errors(void **state)
{
	char file[256];
	int status, dfd;
	pid_t pid;

	if (!is_root())
		skip();
	snprintf(file, sizeof(file), "%s/count3", tmp);
	pid = start_counter(file);
	opts_init();
	criu_set_images_dir_fd(987);
	criu_set_pid(pid);
	assert_int_equal(criu_dump(), -EBADE);

	dfd = images_dir("img3");
	opts_init();
	criu_set_images_dir_fd(dfd);
	criu_set_pid(pid);
	criu_add_skip_mnt("/proc");	/* no --skip-mnt: refused like the command line */
	assert_int_equal(criu_dump(), -EBADRQC);	/* an option not taken */
	assert_true(counting(file));

	opts_init();
	criu_set_images_dir_fd(dfd);
	assert_int_equal(criu_pre_dump(), -ESRCH);	/* no pid */
	/* a restore from an empty dir */
	assert_true(criu_restore_child() < 0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(dfd);
}

/*
 * A server of our own on a socketpair (CRIU_COMM_FD): it sends
 * orphan-pts-master with a pty master by SCM_RIGHTS, as criu does for a
 * container's console, then the restore's reply.
 */
static void fake_send(int sk, CriuResp *r, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	uint8_t buf[512];
	struct iovec iov = { .iov_base = buf, .iov_len = criu_resp__pack(r, buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *ch;

		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	}
	if (sendmsg(sk, &mh, 0) < 0)
		_exit(1);
}

static void fake_server(int sk)
{
	CriuResp r = CRIU_RESP__INIT;
	CriuNotify n = CRIU_NOTIFY__INIT;
	CriuRestoreResp rr = CRIU_RESTORE_RESP__INIT;
	uint8_t buf[4096];
	CriuReq *req;
	ssize_t len;
	int ptm;

	len = recv(sk, buf, sizeof(buf), 0);
	req = criu_req__unpack(NULL, len, buf);
	if (!req || req->type != CRIU_REQ_TYPE__RESTORE || !req->opts->orphan_pts_master)
		_exit(2);
	ptm = posix_openpt(O_RDWR | O_NOCTTY);
	r.type = CRIU_REQ_TYPE__NOTIFY;
	r.success = true;
	r.notify = &n;
	n.script = "orphan-pts-master";
	fake_send(sk, &r, ptm);
	len = recv(sk, buf, sizeof(buf), 0);
	req = criu_req__unpack(NULL, len, buf);
	if (!req || req->type != CRIU_REQ_TYPE__NOTIFY || !req->notify_success)
		_exit(3);
	r = (CriuResp)CRIU_RESP__INIT;
	r.type = CRIU_REQ_TYPE__RESTORE;
	r.success = true;
	r.restore = &rr;
	rr.pid = 4242;
	fake_send(sk, &r, -1);
	_exit(0);
}

static int pts_seen;

static int pts_cb(char *action, criu_notify_arg_t na)
{
	if (!strcmp(action, "orphan-pts-master"))
		pts_seen = criu_get_orphan_pts_master_fd();
	return 0;
}

static void test_orphan_pts_master(void **state)
{
	int sk[2], status, fd;
	pid_t srv;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sk), 0);
	srv = fork();
	assert_true(srv >= 0);
	if (srv == 0) {
		close(sk[0]);
		fake_server(sk[1]);
	}
	close(sk[1]);
	assert_int_equal(criu_init_opts(), 0);
	criu_set_service_fd(sk[0]);
	criu_set_images_dir_fd(0);
	criu_set_orphan_pts_master(true);
	criu_set_notify_cb(pts_cb);
	assert_int_equal(criu_restore(), 4242);
	fd = criu_get_orphan_pts_master_fd();
	assert_true(fd >= 0);
	assert_int_equal(pts_seen, fd);
	/* a pty master: ptsname() works on it */
	assert_non_null(ptsname(fd));
	close(fd);
	close(sk[0]);
	assert_int_equal(waitpid(srv, &status, 0), srv);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* restore_child needs a criu of its own making: not over a given fd */
	assert_int_equal(criu_restore_child(), -EINVAL);
}

/* cat on a pty whose master is ours: a container's console, as crun sets it up. */
static pid_t start_console(int *master, int *index)
{
	struct termios t;
	int slave;
	pid_t pid;

	assert_int_equal(openpty(master, &slave, NULL, NULL, NULL), 0);
	*index = atoi(strrchr(ptsname(*master), '/') + 1);
	assert_int_equal(tcgetattr(slave, &t), 0);
	cfmakeraw(&t);
	assert_int_equal(tcsetattr(slave, TCSANOW, &t), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		for (int i = 0; i < 3; i++)
			dup2(slave, i);
		close_range(3, ~0U, 0);
		execlp("cat", "cat", NULL);
		_exit(127);
	}
	close(slave);
	return pid;
}

/* What goes in at @m comes back out. */
static int echoes(int m, const char *what)
{
	char buf[64];
	size_t got = 0, want = strlen(what);
	struct pollfd p = { .fd = m, .events = POLLIN };

	if (write(m, what, want) != (ssize_t)want)
		return 0;
	while (got < want && poll(&p, 1, 5000) == 1) {
		ssize_t n = read(m, buf + got, sizeof(buf) - got);

		if (n <= 0)
			return 0;
		got += n;
	}
	return got == want && !memcmp(buf, what, want);
}

/* with_cb: crun's way, the master handed on from the callback; without, read once the restore is done */
static void orphan_pts_restore_child(bool with_cb)
{
	int master, index, dfd, status, m;
	unsigned int n;
	pid_t pid, back;

	pid = start_console(&master, &index);
	assert_true(echoes(master, "before"));
	dfd = images_dir(with_cb ? "img-pts" : "img-pts-no-cb");

	opts_init();
	criu_set_images_dir_fd(dfd);
	criu_set_pid(pid);
	criu_set_log_level(4);
	assert_int_equal(criu_set_log_file("dump.log"), 0);
	criu_set_orphan_pts_master(true);
	assert_int_equal(criu_dump(), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* the old pty goes with its master, so that its index is free again */
	close(master);

	opts_init();
	criu_set_images_dir_fd(dfd);
	criu_set_log_level(4);
	assert_int_equal(criu_set_log_file("restore.log"), 0);
	criu_set_orphan_pts_master(true);
	if (with_cb)
		criu_set_notify_cb(pts_cb);
	pts_seen = -1;
	back = criu_restore_child();
	assert_int_equal(back, pid);
	m = criu_get_orphan_pts_master_fd();
	assert_true(m >= 0);
	if (with_cb)
		assert_int_equal(pts_seen, m);
	assert_int_equal(ioctl(m, TIOCGPTN, &n), 0);
	assert_int_equal(n, index);
	assert_true(echoes(m, "after"));
	close(m);
	kill(back, SIGKILL);
	assert_int_equal(waitpid(back, &status, 0), back);
	close(dfd);
}

static void test_orphan_pts_restore_child(void **state)
{
	if (!is_root())
		skip();
	orphan_pts_restore_child(true);
}

static void test_orphan_pts_no_cb(void **state)
{
	if (!is_root())
		skip();
	orphan_pts_restore_child(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_no_binary),
		cmocka_unit_test(test_local_opts),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_dump_restore_child),
		cmocka_unit_test(test_refused_notify),
		cmocka_unit_test(test_dump_iters),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_orphan_pts_master),
		cmocka_unit_test(test_orphan_pts_restore_child),
		cmocka_unit_test(test_orphan_pts_no_cb),
	};
	char cmd[300];
	int ret;

	criu_bin = getenv("CRIU");
	if (!criu_bin) {
		fprintf(stderr, "CRIU must name the criu binary to test with\n");
		return 1;
	}
	if (!mkdtemp(tmp))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmp);
	return ret;
}
