// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socketpairs whose ends live in different processes: a stream pair
 * between the test and its child (data queued both ways), and a dgram
 * pair whose one end is shared by the test and the child (same socket)
 * with the other end in a grandchild. After C/R the child reads what the
 * test sent, answers, the grandchild reads the datagram sent on the
 * shared end, and the results come back to the test.
 */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static int s[2], d[2];

static void grandchild(void)
{
	char buf[16] = {};

	close(s[0]);
	close(s[1]);
	close(d[0]);
	test_waitsig();
	if (recv(d[1], buf, sizeof(buf), 0) != 6 || strcmp(buf, "dgram"))
		_exit(3);
	if (send(d[1], "back", 5, 0) != 5)
		_exit(4);
	_exit(0);
}

static void child(void)
{
	char buf[16] = {};
	pid_t pid;
	int st;

	close(s[0]);
	pid = fork();
	if (pid < 0)
		_exit(5);
	if (pid == 0)
		grandchild();
	close(d[1]);
	test_waitsig();
	if (recv(s[1], buf, sizeof(buf), 0) != 5 || strcmp(buf, "ping"))
		_exit(1);
	if (send(s[1], "pong", 5, 0) != 5)
		_exit(2);
	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		_exit(6);
	_exit(WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
	char buf[16] = {};
	pid_t pid;
	int st;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) || socketpair(AF_UNIX, SOCK_DGRAM, 0, d))
		test_bug("socketpair");
	if (send(s[0], "ping", 5, 0) != 5 || send(s[1], "early", 6, 0) != 6 || send(d[0], "dgram", 6, 0) != 6)
		test_bug("send");
	pid = zdtm_fork();
	if (pid == 0)
		child();
	close(s[1]);
	test_daemon();
	test_waitsig();
	kill(pid, SIGTERM);
	if (zdtm_reap(pid, &st))
		failv("the child failed (status %#x)", st);
	if (recv(s[0], buf, 6, MSG_DONTWAIT) != 6 || strcmp(buf, "early") ||
	    recv(s[0], buf, sizeof(buf), MSG_DONTWAIT) != 5 || strcmp(buf, "pong"))
		failv("the child's answers are not \"early\" and \"pong\": \"%s\"", buf);
	if (recv(d[0], buf, sizeof(buf), MSG_DONTWAIT) != 5 || strcmp(buf, "back"))
		fail("the grandchild's answer is lost");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
