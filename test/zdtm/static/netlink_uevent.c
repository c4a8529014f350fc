// SPDX-License-Identifier: GPL-2.0-only
/*
 * A uevent netlink socket (root: synthetic uevents are made by writing to
 * sysfs) in group 1 with a uevent queued on it at the dump. Queued uevents
 * can't be saved (no reading past the first without taking it); criu
 * leaves them out with a warning, as if the queue had overflowed. After
 * restore the socket is still in group 1 and the next uevent on lo (tagged
 * with a SYNTH_UUID of its own) is the first thing it reads.
 */
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#define UEVENT	"/sys/class/net/lo/uevent"

static void synth(int tag)
{
	char buf[80];
	int fd = open(UEVENT, O_WRONLY);
	/* the pid keeps other runs' uevents apart */
	int n = snprintf(buf, sizeof(buf), "change 00000000-0000-4000-8000-%012llx",
			 (unsigned long long)getpid() << 8 | tag);

	if (fd < 0 || write(fd, buf, n) != n)
		test_bug("writing %s", UEVENT);
	close(fd);
}

/* The tag of the next uevent about lo with our pid in its SYNTH_UUID, or -1. */
static int next_tag(int sk)
{
	char buf[8192];

	for (;;) {
		struct pollfd p = { .fd = sk, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			return -1;
		n = recv(sk, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			return -1;
		buf[n] = 0;
		if (!strstr(buf, "/net/lo"))
			continue;
		for (char *s = buf; s < buf + n; s += strlen(s) + 1) {
			unsigned long long v;

			if (strncmp(s, "SYNTH_UUID=", 11) || strlen(s) < 12 ||
			    sscanf(s + strlen(s) - 12, "%12llx", &v) != 1 || (pid_t)(v >> 8) != getpid())
				continue;
			return v & 0xff;
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	struct pollfd p;
	int sk, tag;

	test_init(argc, argv);
	sk = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT);
	if (sk < 0 || bind(sk, (struct sockaddr *)&a, sizeof(a)))
		test_bug("uevent socket");
	synth(1);
	p = (struct pollfd){ .fd = sk, .events = POLLIN };
	if (poll(&p, 1, 5000) != 1)
		test_bug("no uevent queued");

	test_daemon();
	test_waitsig();

	synth(2);
	tag = next_tag(sk);
	if (tag != 2)
		failv("the first uevent read after restore has tag %d, want 2", tag);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
