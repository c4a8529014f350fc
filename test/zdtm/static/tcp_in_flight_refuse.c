// SPDX-License-Identifier: GPL-2.0-only
/*
 * A listener (fd 80) with a connection not accepted yet, whose client (in
 * the test too) has sent data. No API puts a connection back into an
 * accept queue: without --skip-in-flight the dump is refused, naming the
 * listener and the client; the connection stays queued and is accepted
 * afterwards with its data.
 *
 * Three clients served before it are closed by the server first: the
 * server's ends stay in TIME_WAIT on the listener's port, without an
 * inode like a queued connection, but they are not in its queue and must
 * not be named (a busy http.server has hundreds).
 *
 * With the argument "skip" (tcp_skip_in_flight, dumped --skip-in-flight)
 * the queued connection is dropped: after restore the accept queue is
 * empty, new clients are accepted, and the old client's connection meets
 * a reset (its other end is gone), as soon as the restore is over.
 */
#include <poll.h>
#include <string.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct pollfd p = { .fd = 80, .events = POLLIN };
	int lsk, cli, srv, skip, err = 0;
	char buf[8] = {};

	test_init(argc, argv);
	skip = test_argc > 1 && !strcmp(test_argv[1], "skip");
	lsk = zdtm_tcp_listener(AF_INET, 0, 4);
	if (lsk < 0 || dup2(lsk, 80) != 80)
		test_bug("listener");
	close(lsk);
	for (int i = 0; i < 3; i++) {
		int c = zdtm_tcp_connect(80, AF_INET, 0), s = c < 0 ? -1 : accept(80, NULL, NULL);

		/* the server closes first; the client's close, on its EOF, puts the server's end in TIME_WAIT */
		if (s < 0 || close(s) || read(c, buf, sizeof(buf)) != 0)
			test_bug("a served client");
		close(c);
	}
	cli = zdtm_tcp_connect(80, AF_INET, 0);
	if (cli < 0 || write(cli, "hello", 5) != 5)
		test_bug("client");
	usleep(50000);

	test_daemon();
	if (!skip)
		test_waitsig();
	/*
	 * The dropped connection's reset comes once the restore is over. A
	 * client takes its error when it comes, as this one does: a socket
	 * with an error pending can't be dumped again (--iters).
	 */
	while (skip && test_go()) {
		struct pollfd c = { .fd = cli, .events = 0 };

		if (!err && poll(&c, 1, 100) == 1 && (c.revents & POLLERR))
			getsockopt(cli, SOL_SOCKET, SO_ERROR, &err, &(socklen_t){ sizeof(err) });
		else if (err)
			usleep(100000);
	}

	if (!skip) {
		srv = accept(80, NULL, NULL);
		if (srv < 0 || read(srv, buf, sizeof(buf)) != 5 || strcmp(buf, "hello"))
			fail("the connection not accepted before is gone or lost its data (\"%s\")", buf);
	} else {
		if (poll(&p, 1, 0) != 0)
			failv("the accept queue is not empty");
		srv = zdtm_tcp_connect(80, AF_INET, 0);
		if (srv < 0 || accept(80, NULL, NULL) < 0)
			fail("a new client");
		/* our side of the dropped connection: its peer is gone */
		if (err && err != ECONNRESET)
			failv("the dropped connection's client got error %d, not a reset", err);
		for (int i = 0; i < 100 && !err; i++) {
			if (send(cli, "x", 1, MSG_NOSIGNAL) < 0)
				err = errno;
			usleep(10000);
		}
		if (err != ECONNRESET && err != EPIPE)
			failv("the dropped connection's client got %d, not a reset", err);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
