// SPDX-License-Identifier: GPL-2.0-only
/*
 * A dgram socket bound to a path whose directories were removed since
 * (dir/a/b/sock; the socket file, b and a are gone: a server's private
 * temporary directory cleaned up while it runs), with a sender connected
 * to it and a datagram queued. After C/R getsockname still shows the path,
 * the datagram is there, the sender still reaches the socket, and neither
 * the file nor the directories are there again.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX }, n;
	char dir[100], sub[120], buf[16];
	socklen_t len = sizeof(n);
	struct stat st;
	int rcv, snd;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "a");
	snprintf(sub, sizeof(sub), "%s/b", dir);
	if (snprintf(a.sun_path, sizeof(a.sun_path), "%s/sock", sub) >= (int)sizeof(a.sun_path))
		test_bug("a path too long");
	rcv = socket(AF_UNIX, SOCK_DGRAM, 0);
	snd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (mkdir(dir, 0700) || mkdir(sub, 0700) || bind(rcv, (struct sockaddr *)&a, sizeof(a)) ||
	    connect(snd, (struct sockaddr *)&a, sizeof(a)) || send(snd, "one", 3, 0) != 3)
		test_bug("setup");
	if (unlink(a.sun_path) || rmdir(sub) || rmdir(dir))
		test_bug("remove");

	test_daemon();
	test_waitsig();

	if (getsockname(rcv, (struct sockaddr *)&n, &len) || strcmp(n.sun_path, a.sun_path))
		failv("the socket's name is \"%s\", not %s", n.sun_path, a.sun_path);
	if (recv(rcv, buf, sizeof(buf), MSG_DONTWAIT) != 3 || memcmp(buf, "one", 3))
		fail("the queued datagram");
	if (send(snd, "two", 3, 0) != 3 || recv(rcv, buf, sizeof(buf), MSG_DONTWAIT) != 3 || memcmp(buf, "two", 3))
		fail("the sender does not reach the socket");
	if (!stat(a.sun_path, &st) || !stat(sub, &st) || !stat(dir, &st) || errno != ENOENT)
		failv("%s or its directories are there again", a.sun_path);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
