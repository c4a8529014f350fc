// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

socklen_t zdtm_loopback(int family, int mapped, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (mapped)
			inet_pton(AF_INET6, "::ffff:127.0.0.1", &a->sin6_addr);
		else
			a->sin6_addr = in6addr_loopback;
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*a);
}

uint16_t zdtm_port(int sk)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(sk, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int zdtm_tcp_listener(int family, int v6only, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int sk = socket(family, SOCK_STREAM, 0), one = 1;

	if (sk < 0)
		return -1;
	if (family == AF_INET6) {
		/* dual stack: bound to :: so that v4-mapped clients reach it too */
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		if (setsockopt(sk, SOL_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)))
			goto err;
		memset(&ss, 0, sizeof(ss));
		a->sin6_family = AF_INET6;
		if (v6only)
			a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		len = zdtm_loopback(family, 0, 0, &ss);
	}
	if (setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) || bind(sk, (struct sockaddr *)&ss, len) ||
	    listen(sk, backlog))
		goto err;
	return sk;
err:
	close(sk);
	return -1;
}

int zdtm_tcp_connect(int lsk, int family, int mapped)
{
	struct sockaddr_storage ss;
	socklen_t len = zdtm_loopback(family, mapped, zdtm_port(lsk), &ss);
	int sk = socket(family, SOCK_STREAM, 0);

	if (sk < 0)
		return -1;
	if (connect(sk, (struct sockaddr *)&ss, len)) {
		close(sk);
		return -1;
	}
	return sk;
}

int zdtm_tcp_pair(int family, int mapped, int *cli, int *srv)
{
	int lsk = zdtm_tcp_listener(mapped ? AF_INET6 : family, 0, 1);

	if (lsk < 0)
		return -1;
	*cli = zdtm_tcp_connect(lsk, family, mapped);
	*srv = *cli < 0 ? -1 : accept(lsk, NULL, NULL);
	close(lsk);
	if (*srv < 0) {
		if (*cli >= 0)
			close(*cli);
		return -1;
	}
	return 0;
}

void zdtm_stream_fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = zdtm_stream_byte(seed, off + i);
}

int64_t zdtm_stream_check(const uint8_t *buf, size_t len, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != zdtm_stream_byte(seed, off + i))
			return off + i;
	return -1;
}

int zdtm_stream_write(int sk, size_t len, uint64_t seed, uint64_t *off)
{
	uint8_t buf[16384];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		ssize_t w;

		zdtm_stream_fill(buf, n, seed, *off);
		w = write(sk, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		*off += w;
		len -= w;
	}
	return 0;
}

size_t zdtm_stream_fill_nb(int sk, size_t max, uint64_t seed, uint64_t *off)
{
	int fl = fcntl(sk, F_GETFL);
	uint8_t buf[16384];
	size_t done = 0;

	fcntl(sk, F_SETFL, fl | O_NONBLOCK);
	while (done < max) {
		size_t n = max - done < sizeof(buf) ? max - done : sizeof(buf);
		ssize_t w;

		zdtm_stream_fill(buf, n, seed, *off);
		w = send(sk, buf, n, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		*off += w;
		done += w;
	}
	fcntl(sk, F_SETFL, fl);
	return done;
}

int64_t zdtm_stream_read(int sk, size_t max, uint64_t seed, uint64_t *off, int timeout_ms)
{
	uint8_t buf[16384];
	int64_t total = 0, bad;

	while ((size_t)total < max) {
		struct pollfd p = { .fd = sk, .events = POLLIN };
		size_t n = max - total < sizeof(buf) ? max - total : sizeof(buf);
		ssize_t r;

		if (poll(&p, 1, timeout_ms) == 0) {
			test_msg("no data for %d ms after %lld bytes\n", timeout_ms, (long long)total);
			return -1;
		}
		r = read(sk, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail("read after %lld bytes", (long long)total);
			return -1;
		}
		if (r == 0)
			break;
		bad = zdtm_stream_check(buf, r, seed, *off);
		if (bad >= 0) {
			failv("a wrong byte at stream offset %lld", (long long)bad);
			return -1;
		}
		*off += r;
		total += r;
	}
	return total;
}

int zdtm_tcp_info(int sk, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	return getsockopt(sk, SOL_TCP, TCP_INFO, ti, &len);
}

/* ---- network namespaces ---- */

int zdtm_netns_own(void)
{
	const char *flavor = getenv("ZDTM_FLAVOR");
	struct ifreq ifr = { .ifr_name = "lo" };
	int sk;

	/* the ns flavors' network namespace is the test's already */
	if (flavor && strcmp(flavor, "h"))
		return 0;
	if (unshare(CLONE_NEWNET))
		return -1;
	sk = socket(AF_INET, SOCK_DGRAM, 0);
	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr))
		return -1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sk, SIOCSIFFLAGS, &ifr))
		return -1;
	close(sk);
	return 0;
}

static int run_in(int nsfd, const char *input, const char *fmt, va_list ap)
{
	char line[4096], *argv[64], *save = NULL;
	int in[2], status, n = 0;
	pid_t pid;

	vsnprintf(line, sizeof(line), fmt, ap);
	for (char *w = strtok_r(line, " ", &save); w && n < 63; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	if (!n || pipe(in))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET))
			_exit(126);
		dup2(in[0], 0);
		if (null >= 0)
			dup2(null, 1);
		close(in[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	if (input && write(in[1], input, strlen(input)) != (ssize_t)strlen(input))
		test_msg("short write to %s\n", argv[0]);
	close(in[1]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		test_msg("%s: %s\n", line, WIFEXITED(status) ? "failed" : "killed");
		return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	return 0;
}

int zdtm_run(const char *input, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = run_in(-1, input, fmt, ap);
	va_end(ap);
	return ret;
}

int zdtm_in_netns(int nsfd, int (*fn)(void *arg), void *arg)
{
	int self = open("/proc/self/ns/net", O_RDONLY), ret;

	if (self < 0 || setns(nsfd, CLONE_NEWNET))
		return -1;
	ret = fn(arg);
	if (setns(self, CLONE_NEWNET))
		ret = -1;
	close(self);
	return ret;
}

int zdtm_link_flags(const char *name)
{
	struct ifreq ifr = {};
	int sk = socket(AF_INET, SOCK_DGRAM, 0), ret = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (sk >= 0 && !ioctl(sk, SIOCGIFFLAGS, &ifr))
		ret = ifr.ifr_flags & 0xffff;
	if (sk >= 0)
		close(sk);
	return ret;
}

/* A command line run in the runner's network namespace ($ZDTM_HOST_NETNS_FD). */
static int on_host(const char *fmt, ...)
{
	const char *fd = getenv("ZDTM_HOST_NETNS_FD");
	va_list ap;
	int ret;

	if (!fd)
		return -1;
	va_start(ap, fmt);
	ret = run_in(atoi(fd), NULL, fmt, ap);
	va_end(ap);
	return ret;
}

/* The runner's namespace is no state of the test's: its fd must not be dumped. */
static void host_done(void)
{
	const char *fd = getenv("ZDTM_HOST_NETNS_FD");

	if (fd)
		close(atoi(fd));
	unsetenv("ZDTM_HOST_NETNS_FD");
}

int zdtm_veth_to_host(const char *in)
{
	const char *out = getenv("ZDTM_VETH_OUT"), *br = getenv("ZDTM_BRIDGE"), *addr = getenv("ZDTM_VETH_ADDR");
	int ret;

	if (!out || !br || !addr)
		return -1;
	/* made there, with its peer here: `netns PID` is our pid as ip sees it */
	ret = on_host("ip link add %s type veth peer name %s netns %d", out, in, getpid()) ||
	      on_host("ip link set %s master %s up", out, br);
	host_done();
	if (ret)
		return -1;
	return zdtm_run(NULL, "ip addr add %s/24 dev %s", addr, in) || zdtm_run(NULL, "ip link set %s up", in);
}

int zdtm_macvlan_on_host(const char *name)
{
	const char *lower = getenv("ZDTM_MACVLAN_LOWER");
	int ret;

	if (!lower)
		return -1;
	ret = on_host("ip link add %s link %s netns %d type macvlan mode bridge", name, lower, getpid());
	host_done();
	return ret;
}

int zdtm_wait_dad(void)
{
	for (int i = 0; i < 300; i++) {
		char line[256];
		int tentative = 0;
		FILE *f = fopen("/proc/self/net/if_inet6", "r");

		while (f && fgets(line, sizeof(line), f)) {
			unsigned idx, plen, scope, flags;
			char addr[64], dev[32];

			/* IFA_F_TENTATIVE */
			if (sscanf(line, "%63s %x %x %x %x %31s", addr, &idx, &plen, &scope, &flags, dev) == 6 &&
			    (flags & 0x40))
				tentative = 1;
		}
		if (f)
			fclose(f);
		if (!tentative)
			return 0;
		usleep(20000);
	}
	return -1;
}
