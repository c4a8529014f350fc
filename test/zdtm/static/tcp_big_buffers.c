// SPDX-License-Identifier: GPL-2.0-only
/*
 * Several MiB queued on one TCP connection (both ends in the test): the
 * client writes until its send buffer takes no more and the server reads
 * nothing, the server writes 3 MiB the client doesn't read. As root the
 * buffers are set to 4 MiB (SO_SNDBUFFORCE, SO_RCVBUFFORCE), otherwise
 * the kernel's autotuning grows them. After restore every byte arrives,
 * in order, and the buffer sizes are as they were.
 */
#include <sys/wait.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#define BIG	(4 << 20)

static int bufsize(int sk, int opt)
{
	int v = 0;

	getsockopt(sk, SOL_SOCKET, opt, &v, &(socklen_t){ sizeof(v) });
	return v;
}

int main(int argc, char **argv)
{
	uint64_t seed = zdtm_random(), c2s = 0, s2c = 0, r;
	int lsk, cli, srv, root = getuid() == 0, snd, rcv, status;
	size_t queued = 0;
	pid_t pid;

	test_init(argc, argv);
	lsk = zdtm_tcp_listener(AF_INET, 0, 1);
	cli = socket(AF_INET, SOCK_STREAM, 0);
	if (root && (setsockopt(lsk, SOL_SOCKET, SO_RCVBUFFORCE, &(int){ BIG }, sizeof(int)) ||
		     setsockopt(cli, SOL_SOCKET, SO_SNDBUFFORCE, &(int){ BIG }, sizeof(int)) ||
		     setsockopt(cli, SOL_SOCKET, SO_RCVBUFFORCE, &(int){ BIG }, sizeof(int))))
		test_bug("buffers");
	{
		struct sockaddr_storage ss;
		socklen_t len = zdtm_loopback(AF_INET, 0, zdtm_port(lsk), &ss);

		if (connect(cli, (struct sockaddr *)&ss, len))
			test_bug("connect");
	}
	srv = accept(lsk, NULL, NULL);
	if (srv < 0)
		test_bug("accept");
	close(lsk);
	if (zdtm_stream_write(srv, 3 << 20, seed + 1, &s2c))
		test_bug("server write");
	/* autotuning grows the buffers as they fill: a few rounds */
	for (int i = 0; i < 50; i++) {
		queued += zdtm_stream_fill_nb(cli, BIG, seed, &c2s);
		usleep(10000);
	}
	if (c2s < (4 << 20))
		test_bug("only %llu bytes queued", (unsigned long long)c2s);
	test_msg("%llu bytes queued client to server, %llu the other way\n", (unsigned long long)c2s,
		 (unsigned long long)s2c);
	snd = bufsize(cli, SO_SNDBUF);
	rcv = bufsize(srv, SO_RCVBUF);
	pid = zdtm_fork();
	if (pid == 0) {
		close(cli);
		test_waitsig();
		r = 0;
		if (zdtm_stream_read(srv, (size_t)-1, seed, &r, 10000) != (int64_t)c2s)
			_exit(1);
		_exit(0);
	}

	test_daemon();
	test_waitsig();

	if (root && (bufsize(cli, SO_SNDBUF) != snd || bufsize(srv, SO_RCVBUF) != rcv))
		failv("buffer sizes %d/%d, were %d/%d", bufsize(cli, SO_SNDBUF), bufsize(srv, SO_RCVBUF), snd, rcv);
	kill(pid, SIGTERM);
	shutdown(cli, SHUT_WR);
	r = 0;
	if (zdtm_stream_read(cli, 3 << 20, seed + 1, &r, 10000) != 3 << 20)
		failv("the client got %llu bytes", (unsigned long long)r);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		failv("the server did not get the %llu bytes (status %#x)", (unsigned long long)c2s, status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
