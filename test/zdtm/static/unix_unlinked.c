// SPDX-License-Identifier: GPL-2.0-only
/*
 * A dgram socket bound to a path that was removed afterwards, with a
 * sender connected to it and two datagrams queued, and a path-bound
 * dgram socket whose path is now taken by another socket file. After C/R
 * getsockname still shows the path, the path is not there again (and
 * still a socket for the other), the datagrams come back and the connected
 * sender still reaches the socket.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "zdtmtst.h"

static socklen_t addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strncpy(a->sun_path, path, sizeof(a->sun_path) - 1);
	return sizeof(*a);
}

int main(int argc, char **argv)
{
	char path[108], path2[108], buf[16] = {};
	struct sockaddr_un a, n;
	socklen_t nl = sizeof(n);
	struct stat st2;
	int r, s, q, other;

	test_init(argc, argv);
	test_path(path, sizeof(path), "zdtm.unlinked.sock");
	test_path(path2, sizeof(path2), "zdtm.replaced.sock");
	unlink(path);
	unlink(path2);
	r = socket(AF_UNIX, SOCK_DGRAM, 0);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	q = socket(AF_UNIX, SOCK_DGRAM, 0);
	other = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (bind(r, (struct sockaddr *)&a, addr(&a, path)) || connect(s, (struct sockaddr *)&a, addr(&a, path)))
		test_bug("bind/connect");
	if (send(s, "one", 3, 0) != 3 || send(s, "two!", 4, 0) != 4)
		test_bug("send");
	if (unlink(path))
		test_bug("unlink");
	/* q's path now belongs to another socket */
	if (bind(q, (struct sockaddr *)&a, addr(&a, path2)) || unlink(path2) ||
	    bind(other, (struct sockaddr *)&a, addr(&a, path2)))
		test_bug("replace");

	test_daemon();
	test_waitsig();

	if (getsockname(r, (struct sockaddr *)&n, &nl) || strcmp(n.sun_path, path))
		failv("the socket is named \"%s\"", n.sun_path);
	nl = sizeof(n);
	if (getsockname(q, (struct sockaddr *)&n, &nl) || strcmp(n.sun_path, path2))
		failv("the second socket is named \"%s\"", n.sun_path);
	errno = 0;
	if (!stat(path, &st2) || errno != ENOENT)
		fail("the removed path is back");
	/*
	 * The other socket is bound again at restore, so its file is a new
	 * inode (ext4 often hands back the same number, so comparing it would
	 * only pass by chance); it must be there and be a socket.
	 */
	if (stat(path2, &st2) || !S_ISSOCK(st2.st_mode))
		fail("the other socket's file is gone");
	if (recv(r, buf, sizeof(buf), MSG_DONTWAIT) != 3 || memcmp(buf, "one", 3) ||
	    recv(r, buf, sizeof(buf), MSG_DONTWAIT) != 4 || memcmp(buf, "two!", 4))
		fail("the queued datagrams are lost");
	if (send(s, "new", 3, 0) != 3 || recv(r, buf, sizeof(buf), MSG_DONTWAIT) != 3)
		fail("the connected sender doesn't reach the socket");
	if (sendto(q, "x", 1, 0, (struct sockaddr *)&a, addr(&a, path2)) != 1 ||
	    recv(other, buf, 1, MSG_DONTWAIT) != 1)
		fail("the path doesn't reach the socket now holding it");
	unlink(path2);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
