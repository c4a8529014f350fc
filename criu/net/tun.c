/*
 * /dev/net/tun fds: the tun/tap device each is attached to (TUNGETIFF on a
 * copy of the fd) and the queue's settings. The device itself is one of
 * the network namespace's links (criu/ns/net-link.c): restore makes it
 * persistent, the fds attach to it again by name, and once every task has
 * its fds (net_restore_finish()) a device that was not persistent is made
 * so again through one of them, so that it goes with its last fd as it
 * would have.
 *
 * Refused: a device that is not persistent and not in a network namespace
 * of the tree's own (nothing would make it), and a device with queues
 * attached by fds outside the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "fdkinds.h"
#include "log.h"
#include "netns.h"
#include "util.h"

#define TUN_MAJOR 10
#define TUN_MINOR 200
#define MAX_TUN 256

/* The devices the namespace's dump saw, and the tree's fds on each. */
static struct tun_dev {
	char name[IFNAMSIZ];
	int persist, carrier;
	uint32_t queues, fds;
} devs[MAX_TUN];
static int nr_devs;

int is_tun_dev(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(TUN_MAJOR, TUN_MINOR);
}

int net_tun_dev_seen(const char *name, int persist, uint32_t queues, int carrier)
{
	if (nr_devs == MAX_TUN) {
		pr_err("too many tun devices (at most %d)\n", MAX_TUN);
		return -1;
	}
	snprintf(devs[nr_devs].name, IFNAMSIZ, "%s", name);
	devs[nr_devs].persist = persist;
	devs[nr_devs].carrier = carrier;
	devs[nr_devs].queues = queues;
	devs[nr_devs].fds = 0;
	nr_devs++;
	return 0;
}

static struct tun_dev *dev_of(const char *name)
{
	for (int i = 0; i < nr_devs; i++)
		if (!strcmp(devs[i].name, name))
			return &devs[i];
	return NULL;
}

#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif

/* Is the device of tun fd @sk in the network namespace of @pid? */
static int same_netns(pid_t pid, int sk)
{
	char path[64];
	struct stat a, b;
	int ns = ioctl(sk, TUNGETDEVNETNS);

	if (ns < 0)
		return 1;	/* an older kernel: the task's, as it is most likely */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (fstat(ns, &a) || stat(path, &b)) {
		close(ns);
		return 0;
	}
	close(ns);
	return a.st_ino == b.st_ino;
}

static int dump_tun(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi,
		    FileEntry *fe)
{
	char path[64], link[PATH_MAX];
	struct ifreq ifr = {};
	TunEntry *t = malloc(sizeof(*t));
	int sk = -1, ret = -1;
	ssize_t n;

	(void)ft;
	(void)info;
	if (!t) {
		pr_err("out of memory\n");
		return -1;
	}
	tun_entry__init(t);
	fe->tun = t;
	t->flags = fi->flags;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	t->path = strdup(n > 0 && link[0] == '/' ? link : "/dev/net/tun");
	sk = task_fd(pid, fd);
	if (!t->path || sk < 0)
		goto out;
	if (ioctl(sk, TUNGETIFF, &ifr)) {
		if (errno != EBADFD) {
			pr_perror("can't read the tun device of fd %d of %d", fd, pid);
			goto out;
		}
		ret = 0;	/* not attached to a device */
		goto out;
	}
	t->ifname = strndup(ifr.ifr_name, IFNAMSIZ);
	t->has_ifflags = true;
	t->ifflags = (uint16_t)ifr.ifr_flags;
	if (!t->ifname)
		goto out;
	if (!same_netns(pid, sk)) {
		pr_err("can't dump task %d: fd %d is attached to tun device %s of another network namespace than the "
		       "task's\n", pid, fd, t->ifname);
		goto out;
	}
#define GET(req, field)                                        \
	do {                                                   \
		int v;                                         \
		if (!ioctl(sk, req, &v)) {                     \
			t->has_##field = true;                 \
			t->field = v;                          \
		}                                              \
	} while (0)
	GET(TUNGETSNDBUF, sndbuf);
	GET(TUNGETVNETHDRSZ, vnet_hdr_sz);
	GET(TUNGETVNETLE, vnet_le);
	GET(TUNGETVNETBE, vnet_be);
#undef GET
	{
		struct tun_dev *d = dev_of(t->ifname);

		if (d) {
			d->fds++;
			t->has_carrier = true;
			t->carrier = d->carrier;
		} else if (!(t->ifflags & IFF_PERSIST)) {
			pr_err("can't dump task %d: fd %d is attached to tun device %s, which is not persistent and not "
			       "in a network namespace of the tree's own: nothing would make it again\n", pid, fd,
			       t->ifname);
			goto out;
		}
	}
	ret = 0;
out:
	if (sk >= 0)
		close(sk);
	return ret;
}

int tun_check_queues(void)
{
	for (int i = 0; i < nr_devs; i++)
		if (devs[i].queues > devs[i].fds) {
			pr_err("can't dump: tun device %s has %u queues attached, only %u by fds of the tree; the others "
			       "are outside it\n", devs[i].name, devs[i].queues, devs[i].fds);
			return -1;
		}
	return 0;
}

void tun_dump_fini(void)
{
	nr_devs = 0;
}

static int open_tun(struct fd_rst *c, FileEntry *fe)
{
	TunEntry *t = fe->tun;
	struct ifreq ifr = {};
	struct stat st;
	int fd;

	(void)c;
	if (!t || !t->path) {
		pr_err("file %u: a bad tun record\n", fe->id);
		return -1;
	}
	fd = open(t->path, (t->flags & ~O_CREAT) | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !is_tun_dev(&st)) {
		pr_perror("can't open %s as /dev/net/tun", t->path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!t->ifname)
		return fd;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", t->ifname);
	ifr.ifr_flags = t->ifflags & (IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE | IFF_NAPI |
				      IFF_NAPI_FRAGS);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		pr_perror("can't attach an fd to tun device %s (flags %#x)", t->ifname, t->ifflags);
		close(fd);
		return -1;
	}
	if ((t->has_sndbuf && ioctl(fd, TUNSETSNDBUF, &t->sndbuf)) ||
	    (t->has_vnet_hdr_sz && ioctl(fd, TUNSETVNETHDRSZ, &t->vnet_hdr_sz)) ||
	    (t->has_vnet_le && ioctl(fd, TUNSETVNETLE, &t->vnet_le)) ||
	    (t->has_vnet_be && ioctl(fd, TUNSETVNETBE, &t->vnet_be) && errno != EINVAL)) {
		pr_perror("can't set up the fd of tun device %s", t->ifname);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The operational state follows the carrier through linkwatch, up to a
 * second later: asking for the link state (ETHTOOL_GLINK) in the device's
 * namespace runs it at once (a child enters it: criu may not come back).
 */
static void settle(pid_t pid, const char *name)
{
	char path[64];
	int status;
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	child = fork();
	if (child == 0) {
		struct ethtool_value ev = { .cmd = ETHTOOL_GLINK };
		struct ifreq ifr = { .ifr_data = (void *)&ev };
		int ns = open(path, O_RDONLY | O_CLOEXEC), sk;

		if (ns < 0 || setns(ns, CLONE_NEWNET))
			_exit(1);
		sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		_exit(sk < 0 || ioctl(sk, SIOCETHTOOL, &ifr) ? 1 : 0);
	}
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		pr_warn("tun device %s: its state follows its carrier (off) within a second\n", name);
}

int tun_restore_persist(pid_t pid, int fd, const FileEntry *fe)
{
	int sk, off = 0, carrier_off = fe->tun && fe->tun->has_carrier && !fe->tun->carrier;

	if (!fe->tun || !fe->tun->ifname || ((fe->tun->ifflags & IFF_PERSIST) && !carrier_off))
		return 0;
	sk = task_fd(pid, fd);
	if (sk < 0)
		return -1;
	/* each queue's attach turned the carrier on: all are in now */
	if (carrier_off && ioctl(sk, TUNSETCARRIER, &off)) {
		pr_perror("can't turn the carrier of tun device %s off", fe->tun->ifname);
		close(sk);
		return -1;
	}
	if (carrier_off)
		settle(pid, fe->tun->ifname);
	/* made persistent for the restore: it goes with its last fd again */
	if (!(fe->tun->ifflags & IFF_PERSIST) && ioctl(sk, TUNSETPERSIST, 0)) {
		pr_perror("can't make tun device %s not persistent again", fe->tun->ifname);
		close(sk);
		return -1;
	}
	close(sk);
	return 0;
}

static void free_tun(FileEntry *fe)
{
	if (fe->tun) {
		free(fe->tun->path);
		free(fe->tun->ifname);
		free(fe->tun);
	}
	fe->tun = NULL;
}

const struct fd_kind tun_kind = {
	.link = NULL,		/* files.c picks it by the device number */
	.type = FILE_TYPE__FT_TUN,
	.dump = dump_tun,
	.open = open_tun,
	.free = free_tun,
};
