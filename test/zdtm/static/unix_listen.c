// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stream socket listening on a path (mode 0600) with two connections
 * not accepted yet, and an accepted connection with data queued. After
 * C/R accept() gives the two pending connections in order (each one's
 * client says who it is), each exchanges data both ways, getsockname of
 * an accepted socket is the path, and a new client can still connect.
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

static void talk(int srv, int cli, const char *name)
{
	char buf[32] = {};

	if (write(cli, name, strlen(name)) != (ssize_t)strlen(name) ||
	    read(srv, buf, sizeof(buf) - 1) != (ssize_t)strlen(name) || strcmp(buf, name)) {
		failv("%s: got \"%s\" from the client", name, buf);
		return;
	}
	memset(buf, 0, sizeof(buf));
	if (write(srv, "ok", 2) != 2 || read(cli, buf, 2) != 2 || strcmp(buf, "ok"))
		failv("%s: the answer didn't come through", name);
}

int main(int argc, char **argv)
{
	char path[108], buf[64] = {};
	struct sockaddr_un a, n;
	socklen_t nl = sizeof(n);
	int l, c1, c2, c3, acc, s;
	struct stat st;

	test_init(argc, argv);
	test_path(path, sizeof(path), "zdtm.listen.sock");
	unlink(path);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, addr(&a, path)) || chmod(path, 0600) || listen(l, 8))
		test_bug("listen");
	c3 = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(c3, (struct sockaddr *)&a, addr(&a, path)) || (acc = accept(l, NULL, NULL)) < 0)
		test_bug("accept");
	if (write(c3, "queued", 6) != 6)
		test_bug("write");
	c1 = socket(AF_UNIX, SOCK_STREAM, 0);
	c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(c1, (struct sockaddr *)&a, addr(&a, path)) || connect(c2, (struct sockaddr *)&a, addr(&a, path)))
		test_bug("connect");

	test_daemon();
	test_waitsig();

	if (read(acc, buf, sizeof(buf)) != 6 || memcmp(buf, "queued", 6))
		failv("the accepted connection lost its data: \"%s\"", buf);
	if (getsockname(acc, (struct sockaddr *)&n, &nl) || strcmp(n.sun_path, path))
		failv("the accepted socket is named \"%s\"", n.sun_path);
	if (stat(path, &st) || !S_ISSOCK(st.st_mode) || (st.st_mode & 0777) != 0600)
		failv("the socket file is gone or has mode %o", st.st_mode);
	s = accept(l, NULL, NULL);
	if (s < 0)
		fail("accept of the first pending connection");
	else
		talk(s, c1, "first");
	s = accept(l, NULL, NULL);
	if (s < 0)
		fail("accept of the second pending connection");
	else
		talk(s, c2, "second");
	c3 = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(c3, (struct sockaddr *)&a, addr(&a, path)) || (s = accept(l, NULL, NULL)) < 0)
		fail("a new connection");
	else
		talk(s, c3, "new");
	unlink(path);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
