/* Small helpers of criu/mount/: paths, a helper inside another mount namespace, fd passing. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "mnt.h"
#include "mntns.h"

const char *path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return path + (path[0] == '/');
	if (strncmp(path, dir, n) || (path[n] && path[n] != '/'))
		return NULL;
	return path[n] ? path + n + 1 : path + n;
}

bool path_within(const char *path, const char *dir)
{
	return path_below(path, dir) != NULL;
}

int send_fd(int sk, int fd)
{
	char c = 0, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf) };
	struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);

	memset(buf, 0, sizeof(buf));
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	if (sendmsg(sk, &mh, 0) != 1) {
		pr_perror("can't pass an fd on");
		return -1;
	}
	return 0;
}

int recv_fd(int sk)
{
	char c, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf) };
	struct cmsghdr *ch;
	int fd;

	if (recvmsg(sk, &mh, MSG_CMSG_CLOEXEC) != 1) {
		pr_perror("can't receive an fd");
		return -1;
	}
	ch = CMSG_FIRSTHDR(&mh);
	if (!ch || ch->cmsg_type != SCM_RIGHTS || ch->cmsg_len != CMSG_LEN(sizeof(int))) {
		pr_err("no fd came with the message\n");
		return -1;
	}
	memcpy(&fd, CMSG_DATA(ch), sizeof(int));
	return fd;
}

/*
 * A forked child that joins the mount namespace (and so has its root as
 * root and cwd) runs @fn. Only it changes namespace: criu stays where it is.
 */
int mnt_helper(int nsfd, int (*fn)(void *arg, int sk), void *arg, int *fd_out)
{
	int sk[2], status, ret = -1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("socketpair");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("can't fork a helper for the mount namespace");
		goto out;
	}
	if (pid == 0) {
		close(sk[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setns(nsfd, CLONE_NEWNS)) {
			pr_perror("can't enter the tree's mount namespace");
			_exit(1);
		}
		_exit(fn(arg, sk[1]) ? 1 : 0);
	}
	close(sk[1]);
	sk[1] = -1;
	if (fd_out) {
		*fd_out = recv_fd(sk[0]);
		if (*fd_out < 0)
			kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			pr_perror("waiting for the mount namespace helper");
			goto out;
		}
	ret = WIFEXITED(status) && WEXITSTATUS(status) == 0 && (!fd_out || *fd_out >= 0) ? 0 : -1;
	if (WIFSIGNALED(status))
		pr_err("the mount namespace helper was killed by signal %d\n", WTERMSIG(status));
	if (ret && fd_out && *fd_out >= 0) {
		close(*fd_out);
		*fd_out = -1;
	}
out:
	close(sk[0]);
	if (sk[1] >= 0)
		close(sk[1]);
	return ret;
}

static size_t slot_of(const struct u64_map *m, uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ULL;

	return (h >> 17) & (m->cap - 1);
}

static int u64_map_grow(struct u64_map *m)
{
	struct u64_map n = { .cap = m->cap ? m->cap * 2 : 64 };

	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = calloc(n.cap, sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->vals[i])
			u64_map_put(&n, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	*m = n;
	return 0;
}

/* A key given again replaces its value. */
int u64_map_put(struct u64_map *m, uint64_t key, void *val)
{
	size_t i;

	if ((m->nr + 1) * 2 > m->cap && u64_map_grow(m))
		return -1;
	for (i = slot_of(m, key); m->vals[i] && m->keys[i] != key; i = (i + 1) & (m->cap - 1))
		;
	if (!m->vals[i])
		m->nr++;
	m->keys[i] = key;
	m->vals[i] = val;
	return 0;
}

void *u64_map_get(const struct u64_map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot_of(m, key); m->vals[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key)
			return m->vals[i];
	return NULL;
}

void u64_map_free(struct u64_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* Kinds of files restore makes without a path: any task may make them for another. */
bool mntns_pathless(const FileEntry *fe)
{
	switch (fe->type) {
	case FILE_TYPE__FT_PIPE:
	case FILE_TYPE__FT_EVENTFD:
	case FILE_TYPE__FT_SIGNALFD:
	case FILE_TYPE__FT_TIMERFD:
	case FILE_TYPE__FT_EPOLL:
	case FILE_TYPE__FT_MEMFD:
	case FILE_TYPE__FT_PIDFD:
	case FILE_TYPE__FT_INETSK:
	case FILE_TYPE__FT_PACKETSK:
	case FILE_TYPE__FT_NETLINKSK:
		return true;
	case FILE_TYPE__FT_UNIXSK:
		return !fe->usk || !fe->usk->has_name || !fe->usk->name.len || !fe->usk->name.data[0];
	default:
		return false;
	}
}
