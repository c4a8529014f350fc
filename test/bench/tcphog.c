/*
 * tcphog NCONN PIDFILE
 *
 * The victim of the benchmark's tcp scenario (see scripts/bench): NCONN
 * established loopback TCP connections with both ends in the tree (the
 * process holds the clients, its child the servers), 64 KiB queued on
 * each, one way and the other (written, not read), plus one more
 * connection carrying a heartbeat: the root sends its CLOCK_MONOTONIC
 * every millisecond, the child echoes it, and the root keeps the longest
 * time between two echoes (the time the peers saw no traffic: a dump and
 * restore of the tree shows there).
 *
 * Once set up (the "ready" line gives setup_s) the root writes PIDFILE.
 * On SIGTERM the root stops the heartbeat, reads and checks the 64 KiB
 * queued for each client, sends SIGTERM to the child, which does the same
 * for each server, and prints OK (with max_gap_ms) or BAD.
 * Exit status: 0 OK, 1 BAD, 2 setup failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QUEUED	(64 << 10)

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint8_t pattern(uint64_t seed, uint64_t off)
{
	uint64_t z = (seed + 1) * 0x9e3779b97f4a7c15ULL + off / 8;

	z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
	return z >> ((off % 8) * 8);
}

static int write_pattern(int sk, uint64_t seed)
{
	uint8_t buf[QUEUED];
	size_t done = 0;

	for (size_t i = 0; i < QUEUED; i++)
		buf[i] = pattern(seed, i);
	while (done < QUEUED) {
		ssize_t n = write(sk, buf + done, QUEUED - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static int check_pattern(int sk, uint64_t seed)
{
	uint8_t buf[QUEUED];
	size_t got = 0;

	while (got < QUEUED) {
		struct pollfd p = { .fd = sk, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10000) != 1)
			return -1;
		n = read(sk, buf + got, QUEUED - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	for (size_t i = 0; i < QUEUED; i++)
		if (buf[i] != pattern(seed, i))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0, lsk, hb[2], *cli, *srv, bad = 0, status;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	uint64_t t0 = now_ns(), last = 0, gap = 0;
	struct rlimit rl;
	pid_t child;
	FILE *f;

	if (n <= 0) {
		fprintf(stderr, "usage: tcphog NCONN PIDFILE\n");
		return 2;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGTERM, on_term);
	cli = calloc(n + 1, sizeof(int));
	srv = calloc(n + 1, sizeof(int));
	lsk = socket(AF_INET, SOCK_STREAM, 0);
	if (!cli || !srv || lsk < 0 || bind(lsk, (struct sockaddr *)&a, len) ||
	    getsockname(lsk, (struct sockaddr *)&a, &len) || listen(lsk, 128))
		return 2;
	/* connection n is the heartbeat */
	for (int i = 0; i <= n; i++) {
		cli[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (cli[i] < 0 || connect(cli[i], (struct sockaddr *)&a, len) ||
		    (srv[i] = accept(lsk, NULL, NULL)) < 0) {
			perror("connection");
			return 2;
		}
		if (i < n && (write_pattern(cli[i], i) || write_pattern(srv[i], n + i))) {
			perror("write");
			return 2;
		}
	}
	close(lsk);
	hb[0] = cli[n];
	hb[1] = srv[n];
	child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		uint64_t ts;

		for (int i = 0; i <= n; i++)
			close(cli[i]);
		/* echo the heartbeat until SIGTERM, then check what the servers had queued */
		while (!got_term) {
			struct pollfd p = { .fd = hb[1], .events = POLLIN };

			if (poll(&p, 1, 100) == 1 && read(hb[1], &ts, sizeof(ts)) == sizeof(ts) &&
			    write(hb[1], &ts, sizeof(ts)) != sizeof(ts))
				return 2;
		}
		for (int i = 0; i < n; i++)
			bad |= check_pattern(srv[i], i);
		return bad ? 1 : 0;
	}
	for (int i = 0; i <= n; i++)
		close(srv[i]);
	printf("tcphog: pid %d conns=%d setup_s=%.4f\n", getpid(), n, (now_ns() - t0) / 1e9);
	fflush(stdout);
	f = fopen(argv[2], "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		return 2;
	while (!got_term) {
		struct pollfd p = { .fd = hb[0], .events = POLLIN };
		uint64_t ts = now_ns();

		if (write(hb[0], &ts, sizeof(ts)) != sizeof(ts))
			break;
		if (poll(&p, 1, -1) == 1 && read(hb[0], &ts, sizeof(ts)) == sizeof(ts)) {
			uint64_t t = now_ns();

			if (last && t - last > gap)
				gap = t - last;
			last = t;
		}
		usleep(1000);
	}
	for (int i = 0; i < n; i++)
		bad |= check_pattern(cli[i], n + i);
	kill(child, SIGTERM);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		bad = 1;
	printf("tcphog: %s conns=%d max_gap_ms=%.3f\n", bad ? "BAD" : "OK", n, gap / 1e6);
	return bad;
}
