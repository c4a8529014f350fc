// SPDX-License-Identifier: GPL-2.0-only
/*
 * A dgram socket bound to a relative name ("sock") in the task's cwd, with
 * a datagram queued from a sender connected to it by that name; then the
 * file and the cwd itself are removed (the task stays in it). After C/R
 * getsockname still says "sock", the datagram is there, the sender still
 * reaches the socket, and the directory is not there again.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "sock" }, n;
	socklen_t l = sizeof(n);
	char dir[256], b[8];
	struct stat st;
	int sk, snd;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "cwd");
	if (mkdir(dir, 0755) || chdir(dir))
		test_bug("cwd");
	sk = socket(AF_UNIX, SOCK_DGRAM, 0);
	snd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (bind(sk, (struct sockaddr *)&a, sizeof(a)) || connect(snd, (struct sockaddr *)&a, sizeof(a)) ||
	    send(snd, "one", 3, 0) != 3)
		test_bug("bind");
	if (unlink("sock") || rmdir(dir))
		test_bug("remove");

	test_daemon();
	test_waitsig();

	memset(&n, 0, sizeof(n));
	if (getsockname(sk, (struct sockaddr *)&n, &l) || strcmp(n.sun_path, "sock"))
		failv("the socket's name is \"%s\"", n.sun_path);
	if (recv(sk, b, sizeof(b), MSG_DONTWAIT) != 3 || memcmp(b, "one", 3))
		fail("the queued datagram");
	if (send(snd, "two", 3, 0) != 3 || recv(sk, b, sizeof(b), MSG_DONTWAIT) != 3 || memcmp(b, "two", 3))
		fail("the sender does not reach the socket");
	if (!stat(dir, &st) || errno != ENOENT)
		failv("%s is there again", dir);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
