// SPDX-License-Identifier: GPL-2.0-only
/*
 * A dgram unix socket (fd 70, bound to ext-client.sock in the test dir)
 * connected to a socket the runner bound outside the tree ($ZDTM_EXT_SK):
 * dumped and restored with --ext-unix-sk, which connects it to that name
 * again. After restore fd 70 is still bound to its own name and connected
 * to the runner's, and what it sends reaches the runner, which checks for
 * "before" (sent ahead of the dump) and then "ext-unix-sk-ok", both from
 * the test's name.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "zdtmtst.h"

static int same_name(int (*get)(int, struct sockaddr *, socklen_t *), const char *path)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);

	memset(&a, 0, sizeof(a));
	return !get(70, (struct sockaddr *)&a, &len) && a.sun_family == AF_UNIX && !strcmp(a.sun_path, path);
}

int main(int argc, char **argv)
{
	const char *peer = getenv("ZDTM_EXT_SK");
	struct sockaddr_un me = { .sun_family = AF_UNIX }, to = { .sun_family = AF_UNIX };
	int sk, type;
	socklen_t len = sizeof(type);

	test_init(argc, argv);
	if (!peer || strlen(peer) >= sizeof(to.sun_path))
		test_bug("no $ZDTM_EXT_SK: run with \"ext_unix_sk\" in the desc");
	strcpy(to.sun_path, peer);
	test_path(me.sun_path, sizeof(me.sun_path), "ext-client.sock");
	unlink(me.sun_path);
	sk = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (sk < 0 || dup2(sk, 70) != 70 || close(sk))
		test_bug("socket");
	if (bind(70, (struct sockaddr *)&me, sizeof(me)) || connect(70, (struct sockaddr *)&to, sizeof(to)))
		test_bug("bind and connect");
	if (send(70, "before", 6, 0) != 6)
		test_bug("send");

	test_daemon();
	test_waitsig();

	if (getsockopt(70, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_DGRAM)
		fail("fd 70 is no dgram socket any more");
	if (!same_name(getsockname, me.sun_path))
		fail("fd 70 lost its name");
	if (!same_name(getpeername, peer))
		fail("fd 70 is not connected to the runner's socket");
	if (send(70, "ext-unix-sk-ok", 14, 0) != 14)
		fail("send after restore");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
