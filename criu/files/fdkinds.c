/* The table of anonymous-inode fd kinds; adding a kind is a file and a line here. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#include "fdkinds.h"
#include "util.h"

static const struct fd_kind *const kinds[] = {
	&eventfd_kind,
	&signalfd_kind,
	&timerfd_kind,
	&epoll_kind,
	&memfd_kind,
	&fifo_kind,
	&pidfd_kind,
	&tty_kind,
	&unixsk_kind,
	&inetsk_kind,
	&packetsk_kind,
	&netlinksk_kind,
	&inotify_kind,
	&fanotify_kind,
	&nsfs_kind,
	&tun_kind,
	&mqueue_kind,
};

int fd_kind_never_numbered(const FileEntry *fe)
{
	(void)fe;
	return 0;
}

int fd_kinds_restore_fini(struct fd_rst *c)
{
	int ret = 0;

	/* all of them, even after a failure: each drops what it holds */
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (kinds[i]->restore_fini && kinds[i]->restore_fini(c))
			ret = -1;
	return ret;
}

int fd_kinds_prepare(struct rst_files *rf)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (kinds[i]->prepare && kinds[i]->prepare(rf))
			return -1;
	return 0;
}

const struct fd_kind *fd_kind_by_link(const char *link, const struct stat *st)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (kinds[i]->match && kinds[i]->match(link, st))
			return kinds[i];
		if (!kinds[i]->link || kinds[i]->sk_families)
			continue;	/* found by file type or socket family, not by name */
		if (kinds[i]->prefix ? !strncmp(kinds[i]->link, link, strlen(kinds[i]->link))
				     : !strcmp(kinds[i]->link, link))
			return kinds[i];
	}
	return NULL;
}

const struct fd_kind *fd_kind_by_family(int family)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (family >= 0 && family < 64 && (kinds[i]->sk_families & (1ULL << family)))
			return kinds[i];
	return NULL;
}

const char *sk_family_name(int family)
{
	switch (family) {
	case AF_INET: return "inet";
	case AF_INET6: return "inet6";
	case AF_NETLINK: return "netlink";
	case AF_PACKET: return "packet";
	case AF_VSOCK: return "vsock";
	case AF_ALG: return "alg";
	case AF_UNIX: return "unix";
	case AF_XDP: return "xdp";
	case AF_BLUETOOTH: return "bluetooth";
	case AF_CAN: return "can";
	case AF_TIPC: return "tipc";
	case AF_KCM: return "kcm";
	case AF_QIPCRTR: return "qipcrtr";
	default: return "other";
	}
}

const struct fd_kind *fd_kind_of(pid_t pid, int fd, const char *link, const struct stat *st)
{
	const struct fd_kind *k;
	socklen_t len = sizeof(int);
	int sk, held, family = -1;

	if (strncmp(link, "socket:[", 8))
		return fd_kind_by_link(link, st);
	held = task_fd_held(pid, fd);	/* collect_one_fd() holds a copy */
	sk = held >= 0 ? held : task_fd(pid, fd);
	if (sk < 0)
		return NULL;
	if (getsockopt(sk, SOL_SOCKET, SO_DOMAIN, &family, &len))
		pr_perror("can't read the family of socket fd %d of %d", fd, pid);
	if (sk != held)
		close(sk);
	k = fd_kind_by_family(family);
	if (!k)
		pr_err("can't dump task %d: fd %d is a socket of an unsupported kind: %s (family %d, %s)\n", pid, fd,
		       sk_family_name(family), family, link);
	return k;
}

const struct fd_kind *fd_kind_by_type(FileType type)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (kinds[i]->type == type)
			return kinds[i];
	return NULL;
}

const char *anon_kind_name(const char *link, char *buf, size_t size)
{
	const char *name;
	size_t len;

	if (strncmp(link, "anon_inode:", strlen("anon_inode:")))
		return NULL;
	name = link + strlen("anon_inode:");
	len = strlen(name);
	if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
		name++;
		len -= 2;
	}
	snprintf(buf, size, "%.*s", (int)len, name);
	return buf;
}

const char *fdinfo_field(const char *fdinfo, const char *key)
{
	size_t klen = strlen(key);

	for (const char *l = fdinfo; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (!strncmp(l, key, klen) && l[klen] == ':') {
			l += klen + 1;
			while (*l == ' ' || *l == '\t')
				l++;
			return l;
		}
	}
	return NULL;
}
