/*
 * Unix sockets. The state comes from sock_diag (sk-diag.c), read once per
 * dump; options and the receive queue from a pidfd_getfd() copy of the fd,
 * read with MSG_PEEK at a moving SO_PEEK_OFF so nothing is taken away.
 *
 * At restore, the sockets connected to each other (a "group": pairs,
 * dgram sockets connected to a bound one, a listener and its clients not
 * accepted yet) are all made at once, by whichever task needs the first of
 * them; the ones that task doesn't place yet wait in scratch fds. Tasks
 * holding sockets of one group get them through the transit slots, made by
 * a common ancestor (restore.c links them by the group number).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <linux/sched.h>
#include <linux/securebits.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cr_options.h"
#include "fdkinds.h"
#include "files.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "net.h"
#include "pipes.h"
#include "sk-diag.h"
#include "sk-inet.h"
#include "sk-iter.h"
#include "sk-opts.h"
#include "sk-unix.h"
#include "util.h"

#ifndef TCP_ESTABLISHED
#define TCP_ESTABLISHED	1
#define TCP_CLOSE	7
#define TCP_LISTEN	10
#endif
#define RCV_SHUTDOWN	1
#define SEND_SHUTDOWN	2

#define MAX_QUEUE_BYTES	(64U << 20)	/* per socket */
#define SCM_MAX_FD	253		/* fds one message carries at most (the kernel's limit) */
#define PEEK_BUF_FIRST	(256U << 10)	/* a queue is peeked into this much first, more if it holds more */
#define MAX_ARRIVED	(1U << 20)	/* messages arriving during a dump, at most (an endless read is a bug) */
#define SNDBUF_MAX	(1U << 29)	/* the send buffer forced to hold a queue again, at most */
#define SNDBUF_SLACK	(1U << 20)	/* and above the queue's bytes (the kernel counts overhead) */

/* What the dump keeps about unix sockets (file_table.usks). */
struct usk_dump {
	struct unix_diag_table *diag;	/* every unix socket of the namespace (its state object's, net.c) */
	struct hmap by_ino;		/* inode -> id of the tree's socket */
	struct hmap pending;		/* client inode -> id of the tree listener it waits on */
	struct hmap outside_pending;	/* client inode -> 1, for the listeners of the whole namespace */
	struct hmap names;		/* hash of a name -> id of a tree socket bound to it */
	struct hmap listeners;		/* hash of an abstract name and type -> its listener in diag */
	struct hmap named;		/* hash of an abstract name and type -> how many sockets have it */
	struct hmap dumping;		/* inode -> 1 while its queue is read (fds in flight nest) */
};

void usk_dump_free(struct file_table *ft)
{
	struct usk_dump *u = ft->usks;

	if (!u)
		return;
	hmap_free(&u->by_ino);
	hmap_free(&u->pending);
	hmap_free(&u->outside_pending);
	hmap_free(&u->names);
	hmap_free(&u->listeners);
	hmap_free(&u->named);
	hmap_free(&u->dumping);
	free(u);
	ft->usks = NULL;
}


static void free_usk(FileEntry *fe);

/* The printable form of a name, for messages: "@abstract" or the path. */
static const char *name_str(const uint8_t *name, size_t len, char *buf, size_t size)
{
	size_t n = 0;

	if (!len)
		return "(unbound)";
	for (size_t i = 0; i < len && n + 1 < size; i++) {
		uint8_t c = name[i];

		if (i == 0 && c == 0)
			c = '@';
		else if (c == 0 && i == len - 1)
			break;
		else if (c < 32 || c > 126)
			c = '?';
		buf[n++] = c;
	}
	buf[n] = '\0';
	return buf;
}

static int getopt_int(int sk, int opt, int *val)
{
	socklen_t len = sizeof(*val);

	return getsockopt(sk, SOL_SOCKET, opt, val, &len);
}

/* A path name must be where the socket's file is; else it counts as unlinked. */
static int check_path(pid_t pid, const struct unix_diag_info *u, UnixSkEntry *e)
{
	char path[PATH_MAX + 128], cwd[PATH_MAX], proc[64], at[PATH_MAX + 192];
	struct stat st;

	snprintf(proc, sizeof(proc), "/proc/%d/cwd", pid);
	if (u->name[0] != '/') {
		if (read_link(proc, cwd, sizeof(cwd)) < 0) {
			pr_perror("can't read the cwd of %d", pid);
			return -1;
		}
		e->dir = strdup(cwd);
		if (!e->dir)
			return -1;
		snprintf(path, sizeof(path), "%s/%.*s", cwd, (int)u->namelen, u->name);
	} else {
		snprintf(path, sizeof(path), "%.*s", (int)u->namelen, u->name);
	}
	e->has_unlinked = true;
	mntns_dump_task(pid);
	if (stat(mntns_path(path, at, sizeof(at)), &st) || !S_ISSOCK(st.st_mode) || !u->has_vfs ||
	    st.st_ino != u->vfs_ino) {
		e->unlinked = true;
		return 0;
	}
	e->has_mode = e->has_uid = e->has_gid = true;
	e->mode = st.st_mode;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	e->has_atime_sec = e->has_atime_nsec = e->has_mtime_sec = e->has_mtime_nsec = true;
	e->atime_sec = st.st_atim.tv_sec;
	e->atime_nsec = st.st_atim.tv_nsec;
	e->mtime_sec = st.st_mtim.tv_sec;
	e->mtime_nsec = st.st_mtim.tv_nsec;
	return ns_owner_inside(&e->uid, &e->gid, "a unix socket's file");
}

static int add_msg(UnixSkEntry *e, const uint8_t *buf, size_t len, const struct sockaddr_un *src, socklen_t srclen,
		   const struct ucred *cred, const uint32_t *fds, size_t nr_fds)
{
	UnixSkMsg *m = calloc(1, sizeof(*m)), **n;

	if (!m)
		return -1;
	unix_sk_msg__init(m);
	m->data.data = malloc(len ? len : 1);
	if (!m->data.data) {
		free(m);
		return -1;
	}
	memcpy(m->data.data, buf, len);
	m->data.len = len;
	if (srclen > offsetof(struct sockaddr_un, sun_path)) {
		m->src.len = srclen - offsetof(struct sockaddr_un, sun_path);
		m->src.data = malloc(m->src.len);
		if (!m->src.data)
			goto err;
		memcpy(m->src.data, src->sun_path, m->src.len);
		m->has_src = true;
	}
	if (cred) {
		m->has_cred_pid = m->has_cred_uid = m->has_cred_gid = true;
		m->cred_pid = cred->pid;
		m->cred_uid = cred->uid;
		m->cred_gid = cred->gid;
		/* as the receiver sees them: in the tree's user namespace */
		if (ns_owner_inside(&m->cred_uid, &m->cred_gid, "the sender credentials of a queued message"))
			goto err;
	}
	if (nr_fds) {
		m->fds = malloc(nr_fds * sizeof(*m->fds));
		if (!m->fds)
			goto err;
		memcpy(m->fds, fds, nr_fds * sizeof(*m->fds));
		m->n_fds = nr_fds;
	}
	n = realloc(e->queue, (e->n_queue + 1) * sizeof(*n));
	if (!n)
		goto err;
	e->queue = n;
	e->queue[e->n_queue++] = m;
	return 0;
err:
	free(m->fds);
	free(m->src.data);
	free(m->data.data);
	free(m);
	return -1;
}

/* One peek of the queue: its data, sender, credentials and the fds in flight (in our table now). */
struct peeked {
	ssize_t len;
	struct sockaddr_un src;
	socklen_t srclen;
	struct ucred cred;
	int has_cred;
	int fds[SCM_MAX_FD];
	int nr_fds;
	int had_cmsg;	/* a control message came: a datagram, not the end of a shut queue */
};

static void close_peeked(struct peeked *p)
{
	for (int i = 0; i < p->nr_fds; i++)
		close(p->fds[i]);
	p->nr_fds = 0;
}

/* What a control message says; -1 if it carries something we can't put back. */
static int scan_cmsgs(struct msghdr *mh, struct peeked *p)
{
	int ret = 0;

	p->has_cred = 0;
	p->nr_fds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			/* peeking installed copies of them in our table */
			for (size_t i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				if (p->nr_fds < SCM_MAX_FD)
					p->fds[p->nr_fds++] = fd;
				else
					close(fd);
			}
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			memcpy(&p->cred, CMSG_DATA(c), sizeof(p->cred));
			/* pid 0: sent while neither side had SO_PASSCRED, so it carries none */
			p->has_cred = p->cred.pid != 0;
		} else {
			ret = -1;
		}
	}
	return ret;
}

/* Peek @size bytes at offset @off of the queue of @sk. */
static int peek_at(int sk, int type, int off, uint8_t *buf, size_t size, struct peeked *p, int *flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(SCM_MAX_FD * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, size };
	struct msghdr mh = { .msg_name = &p->src, .msg_namelen = sizeof(p->src), .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };

	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)))
		return -1;
	p->len = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | (type == SOCK_STREAM ? 0 : MSG_TRUNC));
	p->srclen = mh.msg_namelen;
	p->nr_fds = 0;
	p->had_cmsg = p->len >= 0 && mh.msg_controllen > 0;
	*flags = mh.msg_flags;
	if (p->len < 0)
		return -1;
	return scan_cmsgs(&mh, p) ? -2 : 0;
}

/* The files of the fds in flight: dumped as descriptions of their own (or found shared with a task's). */
static int inflight_ids(struct file_table *ft, struct peeked *p, uint32_t *ids)
{
	for (int i = 0; i < p->nr_fds; i++) {
		int ret = files_dump_inflight(ft, p->fds[i], &ids[i]);

		/* the description keeps our fd when it is the first one seen of it */
		if (ret == 1)
			p->fds[i] = -1;
		else if (ret < 0)
			return -1;
	}
	return 0;
}

static int save_peeked(struct file_table *ft, UnixSkEntry *e, uint8_t *buf, size_t len, struct peeked *p)
{
	uint32_t ids[SCM_MAX_FD];
	int ret;

	ret = inflight_ids(ft, p, ids) ||
	      add_msg(e, buf, len, &p->src, e->type == SOCK_STREAM ? 0 : p->srclen, p->has_cred ? &p->cred : NULL,
		      ids, p->nr_fds);
	close_peeked(p);
	return ret;
}

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD	76
#endif

/*
 * Options that add control messages of their own to what a peek returns
 * (a pidfd installed in criu, security labels, timestamps): off while the
 * queue is copied, back as they were after. NR_QUIET values, -1: absent.
 */
#define NR_QUIET	6
static const int quiet_opts[NR_QUIET] = { SO_PASSPIDFD, SO_PASSSEC, SO_TIMESTAMP_OLD, SO_TIMESTAMPNS_OLD,
					  SO_TIMESTAMP_NEW, SO_TIMESTAMPNS_NEW };

static void quiet_read(int sk, int *saved)
{
	for (int i = 0; i < NR_QUIET; i++) {
		socklen_t len = sizeof(int);

		saved[i] = -1;
		if (getsockopt(sk, SOL_SOCKET, quiet_opts[i], &saved[i], &len) < 0)
			saved[i] = -1;
	}
}

/* @saved: from quiet_read() */
static int quiet_cmsgs(int sk, const int *saved)
{
	int off = 0;

	for (int i = 0; i < NR_QUIET; i++)
		if (saved[i] > 0 && setsockopt(sk, SOL_SOCKET, quiet_opts[i], &off, sizeof(off)))
			return -1;
	return 0;
}

/* Only those that were on: of the timestamp variants at most one reads 1. */
static int unquiet_cmsgs(int sk, const int *saved)
{
	int ret = 0;

	for (int i = 0; i < NR_QUIET; i++)
		if (saved[i] > 0 && setsockopt(sk, SOL_SOCKET, quiet_opts[i], &saved[i], sizeof(int)) &&
		    setsockopt(sk, SOL_SOCKET, quiet_opts[i], &saved[i], sizeof(int)))
			ret = -1;
	return ret;
}

/*
 * What the queue's read changes for the moment (the peek offset,
 * SO_PASSCRED, the options of quiet_cmsgs()), for the keeper to put back
 * should criu die meanwhile: the tree runs on then, and a peek offset of
 * ours would make its MSG_PEEK skip messages. A handle, or -1.
 */
static int keep_options(pid_t pid, int fd, int sk, const UnixSkEntry *e, const int *quiet)
{
	struct net_keep_opt o[2 + NR_QUIET] = {
		{ SOL_SOCKET, SO_PEEK_OFF, e->peek_off },
		{ SOL_SOCKET, SO_PASSCRED, e->passcred },
	};
	char who[64];
	int n = 2;

	for (int i = 0; i < NR_QUIET; i++)
		if (quiet[i] > 0)
			o[n++] = (struct net_keep_opt){ SOL_SOCKET, quiet_opts[i], quiet[i] };
	snprintf(who, sizeof(who), "fd %d of %d (unix socket %lu)", fd, pid, (unsigned long)e->ino);
	return net_keeper_sockopts(sk, o, n, who);
}

/*
 * Copy the receive queue, message by message, leaving it in place: each
 * peek starts at SO_PEEK_OFF, which we set ourselves. SO_PASSCRED is on
 * meanwhile, so that every message comes with its sender's credentials
 * (and a stream's sends of different senders are not glued).
 */
/*
 * The head of the queue, peeked at no offset (SO_PEEK_OFF -1): that peek
 * returns it even if it is an empty datagram already peeked. 1: a
 * datagram is there (in @p, its fds in our table), 0: none, -1: error.
 */
static int peek_head(int sk, const UnixSkEntry *e, struct peeked *p, pid_t pid, int fd)
{
	uint8_t b;
	int r, flags;

	r = peek_at(sk, e->type, -1, &b, sizeof(b), p, &flags);
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r == -1) {
		pr_perror("can't peek the queue of fd %d of %d", fd, pid);
		return -1;
	}
	if (r == -2 || (flags & MSG_CTRUNC)) {
		close_peeked(p);
		pr_err("can't dump task %d: fd %d (unix socket %lu) has a message carrying control data other "
		       "than fds and credentials queued; not supported\n", pid, fd, (unsigned long)e->ino);
		return -1;
	}
	/* SO_PASSCRED is on: a datagram comes with credentials, the end of a shut queue with nothing */
	if (p->len == 0 && !p->had_cmsg && (e->shutdown & RCV_SHUTDOWN))
		return 0;
	return 1;
}

static const char *kind_str(const UnixSkEntry *e)
{
	return e->type == SOCK_SEQPACKET ? "seqpacket" : "datagram";
}

/*
 * The empty datagrams already peeked (a peek at an offset skips them)
 * that come next in the queue, by the iterator's record: the one at the
 * head peeked at no offset, as every other message is; one further on put
 * in the image from what the iterator read of it (credentials, sender):
 * unless it carries fds, which nothing can copy without taking it.
 */
static int put_peeked_empties(struct file_table *ft, pid_t pid, int fd, int sk, UnixSkEntry *e,
			      const struct dgram_queue *q, uint32_t *next, size_t first)
{
	while (*next < q->nr_empty && q->empty[*next].idx == e->n_queue - first) {
		const struct dgram_empty *d = &q->empty[*next];
		struct peeked p;
		uint8_t none = 0;

		if (d->idx == 0) {
			int r = peek_head(sk, e, &p, pid, fd);

			if (r < 0)
				return -1;
			if (!r || p.len != 0) {
				close_peeked(&p);
				pr_err("can't dump task %d: fd %d (unix %s socket %lu): its first message is not the "
				       "empty one criu's socket iterator saw there\n", pid, fd, kind_str(e),
				       (unsigned long)e->ino);
				return -1;
			}
			if (save_peeked(ft, e, &none, 0, &p))
				return -1;
		} else {
			struct ucred cred = { .pid = d->pid, .uid = d->uid, .gid = d->gid };

			if (d->nr_fds) {
				pr_err("can't dump task %d: fd %d (unix %s socket %lu) has an empty message already "
				       "peeked at (message #%u, after %llu bytes) %s; a peek at an offset skips it, and "
				       "only a read that takes it away could see it\n", pid, fd, kind_str(e),
				       (unsigned long)e->ino, d->idx, (unsigned long long)d->before,
				       "carrying fds (SCM_RIGHTS)");
				return -1;
			}
			if (add_msg(e, &none, 0, &d->src, d->srclen, d->has_cred ? &cred : NULL, NULL, 0))
				return -1;
			pr_debug("fd %d of %d: empty message #%u already peeked at, from the socket iterator\n", fd,
				 pid, d->idx);
		}
		(*next)++;
	}
	return 0;
}

/*
 * Datagrams criu's peeks can't see (empty ones already peeked) are found
 * by a BPF socket iterator (sk-iter.c). @*q: the socket's queue by it; or
 * NULL if there is no iterator, and then only an empty queue is dumped.
 */
static int iter_queue(pid_t pid, int fd, const UnixSkEntry *e, const struct dgram_queue **q)
{
	const char *why = NULL;
	int r;

	*q = NULL;
	if (e->type == SOCK_STREAM)
		return 0;
	r = dgram_iter_queue(DGRAM_ITER_UNIX, e->ino, q, &why);
	if (r < 0)
		return 0;
	if (r == 0) {
		/* not in its namespace's table: can't tell what it holds */
		pr_err("can't dump task %d: fd %d (unix %s socket %lu) has messages queued and criu's socket "
		       "iterator does not see it (a socket of another network namespace): it could hold an empty "
		       "message already peeked, which criu can't read\n", pid, fd, kind_str(e), (unsigned long)e->ino);
		return -1;
	}
	if ((*q)->overflow) {
		pr_err("can't dump task %d: fd %d (unix %s socket %lu) has more messages (%u) or empty ones already "
		       "peeked (%u) than criu's socket iterator reports\n", pid, fd, kind_str(e),
		       (unsigned long)e->ino, (*q)->nr_skbs, (*q)->nr_empty);
		return -1;
	}
	return 0;
}

static int peek_queue(struct file_table *ft, pid_t pid, int fd, int sk, UnixSkEntry *e, int64_t limit)
{
	size_t size = PEEK_BUF_FIRST, total = 0, first = e->n_queue;
	uint8_t *buf = malloc(size);
	int off = 0, ret = -1, one = 1, flags;
	const struct dgram_queue *q = NULL;
	uint32_t next = 0;
	char oob;

	if (!buf)
		return -1;
	/* peeks read the out-of-band byte in line, and no send can queue one back at its place */
	if (e->type == SOCK_STREAM && recv(sk, &oob, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT) == 1) {
		pr_err("can't dump task %d: fd %d (unix socket %lu) has an out-of-band byte (MSG_OOB) queued; "
		       "not supported\n", pid, fd, (unsigned long)e->ino);
		goto out;
	}
	if (setsockopt(sk, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
		pr_perror("can't set SO_PASSCRED on fd %d of %d for the moment", fd, pid);
		goto out;
	}
	if (iter_queue(pid, fd, e, &q))
		goto out;
	for (;;) {
		struct peeked p;
		int r;

		if (q && put_peeked_empties(ft, pid, fd, sk, e, q, &next, first))
			goto out;
		/* an error pending comes instead of EAGAIN at the end, and the read takes it away */
		if (limit >= 0 && off >= limit)
			break;
		r = peek_at(sk, e->type, off, buf, size, &p, &flags);

		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r == -1) {
			pr_perror("can't peek the queue of fd %d of %d", fd, pid);
			goto out;
		}
		if (r == -2 || (flags & MSG_CTRUNC)) {
			close_peeked(&p);
			pr_err("can't dump task %d: fd %d (unix socket %lu) has a message carrying control data other "
			       "than fds and credentials queued; not supported\n", pid, fd, (unsigned long)e->ino);
			goto out;
		}
		/*
		 * No more data on a shut-down socket reads as 0: on a stream with
		 * credentials all the same, on a datagram socket with none (an
		 * empty datagram comes with them, SO_PASSCRED is on).
		 */
		if (p.len == 0 && !p.nr_fds && (e->type == SOCK_STREAM || (!p.had_cmsg && (e->shutdown & RCV_SHUTDOWN))))
			break;
		/* messages that arrived since the iterator's pass are fine, an endless read of empty ones not */
		if (q && e->n_queue - first >= (size_t)q->nr_skbs + MAX_ARRIVED) {
			close_peeked(&p);
			pr_err("can't dump task %d: fd %d (unix %s socket %lu): %u messages more than the %u criu's socket "
			       "iterator saw\n", pid, fd, kind_str(e), (unsigned long)e->ino, MAX_ARRIVED, q->nr_skbs);
			goto out;
		}
		if ((size_t)p.len > size || (flags & MSG_TRUNC)) {
			uint8_t *nb = realloc(buf, p.len);

			close_peeked(&p);
			if (!nb)
				goto out;
			buf = nb;
			size = p.len;
			continue;	/* again from the same offset */
		}
		total += p.len;
		if (total > MAX_QUEUE_BYTES) {
			close_peeked(&p);
			pr_err("can't dump task %d: fd %d (unix socket %lu) has more than %u bytes queued\n", pid, fd,
			       (unsigned long)e->ino, MAX_QUEUE_BYTES);
			goto out;
		}
		/*
		 * A stream peek glues the data of the sends before the one with
		 * the fds to it, and no peek tells where that one starts (any
		 * peek that reaches it brings its fds). A read stopping before
		 * it gets none: the fds go back with the last byte only, so a
		 * read gets them no earlier than it did.
		 */
		if (e->type == SOCK_STREAM && p.nr_fds && p.len > 1) {
			struct peeked head = p;

			head.nr_fds = 0;
			if (save_peeked(ft, e, buf, p.len - 1, &head)) {
				close_peeked(&p);
				goto out;
			}
			memmove(buf, buf + p.len - 1, 1);
			off += p.len - 1;
			p.len = 1;
		}
		if (save_peeked(ft, e, buf, p.len, &p)) {
			pr_err("can't save the queue of fd %d of %d\n", fd, pid);
			goto out;
		}
		off += p.len;
	}
	if (e->type != SOCK_STREAM && !q) {
		struct peeked p;
		int r = e->n_queue > first ? 1 : peek_head(sk, e, &p, pid, fd);

		if (r == 1 && e->n_queue == first)
			close_peeked(&p);
		if (r > 0)
			pr_err("can't dump task %d: fd %d (unix %s socket %lu) has messages queued and criu has no "
			       "socket iterator here (see above): it can't tell whether they include an empty one "
			       "already peeked, which its peeks skip\n", pid, fd, kind_str(e), (unsigned long)e->ino);
		if (r)
			goto out;
	}
	/*
	 * Fewer than the iterator saw: some skipped. More: arrived since its
	 * pass, at the tail (nothing else adds to a queue, and nobody peeked at
	 * those: the tree is frozen).
	 */
	if (q && (e->n_queue - first < q->nr_skbs || next != q->nr_empty)) {
		pr_err("can't dump task %d: fd %d (unix %s socket %lu) holds %u messages by criu's socket iterator, "
		       "criu read %zu\n", pid, fd, kind_str(e), (unsigned long)e->ino, q->nr_skbs, e->n_queue - first);
		goto out;
	}
	if (q && e->n_queue - first > q->nr_skbs)
		pr_info("fd %d of %d: %zu messages arrived since the socket iterator's pass\n", fd, pid,
			e->n_queue - first - q->nr_skbs);
	ret = 0;
out:
	free(buf);
	return ret;
}

static int dump_options(pid_t pid, int fd, int sk, UnixSkEntry *e)
{
	int sndbuf, rcvbuf, passcred, peek_off, rcvlowat;
	char who[64];

	if (getopt_int(sk, SO_SNDBUF, &sndbuf) || getopt_int(sk, SO_RCVBUF, &rcvbuf) ||
	    getopt_int(sk, SO_PASSCRED, &passcred) || getopt_int(sk, SO_PEEK_OFF, &peek_off) ||
	    getopt_int(sk, SO_RCVLOWAT, &rcvlowat)) {
		pr_perror("can't read the options of fd %d of %d", fd, pid);
		return -1;
	}
	e->has_sndbuf = e->has_rcvbuf = e->has_passcred = e->has_peek_off = e->has_rcvlowat = true;
	e->sndbuf = sndbuf;
	e->rcvbuf = rcvbuf;
	e->passcred = passcred;
	e->peek_off = peek_off;
	e->rcvlowat = rcvlowat;
	{
		struct ucred cr;
		socklen_t l = sizeof(cr);
		uint32_t uid, gid;

		/* none (not connected, never listened): pid 0; ids the tree can't see: left out */
		if (!getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cr, &l) && cr.pid > 0) {
			uid = cr.uid;
			gid = cr.gid;
			if (!ns_uid_inside(&uid, 0) && !ns_uid_inside(&gid, 1)) {
				e->has_peer_uid = e->has_peer_gid = true;
				e->peer_uid = uid;
				e->peer_gid = gid;
			}
		}
	}
	/* and the options every socket family has, as the other families save them */
	snprintf(who, sizeof(who), "unix socket fd %d of %d", fd, pid);
	e->opts = calloc(1, sizeof(*e->opts));
	if (!e->opts) {
		pr_err("out of memory\n");
		return -1;
	}
	return sk_opts_dump(sk, e->opts, who);
}

/*
 * Connected, and sock_diag shows no peer: the peer was closed. A stream or
 * seqpacket socket has its shutdown then, and an error pending (POLLERR,
 * ECONNRESET) if the peer went with data unread; a dgram socket keeps the
 * dead peer until its next send. Its name is still there (getpeername).
 */
static int peer_gone(pid_t pid, int fd, int sk, UnixSkEntry *e)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	struct sockaddr_un a;
	socklen_t len = sizeof(a);

	/* a dgram socket others connected to shows "established" too: it has no peer of its own */
	if (getpeername(sk, (struct sockaddr *)&a, &len)) {
		if (errno == ENOTCONN)
			return 0;
		pr_perror("can't ask fd %d of %d for its peer", fd, pid);
		return -1;
	}
	if (poll(&p, 1, 0) < 0) {
		pr_perror("can't poll fd %d of %d", fd, pid);
		return -1;
	}
	/* (a client not accepted yet looks the same: check_peer() tells) */
	e->has_peer_gone = e->peer_gone = true;
	if (e->type != SOCK_DGRAM && (p.revents & POLLERR))
		e->has_peer_reset = e->peer_reset = true;
	if (len > offsetof(struct sockaddr_un, sun_path)) {
		e->peer_name.len = len - offsetof(struct sockaddr_un, sun_path);
		e->peer_name.data = malloc(e->peer_name.len);
		if (!e->peer_name.data)
			return -1;
		memcpy(e->peer_name.data, a.sun_path, e->peer_name.len);
		e->has_peer_name = true;
	}
	return 0;
}

/*
 * How far the queue may be read: with an error pending (POLLERR) a read past
 * the end takes it away. A stream's or seqpacket's queued bytes are known
 * (SIOCINQ): the peeks stop there. -1: no limit; 0: the queue is empty.
 */
static int queue_limit(pid_t pid, int fd, int sk, UnixSkEntry *e, int64_t *limit)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	int inq = 0;

	*limit = -1;
	if (poll(&p, 1, 0) < 0) {
		pr_perror("can't poll fd %d of %d", fd, pid);
		return -1;
	}
	/* nothing to read (not even a datagram of no bytes), nothing pending: no queue */
	if (!(p.revents & (POLLIN | POLLERR | POLLHUP | POLLRDHUP))) {
		*limit = 0;
		return 0;
	}
	if (!(p.revents & POLLERR))
		return 0;
	if (e->type == SOCK_DGRAM) {
		pr_err("can't dump task %d: fd %d (unix socket %lu) has an error pending, which reading its queue would "
		       "take away; not supported\n", pid, fd, (unsigned long)e->ino);
		return -1;
	}
	if (ioctl(sk, SIOCINQ, &inq)) {
		pr_perror("SIOCINQ on fd %d of %d", fd, pid);
		return -1;
	}
	*limit = inq;
	return 0;
}


/*
 * A datagram socket connected to a socket sock_diag does not show in the
 * tree's network namespace: one of another namespace (runc's container
 * logging to the host's /dev/log), reached by its path. Its name, as
 * getpeername() gives it, is kept in ext_peer for check_peer() to take
 * (with --ext-unix-sk) when that path is a socket file now.
 */
static int outside_peer_name(int sk, UnixSkEntry *e)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	struct stat st;

	if (getpeername(sk, (struct sockaddr *)&a, &len) || len <= offsetof(struct sockaddr_un, sun_path) + 1)
		return 0;
	len -= offsetof(struct sockaddr_un, sun_path);
	/* a path: it must still be a socket file (the peer may be gone, its name with it) */
	if (a.sun_path[0]) {
		if (len >= sizeof(a.sun_path))
			len = sizeof(a.sun_path) - 1;
		a.sun_path[len] = '\0';
		len = strlen(a.sun_path);
		if (stat(a.sun_path, &st) || !S_ISSOCK(st.st_mode))
			return 0;
	}
	e->ext_peer.data = malloc(len);
	if (!e->ext_peer.data)
		return -1;
	memcpy(e->ext_peer.data, a.sun_path, len);
	e->ext_peer.len = len;
	return 0;
}

static int dump_usk(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	struct unix_diag_info *u;
	unsigned long ino;
	UnixSkEntry *e;
	int sk, ret = -1;

	/* fdinfo's ino is the socket's (kernels before 5.15 have none: then its link says) */
	ino = fi->ino;
	if (!ino && sk_fd_ino(pid, fd, &ino))
		return -1;
	if (!ft->usks && !(ft->usks = calloc(1, sizeof(*ft->usks)))) {
		pr_err("out of memory\n");
		return -1;
	}
	if (!ft->usks->diag) {
		struct netns_state *ns = netns_of(pid);

		ft->usks->diag = ns ? netns_unix_diag(ns) : NULL;
		if (!ft->usks->diag)
			return -1;
	}
	u = unix_diag_find(ft->usks->diag, ino);
	if (!u) {
		pr_err("can't dump task %d: fd %d (unix socket %lu) is not known to sock_diag\n", pid, fd, ino);
		return -1;
	}
	if (u->type != SOCK_STREAM && u->type != SOCK_DGRAM && u->type != SOCK_SEQPACKET) {
		pr_err("can't dump task %d: fd %d is a unix socket of type %u\n", pid, fd, u->type);
		return -1;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	unix_sk_entry__init(e);
	fe->usk = e;
	e->ino = u->ino;
	e->type = u->type;
	e->state = u->state;
	e->flags = fi->flags & ~(O_ACCMODE | O_CLOEXEC);
	e->has_peer = true;
	e->peer = u->peer;
	e->has_shutdown = true;
	e->shutdown = u->shutdown;
	if (u->namelen) {
		e->has_name = true;
		e->name.len = u->namelen;
		e->name.data = malloc(u->namelen);
		if (!e->name.data)
			goto out;
		memcpy(e->name.data, u->name, u->namelen);
		/* a connection accepted on an abstract name: its listener is looked for in check_accepted() */
		if (u->type != SOCK_DGRAM && u->state == TCP_ESTABLISHED && !u->name[0])
			e->has_accepted_on = true;
		if (u->name[0] && check_path(pid, u, e))
			goto out;
		/*
		 * A connection's name is usually its listener's (accept): the
		 * file is not its own, so it is bound and unlinked at restore.
		 */
		if (u->name[0] && u->type != SOCK_DGRAM && u->state == TCP_ESTABLISHED)
			e->unlinked = true;
	}
	if (u->state == TCP_LISTEN) {
		e->has_backlog = true;
		e->backlog = u->wqlen;
		e->n_icons = u->nr_icons;
		e->icons = calloc(u->nr_icons + 1, sizeof(*e->icons));
		if (!e->icons)
			goto out;
		for (uint32_t i = 0; i < u->nr_icons; i++)
			e->icons[i] = u->icons[i];
	}
	sk = task_fd(pid, fd);
	if (sk < 0)
		goto out;
	if (dump_options(pid, fd, sk, e) || (u->state == TCP_ESTABLISHED && !u->peer && peer_gone(pid, fd, sk, e)))
		goto close;
	if (u->type == SOCK_DGRAM && u->peer && !unix_diag_find(ft->usks->diag, u->peer) && outside_peer_name(sk, e))
		goto close;
	/* a socket in flight on a socket in flight on it: nothing can send the first one again */
	if (hmap_get(&ft->usks->dumping, u->ino) && *hmap_get(&ft->usks->dumping, u->ino)) {
		pr_err("can't dump task %d: unix socket %u is in flight (SCM_RIGHTS) on a socket in flight on it; "
		       "not supported\n", pid, u->ino);
		goto close;
	}
	if (hmap_put(&ft->usks->dumping, u->ino, 1))
		goto close;
	/* a stream socket that isn't connected has no queue to read */
	if (u->type == SOCK_DGRAM || u->state == TCP_ESTABLISHED) {
		int orig = e->peek_off, quiet[NR_QUIET] = { -1, -1, -1, -1, -1, -1 }, keep = 0;
		int64_t limit;

		ret = queue_limit(pid, fd, sk, e, &limit);
		if (!ret && !limit) {
			/* empty: nothing read, nothing changed */
			hmap_put(&ft->usks->dumping, u->ino, 0);
			goto done;
		}
		if (!ret) {
			quiet_read(sk, quiet);
			keep = keep_options(pid, fd, sk, e, quiet);
			if (keep < 0)
				ret = -1;
		}
		if (!ret && quiet_cmsgs(sk, quiet)) {
			pr_perror("can't turn the control messages of fd %d of %d off for the moment", fd, pid);
			ret = -1;
		}
		ret = ret ?: peek_queue(ft, pid, fd, sk, e, limit);
		if (unquiet_cmsgs(sk, quiet)) {
			pr_perror("can't put the control message options of fd %d of %d back", fd, pid);
			ret = -1;
		}
		/* the task's own peek offset and SO_PASSCRED back as they were: a second try if the first fails */
		if ((setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &orig, sizeof(orig)) &&
		     setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &orig, sizeof(orig))) ||
		    (setsockopt(sk, SOL_SOCKET, SO_PASSCRED, &e->passcred, sizeof(int)) &&
		     setsockopt(sk, SOL_SOCKET, SO_PASSCRED, &e->passcred, sizeof(int)))) {
			pr_perror("can't put SO_PEEK_OFF and SO_PASSCRED of fd %d of %d back", fd, pid);
			ret = -1;
		}
		net_keeper_sockopts_done(keep);
		hmap_put(&ft->usks->dumping, u->ino, 0);
		if (ret)
			goto close;
		ret = -1;
	}
	hmap_put(&ft->usks->dumping, u->ino, 0);
done:
	pr_debug("fd %d of %d: unix socket %lu type %u state %u peer %lu, %zu messages queued\n", fd, pid,
		 (unsigned long)e->ino, e->type, e->state, (unsigned long)e->peer, e->n_queue);
	ret = 0;
close:
	close(sk);
out:
	if (ret)
		free_usk(fe);
	return ret;
}

static void free_usk(FileEntry *fe)
{
	UnixSkEntry *e = fe->usk;

	if (!e)
		return;
	for (size_t i = 0; i < e->n_queue; i++) {
		free(e->queue[i]->data.data);
		free(e->queue[i]->src.data);
		free(e->queue[i]->fds);
		free(e->queue[i]);
	}
	free(e->peer_name.data);
	free(e->queue);
	free(e->icons);
	free(e->name.data);
	free(e->dir);
	free(e->ext_peer.data);
	sk_opts_free(e->opts);
	free(e->opts);
	free(e);
	fe->usk = NULL;
}

/* ---- the tree-wide check ---- */

static UnixSkEntry *tree_sk(struct file_table *ft, uint64_t ino, struct file_desc **d)
{
	uint64_t *id = ino ? hmap_get(&ft->usks->by_ino, ino) : NULL;
	struct file_desc *fd = id ? file_desc_by_id(ft, *id) : NULL;

	if (d)
		*d = fd;
	return fd ? fd->fe.usk : NULL;
}

/* The tree listener whose clients-not-accepted list has @ino. */
static UnixSkEntry *pending_on(struct file_table *ft, uint64_t ino)
{
	uint64_t *id = hmap_get(&ft->usks->pending, ino);

	return id ? file_desc_by_id(ft, *id)->fe.usk : NULL;
}

static int outside_listener_has(struct file_table *ft, uint64_t ino)
{
	return hmap_get(&ft->usks->outside_pending, ino) != NULL;
}

static int name_eq(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

static uint64_t name_key(const ProtobufCBinaryData *name)
{
	return hash_bytes(name->data, name->len, 0);
}

/* A tree socket bound to @name, NULL if none. */
static UnixSkEntry *tree_sk_named(struct file_table *ft, const ProtobufCBinaryData *name)
{
	uint64_t *id = hmap_get(&ft->usks->names, name_key(name));
	UnixSkEntry *e = id ? file_desc_by_id(ft, *id)->fe.usk : NULL;

	return e && e->has_name && name_eq(&e->name, name) ? e : NULL;
}

/* The maps the checks look things up in, built once. */
static int index_sockets(struct file_table *ft)
{
	struct usk_dump *u = ft->usks;
	int made;

	for (size_t i = 0; i < ft->nr; i++) {
		UnixSkEntry *e = ft->d[i].fe.type == FILE_TYPE__FT_UNIXSK ? ft->d[i].fe.usk : NULL;

		if (!e)
			continue;
		if (hmap_put(&u->by_ino, e->ino, ft->d[i].id))
			return -1;
		for (size_t j = 0; j < e->n_icons; j++)
			if (hmap_put(&u->pending, e->icons[j], ft->d[i].id))
				return -1;
		if (e->has_name && e->name.len && !hmap_get_or_put(&u->names, name_key(&e->name), ft->d[i].id, &made))
			return -1;
	}
	for (size_t i = 0; i < u->diag->nr; i++) {
		struct unix_diag_info *l = &u->diag->s[i];
		ProtobufCBinaryData n = { .len = l->namelen, .data = (uint8_t *)l->name };

		uint64_t *nr;

		if (!l->namelen || l->name[0])
			continue;
		if (l->state == TCP_LISTEN && !hmap_get_or_put(&u->listeners, name_key(&n) ^ l->type, i, &made))
			return -1;
		nr = hmap_get_or_put(&u->named, name_key(&n) ^ l->type, 0, &made);
		if (!nr)
			return -1;
		(*nr)++;
	}
	for (size_t i = 0; i < u->diag->nr; i++)
		for (uint32_t j = 0; j < u->diag->s[i].nr_icons; j++)
			if (hmap_put(&u->outside_pending, u->diag->s[i].icons[j], 1))
				return -1;
	return 0;
}

static int check_peer(struct file_table *ft, struct file_desc *d)
{
	struct unix_diag_table *diag = ft->usks->diag;
	UnixSkEntry *e = d->fe.usk, *p = tree_sk(ft, e->peer, NULL), *l = pending_on(ft, e->ino);
	struct unix_diag_info *pu = unix_diag_find(diag, e->peer), *me = unix_diag_find(diag, e->ino);
	char nb[128];

	if (l) {
		/* not accepted yet: its peer is the listener's embryo, which no fd reaches */
		e->has_peer_gone = e->peer_gone = e->has_peer_reset = e->peer_reset = false;
		/* what a client sent before being accepted sits in a socket no fd reaches */
		if (me && me->wqlen) {
			pr_err("can't dump task %d: fd %d (unix socket %lu) is a connection not accepted yet with "
			       "data queued for the listener's side (%u bytes); not supported\n", d->owner_pid,
			       d->owner_fd, (unsigned long)e->ino, me->wqlen);
			return -1;
		}
		return 0;
	}
	if (outside_listener_has(ft, e->ino)) {
		pr_err("can't dump task %d: fd %d (unix socket %lu) is a connection not accepted yet by a listener "
		       "outside the dumped tree\n", d->owner_pid, d->owner_fd, (unsigned long)e->ino);
		return -1;
	}
	if (!e->peer || p)
		return 0;
	/* in another network namespace: its name came from getpeername() */
	if (e->type == SOCK_DGRAM && opts.ext_unix_sk && !pu && e->ext_peer.len) {
		e->has_ext_peer = true;
		pr_info("fd %d of %d: unix socket %lu will connect again to %s outside the tree (another network "
			"namespace)\n", d->owner_fd, d->owner_pid, (unsigned long)e->ino,
			name_str(e->ext_peer.data, e->ext_peer.len, nb, sizeof(nb)));
		return 0;
	}
	if (e->type == SOCK_DGRAM && opts.ext_unix_sk && pu && pu->namelen) {
		e->has_ext_peer = true;
		e->ext_peer.len = pu->namelen;
		e->ext_peer.data = malloc(pu->namelen);
		if (!e->ext_peer.data)
			return -1;
		memcpy(e->ext_peer.data, pu->name, pu->namelen);
		pr_info("fd %d of %d: unix socket %lu will connect again to %s outside the tree\n", d->owner_fd,
			d->owner_pid, (unsigned long)e->ino, name_str((uint8_t *)pu->name, pu->namelen, nb, sizeof(nb)));
		return 0;
	}
	pr_err("can't dump task %d: fd %d (unix socket %lu) is connected to unix socket %lu (%s) outside the "
	       "dumped tree; %s\n", d->owner_pid, d->owner_fd, (unsigned long)e->ino, (unsigned long)e->peer,
	       pu ? name_str((uint8_t *)pu->name, pu->namelen, nb, sizeof(nb))
	       : e->ext_peer.len ? name_str(e->ext_peer.data, e->ext_peer.len, nb, sizeof(nb)) : "gone",
	       e->type != SOCK_DGRAM ? "a connection can't be made again with the other side outside"
	       : (pu && pu->namelen) || e->ext_peer.len ? "use --ext-unix-sk to connect again to its name at restore"
	       : "it has no name to connect to again");
	return -1;
}

/* Every datagram must come from someone who can send it again: a tree socket of that name, or nobody named. */
static int check_sources(struct file_table *ft, struct file_desc *d)
{
	UnixSkEntry *e = d->fe.usk;
	char nb[128];

	for (size_t i = 0; e->type != SOCK_STREAM && i < e->n_queue; i++) {
		UnixSkMsg *m = e->queue[i];

		if (!m->has_src || tree_sk_named(ft, &m->src))
			continue;
		pr_err("can't dump task %d: fd %d (unix socket %lu) has a datagram queued from %s, which is "
		       "not a socket of the dumped tree\n", d->owner_pid, d->owner_fd, (unsigned long)e->ino,
		       name_str(m->src.data, m->src.len, nb, sizeof(nb)));
		return -1;
	}
	return 0;
}

/* Sockets outside the tree connected to ours would lose their peer. */
static int check_outside_peers(struct file_table *ft)
{
	struct unix_diag_table *diag = ft->usks->diag;

	for (size_t i = 0; i < diag->nr; i++) {
		struct unix_diag_info *o = &diag->s[i];
		struct file_desc *d;
		UnixSkEntry *t;

		if (!o->peer || tree_sk(ft, o->ino, NULL))
			continue;
		t = tree_sk(ft, o->peer, &d);
		/* an embryo (a connection not accepted yet) is the peer of its client */
		if (!t || t->peer == o->ino)
			continue;
		if (opts.ext_unix_sk) {
			pr_warn("unix socket %u outside the tree is connected to fd %d of %d; it will stay "
				"connected to the old socket\n", o->ino, d->owner_fd, d->owner_pid);
			continue;
		}
		pr_err("can't dump task %d: fd %d (unix socket %lu) has unix socket %u outside the dumped tree "
		       "connected to it (use --ext-unix-sk to dump anyway)\n", d->owner_pid, d->owner_fd,
		       (unsigned long)t->ino, o->ino);
		return -1;
	}
	return 0;
}

/* Is the abstract name @name free for a socket of @type? 1 yes, 0 no, -1 error. */
static int abstract_free(const ProtobufCBinaryData *name, uint32_t type)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int sk, ret;

	if (name->len > sizeof(a.sun_path))
		return 0;
	memcpy(a.sun_path, name->data, name->len);
	sk = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		pr_perror("can't make a unix socket");
		return -1;
	}
	ret = bind(sk, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + name->len);
	if (ret && errno != EADDRINUSE)
		pr_perror("can't try the abstract name of a unix socket");
	ret = ret ? (errno == EADDRINUSE ? 0 : -1) : 1;
	close(sk);
	return ret;
}

/*
 * A connection with an abstract name was accepted on a listener of that
 * name (accept() gives it the listener's address, not bound: the name
 * stays the listener's). It is made again by a connection to that
 * listener, a tree socket then, or to one of ours made for a moment if
 * the listener is gone and its name free. Unless the name is held and
 * the socket is the only one with it: it bound the name itself (a client
 * with SO_PASSCRED is autobound as it connects), and binds it again.
 */
static int check_accepted(struct file_table *ft, struct file_desc *d)
{
	struct usk_dump *u = ft->usks;
	UnixSkEntry *e = d->fe.usk;
	struct unix_diag_info *l = NULL;
	uint64_t *i;
	char nb[128];
	int avail;

	if (!e->has_accepted_on)
		return 0;
	name_str(e->name.data, e->name.len, nb, sizeof(nb));
	i = hmap_get(&u->listeners, name_key(&e->name) ^ e->type);
	if (i)
		l = &u->diag->s[*i];
	if (l && l->type == e->type && l->namelen == e->name.len && !memcmp(l->name, e->name.data, l->namelen)) {
		if (!tree_sk(ft, l->ino, NULL)) {
			pr_err("can't dump task %d: fd %d (unix socket %lu) is a connection accepted on the abstract "
			       "name %s, whose listener (unix socket %u) is outside the dumped tree\n", d->owner_pid,
			       d->owner_fd, (unsigned long)e->ino, nb, l->ino);
			return -1;
		}
		e->accepted_on = l->ino;
		return 0;
	}
	avail = abstract_free(&e->name, e->type);
	if (avail < 0)
		return -1;
	i = hmap_get(&u->named, name_key(&e->name) ^ e->type);
	if (!avail && i && *i == 1) {
		/* the only socket with the name holds it: bound by itself (a client autobound by SO_PASSCRED) */
		e->has_accepted_on = false;
		return 0;
	}
	if (!avail) {
		pr_err("can't dump task %d: fd %d (unix socket %lu) is connected with the abstract name %s, which "
		       "no listener has and one of several sockets with it holds; not supported\n",
		       d->owner_pid, d->owner_fd, (unsigned long)e->ino, nb);
		return -1;
	}
	e->accepted_on = 0;	/* its listener is gone: one of ours, for a moment, at restore */
	return 0;
}

/* Union-find over the tree's sockets: connected ones get one group number (the least inode). */
static uint64_t find_group(struct file_table *ft, UnixSkEntry *e)
{
	UnixSkEntry *r = e, *p;

	while (r->group != r->ino && (p = tree_sk(ft, r->group, NULL)))
		r = p;
	/* path compression: the next walk is short */
	while (e != r) {
		p = tree_sk(ft, e->group, NULL);
		e->group = r->ino;
		e = p;
	}
	return r->ino;
}

static void join(struct file_table *ft, UnixSkEntry *a, UnixSkEntry *b)
{
	uint64_t ga = find_group(ft, a), gb = find_group(ft, b);
	UnixSkEntry *ra = tree_sk(ft, ga, NULL), *rb = tree_sk(ft, gb, NULL);

	if (ga == gb || !ra || !rb)
		return;
	if (ga < gb)
		rb->group = ga;
	else
		ra->group = gb;
}

static void number_groups(struct file_table *ft)
{
	for (size_t i = 0; i < ft->nr; i++) {
		UnixSkEntry *e = ft->d[i].fe.type == FILE_TYPE__FT_UNIXSK ? ft->d[i].fe.usk : NULL;

		if (e) {
			e->has_group = true;
			e->group = e->ino;
		}
	}
	for (size_t i = 0; i < ft->nr; i++) {
		UnixSkEntry *e = ft->d[i].fe.type == FILE_TYPE__FT_UNIXSK ? ft->d[i].fe.usk : NULL, *p;

		if (!e)
			continue;
		p = tree_sk(ft, e->peer, NULL);
		if (p)
			join(ft, e, p);
		/* made by an accept() on its listener */
		p = e->has_accepted_on ? tree_sk(ft, e->accepted_on, NULL) : NULL;
		if (p)
			join(ft, e, p);
		for (size_t j = 0; j < e->n_icons; j++) {
			p = tree_sk(ft, e->icons[j], NULL);
			if (p)
				join(ft, e, p);
		}
		/* a datagram is queued again by its sender */
		for (size_t j = 0; j < e->n_queue; j++) {
			p = e->queue[j]->has_src ? tree_sk_named(ft, &e->queue[j]->src) : NULL;
			if (p)
				join(ft, e, p);
		}
	}
	for (size_t i = 0; i < ft->nr; i++) {
		UnixSkEntry *e = ft->d[i].fe.type == FILE_TYPE__FT_UNIXSK ? ft->d[i].fe.usk : NULL;

		if (e)
			e->group = find_group(ft, e);
	}
}

int check_unix_sockets(struct file_table *ft)
{
	if (!ft->usks || !ft->usks->diag)
		return 0;	/* no socket in the tree */
	if (index_sockets(ft)) {
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];

		if (d->fe.type != FILE_TYPE__FT_UNIXSK || !d->fe.usk)
			continue;
		if (check_peer(ft, d) || check_sources(ft, d) || check_accepted(ft, d))
			return -1;
		for (size_t j = 0; j < d->fe.usk->n_icons; j++)
			if (!tree_sk(ft, d->fe.usk->icons[j], NULL)) {
				pr_err("can't dump task %d: fd %d (unix socket %lu) is a listener with a connection "
				       "not accepted yet from unix socket %lu outside the dumped tree\n", d->owner_pid,
				       d->owner_fd, (unsigned long)d->fe.usk->ino, (unsigned long)d->fe.usk->icons[j]);
				return -1;
			}
	}
	if (check_outside_peers(ft))
		return -1;
	number_groups(ft);
	return 0;
}

/* ---- restore ---- */

/* The key of a socket group made in this task, in fd_rst.made. */
#define MADE_USK_GROUP	(1ULL << 60)

static uint64_t group_of(UnixSkEntry *e)
{
	return e->has_group ? e->group : e->ino;
}

/* The sockets of each group, found by group number. */
static int usk_prepare(struct rst_files *rf)
{
	rf->usk_next = calloc(rf->nr_ids + 1, sizeof(*rf->usk_next));
	if (!rf->usk_next) {
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t i = rf->nr; i-- > 0;) {
		FileEntry *fe = rf->fe[i];

		if (fe->type != FILE_TYPE__FT_UNIXSK || !fe->usk)
			continue;
		if (hmap_list_push(&rf->usk_groups, group_of(fe->usk), fe->id, rf->usk_next)) {
			pr_err("out of memory\n");
			return -1;
		}
	}
	return 0;
}

/* One member of the group being made. */
struct gm {
	UnixSkEntry *e;
	uint32_t id;		/* its file */
	int fd;
	int standin;		/* the peer of a socket whose peer is gone, until the queue is in */
	bool made;		/* by socket() or socketpair() here: its options are a new socket's */
	bool grown;		/* its send buffer made room for a queue: not what a new socket has */
	char *aside;		/* what sat at our path, moved away while we bind */
	char *made_dir;		/* the topmost directory made for an unlinked path whose directories are gone too */
	struct file_times dir_times;	/* of the directory of its path, put back once the file is settled */
};

/* The directory of a path name, relative ones in the current directory. */
static void name_dir(const char *path, char *dir, size_t size)
{
	if (parent_dir(path, dir, size))
		snprintf(dir, size, ".");
}

struct group {
	struct fd_rst *c;
	struct gm *m;
	size_t nr;
	int cwd;		/* to come back after binding a relative name */
	char *made_cwd;		/* the topmost directory made for names bound in a cwd removed since */
	char *gone_cwd;		/* that cwd */
	struct file_times made_cwd_times;
	struct hmap by_ino;	/* inode -> member */
	struct hmap by_name;	/* hash of the name -> member (the first bound to it) */
	struct hmap by_id;	/* file id -> member (files in flight may be members) */
};

static struct gm *gm_find(struct group *g, uint64_t ino)
{
	uint64_t *i = ino ? hmap_get(&g->by_ino, ino) : NULL;

	return i ? &g->m[*i] : NULL;
}

static struct gm *gm_by_name(struct group *g, const ProtobufCBinaryData *name)
{
	uint64_t *i = hmap_get(&g->by_name, name_key(name));
	struct gm *m = i ? &g->m[*i] : NULL;

	return m && name_eq(&m->e->name, name) ? m : NULL;
}

static int mutual(struct group *g, struct gm *m)
{
	struct gm *p = gm_find(g, m->e->peer);

	return p && p->e->peer == m->e->ino;
}

/* A connection accept() makes (connect_members()): an abstract name that is its listener's. */
static int accepted(const UnixSkEntry *e)
{
	return e->has_accepted_on && e->type != SOCK_DGRAM;
}

static socklen_t make_addr(struct sockaddr_un *a, const ProtobufCBinaryData *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, name->data, name->len);
	return offsetof(struct sockaddr_un, sun_path) + name->len;
}

/* The path of a path name, as a C string (the name may lack its NUL). */
static void name_path(const ProtobufCBinaryData *name, char *buf)
{
	memcpy(buf, name->data, name->len);
	buf[name->len] = '\0';
}

/* Relative names are resolved in the directory they were bound in. */
#define DELETED " (deleted)"

static int make_dirs(const char *dir, char **made, struct file_times *times);

static int enter_dir(struct group *g, UnixSkEntry *e)
{
	if (!e->dir)
		return 0;
	/* where to come back to, kept above the fd numbers the members go to */
	if (g->cwd < 0 && (g->cwd = fd_rst_lift(g->c, open(".", O_PATH | O_CLOEXEC))) < 0) {
		pr_perror("can't open the current directory");
		return -1;
	}
	if (!chdir(e->dir))
		return 0;
	/*
	 * A relative name bound in a cwd removed since (/proc shows it with
	 * " (deleted)"): a directory goes only empty, so the name was unlinked
	 * first, and binding it anywhere and unlinking it again gives it back.
	 * Its old path serves, made again for the while if it is not there.
	 */
	if (errno == ENOENT && strlen(e->dir) > strlen(DELETED) &&
	    !strcmp(e->dir + strlen(e->dir) - strlen(DELETED), DELETED)) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%.*s", (int)(strlen(e->dir) - strlen(DELETED)), e->dir);
		if (!chdir(path))
			return 0;
		if (errno == ENOENT && !g->made_cwd) {
			g->gone_cwd = strdup(path);
			if (!g->gone_cwd || make_dirs(path, &g->made_cwd, &g->made_cwd_times))
				return -1;
			if (!chdir(path))
				return 0;
		}
	}
	pr_perror("can't enter %s to bind unix socket %lu", e->dir, (unsigned long)e->ino);
	return -1;
}

static int leave_dir(struct group *g, UnixSkEntry *e)
{
	if (e->dir && fchdir(g->cwd)) {
		pr_perror("can't go back to the previous directory");
		return -1;
	}
	return 0;
}

/*
 * A socket bound in a directory that was removed since (a server's private
 * temporary directory, cleaned up while it runs): the directories are made
 * again for the bind (mode 0700: nobody else sees them) and removed with the
 * file by unlink_paths(). The times saved are those of the directory that
 * remained, which making and removing the others touch.
 */
static int make_dirs(const char *dir, char **made, struct file_times *times)
{
	char top[PATH_MAX], up[PATH_MAX];
	struct stat st;

	if (snprintf(top, sizeof(top), "%s", dir) >= (int)sizeof(top))
		return -1;
	for (;;) {
		name_dir(top, up, sizeof(up));
		if (!strcmp(up, top) || !lstat(up, &st))
			break;
		if (errno != ENOENT) {
			pr_perror("can't look at %s", up);
			return -1;
		}
		memcpy(top, up, sizeof(top));
	}
	name_dir(top, up, sizeof(up));
	times_save(up, times);
	*made = strdup(top);
	if (!*made) {
		pr_err("out of memory\n");
		return -1;
	}
	/* from the top down: each mkdir of a component of @dir past the part that exists */
	for (const char *p = dir + strlen(top);;) {
		char part[PATH_MAX];

		snprintf(part, sizeof(part), "%.*s", (int)(p - dir), dir);
		if (mkdir(part, 0700)) {
			pr_perror("can't make the removed directory %s again for a unix socket's bind", part);
			return -1;
		}
		if (!*p)
			break;
		p = strchr(p + 1, '/') ?: dir + strlen(dir);
	}
	return 0;
}

/* The directories make_dirs() made, up from @deepest. */
static void remove_made_dirs(const char *deepest, char **made, struct file_times *times)
{
	char dir[PATH_MAX], up[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", deepest);
	for (;;) {
		if (rmdir(dir))
			pr_warn("can't remove %s, made for a unix socket's bind: %s\n", dir, strerror(errno));
		if (!strcmp(dir, *made))
			break;
		name_dir(dir, up, sizeof(up));
		if (!strcmp(up, dir))
			break;
		memcpy(dir, up, sizeof(dir));
	}
	name_dir(*made, up, sizeof(up));
	times_put_back(up, times);
	free(*made);
	*made = NULL;
}

static int bind_member(struct group *g, struct gm *m)
{
	UnixSkEntry *e = m->e;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1], nb[128], dir[PATH_MAX];
	struct sockaddr_un a;
	socklen_t len;
	struct stat st;
	int ret = -1;

	if (!e->has_name || !e->name.len || accepted(e))
		return 0;
	if (e->name.len > sizeof(a.sun_path)) {
		pr_err("unix socket %lu: a name of %zu bytes\n", (unsigned long)e->ino, e->name.len);
		return -1;
	}
	len = make_addr(&a, &e->name);
	if (a.sun_path[0] == '\0') {
		if (bind(m->fd, (struct sockaddr *)&a, len)) {
			pr_perror("can't bind unix socket %lu to %s", (unsigned long)e->ino,
				  name_str(e->name.data, e->name.len, nb, sizeof(nb)));
			return -1;
		}
		return 0;
	}
	name_path(&e->name, path);
	if (enter_dir(g, e))
		return -1;
	/* the file goes and comes again: its directory looks untouched afterwards */
	name_dir(path, dir, sizeof(dir));
	times_save(dir, &m->dir_times);
	if (e->unlinked && lstat(dir, &st) && errno == ENOENT && make_dirs(dir, &m->made_dir, &m->dir_times))
		goto out;
	if (!lstat(path, &st)) {
		if (S_ISSOCK(st.st_mode) && !e->unlinked) {
			/*
			 * Unless a live socket is bound to it: the dumped one is
			 * gone, so that is a server of someone else's that bound
			 * the path since the dump, whose name removing the file
			 * would take away.
			 */
			long other = unix_diag_bound_to(st.st_dev, st.st_ino);

			if (other) {
				if (other > 0)
					pr_err("can't bind unix socket %lu to %s%s%s: the path is taken by socket %ld "
					       "of another process, bound to it since the dump\n", (unsigned long)e->ino,
					       path[0] != '/' && e->dir ? e->dir : "", path[0] != '/' && e->dir ? "/" : "",
					       path, other);
				goto out;
			}
			/* the file the dumped socket left behind */
			if (unlink(path)) {
				pr_perror("can't remove the old socket file %s", path);
				goto out;
			}
		} else if (e->unlinked) {
			/* someone else's file now: out of the way while we bind and unlink ours */
			if (asprintf(&m->aside, "%s.criu-aside.%d", path, getpid()) < 0 || rename(path, m->aside)) {
				pr_perror("can't move %s aside", path);
				free(m->aside);
				m->aside = NULL;
				goto out;
			}
		} else {
			pr_err("can't bind unix socket %lu to %s: the path is taken by a file that is not a socket\n",
			       (unsigned long)e->ino, path);
			goto out;
		}
	}
	if (bind(m->fd, (struct sockaddr *)&a, len)) {
		pr_perror("can't bind unix socket %lu to %s", (unsigned long)e->ino, path);
		goto out;
	}
	if (e->has_mode && (chmod(path, e->mode & 07777) || lchown(path, e->uid, e->gid))) {
		pr_perror("can't give the socket file %s its mode and owner", path);
		goto out;
	}
	if (e->has_atime_sec && e->has_mtime_sec) {
		struct timespec ts[2] = { { e->atime_sec, e->atime_nsec }, { e->mtime_sec, e->mtime_nsec } };

		if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
			pr_warn("can't give the socket file %s its times back: %s\n", path, strerror(errno));
	}
	/* one unlinked again (unlink_paths()) changes the directory once more: its times go back then */
	if (!e->unlinked && !m->aside)
		times_put_back(dir, &m->dir_times);
	ret = 0;
out:
	if (leave_dir(g, e))
		ret = -1;
	return ret;
}

static int connect_to(struct group *g, struct gm *m, UnixSkEntry *dir_of, const ProtobufCBinaryData *name)
{
	struct sockaddr_un a;
	socklen_t len;
	char nb[128];
	int ret;

	if (!name->len || name->len > sizeof(a.sun_path)) {
		pr_err("unix socket %lu: its peer has no name to connect to\n", (unsigned long)m->e->ino);
		return -1;
	}
	len = make_addr(&a, name);
	if (dir_of && enter_dir(g, dir_of))
		return -1;
	ret = connect(m->fd, (struct sockaddr *)&a, len);
	if (ret)
		pr_perror("can't connect unix socket %lu to %s", (unsigned long)m->e->ino,
			  name_str(name->data, name->len, nb, sizeof(nb)));
	if (dir_of && leave_dir(g, dir_of))
		ret = -1;
	return ret;
}

/* Each member at its own fd number if it lands there, else lifted out of the way of the others'. */
/*
 * SO_PEERCRED is taken from the effective ids of whoever makes a pair,
 * listens or connects: criu does that as the ids the socket had at the dump
 * (its capabilities kept: SECBIT_NO_SETUID_FIXUP), or a nobody's socket
 * would show root as its peer. Only this thread's ids change. A change of
 * effective ids makes the process not dumpable (its /proc files root's),
 * which is put back too.
 */
struct ids {
	bool on;
	uint32_t euid, egid;
	int secbits, dumpable;
};

static void act_as(const UnixSkEntry *e, struct ids *s)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	s->on = false;
	if (!e || !e->has_peer_uid || !e->has_peer_gid || getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg))
		return;
	if (eu == e->peer_uid && eg == e->peer_gid)
		return;
	s->euid = eu;
	s->egid = eg;
	s->dumpable = prctl(PR_GET_DUMPABLE);
	s->secbits = prctl(PR_GET_SECUREBITS);
	if (s->secbits < 0 ||
	    (!(s->secbits & SECBIT_NO_SETUID_FIXUP) &&
	     prctl(PR_SET_SECUREBITS, s->secbits | SECBIT_NO_SETUID_FIXUP, 0, 0, 0))) {
		pr_warn("unix socket %lu: its peer credentials will be criu's, not uid %u gid %u: %s\n",
			(unsigned long)e->ino, e->peer_uid, e->peer_gid, strerror(errno));
		return;
	}
	if (syscall(SYS_setresgid, -1, e->peer_gid, -1) || syscall(SYS_setresuid, -1, e->peer_uid, -1)) {
		pr_warn("unix socket %lu: its peer credentials will be criu's, not uid %u gid %u: %s\n",
			(unsigned long)e->ino, e->peer_uid, e->peer_gid, strerror(errno));
		syscall(SYS_setresgid, -1, eg, -1);
		prctl(PR_SET_SECUREBITS, s->secbits, 0, 0, 0);
		prctl(PR_SET_DUMPABLE, s->dumpable, 0, 0, 0);
		return;
	}
	s->on = true;
}

static void act_back(struct ids *s)
{
	if (!s->on)
		return;
	if (syscall(SYS_setresuid, -1, s->euid, -1) || syscall(SYS_setresgid, -1, s->egid, -1) ||
	    prctl(PR_SET_SECUREBITS, s->secbits, 0, 0, 0) || prctl(PR_SET_DUMPABLE, s->dumpable, 0, 0, 0))
		pr_perror("can't take back criu's own ids");
	s->on = false;
}

static int create_members(struct fd_rst *c, struct group *g)
{
	for (size_t i = 0; i < g->nr; i++) {
		struct gm *m = &g->m[i], *p;
		struct ids ids;
		int sv[2], ret;

		if (m->fd >= 0 || accepted(m->e))
			continue;
		if (m->e->type != SOCK_DGRAM && m->e->peer_gone) {
			/* connected to a stand-in, which sends the queue and goes */
			act_as(m->e, &ids);
			ret = socketpair(AF_UNIX, m->e->type | SOCK_CLOEXEC, 0, sv);
			act_back(&ids);
			if (ret) {
				pr_perror("can't make unix socket %lu with a peer", (unsigned long)m->e->ino);
				return -1;
			}
			m->fd = fd_rst_lift_for(c, sv[0], m->id);
			m->standin = fd_rst_lift(c, sv[1]);
			if (m->fd < 0 || m->standin < 0)
				return -1;
			m->made = true;
		} else if (mutual(g, m) && !accepted(gm_find(g, m->e->peer)->e)) {
			p = gm_find(g, m->e->peer);
			act_as(m->e, &ids);
			ret = socketpair(AF_UNIX, m->e->type | SOCK_CLOEXEC, 0, sv);
			act_back(&ids);
			if (ret) {
				pr_perror("can't make the pair of unix sockets %lu and %lu", (unsigned long)m->e->ino,
					  (unsigned long)p->e->ino);
				return -1;
			}
			m->fd = fd_rst_lift_for(c, sv[0], m->id);
			p->fd = fd_rst_lift_for(c, sv[1], p->id);
			if (m->fd < 0 || p->fd < 0)
				return -1;
			m->made = p->made = true;
		} else {
			m->fd = socket(AF_UNIX, m->e->type | SOCK_CLOEXEC, 0);
			if (m->fd < 0) {
				pr_perror("can't make unix socket %lu", (unsigned long)m->e->ino);
				return -1;
			}
			m->fd = fd_rst_lift_for(c, m->fd, m->id);
			if (m->fd < 0)
				return -1;
			m->made = true;
		}
	}
	return 0;
}

/*
 * A dgram socket whose peer went away: connected to a socket that goes at
 * once, by the dead peer's name if we may take it (an abstract one that is
 * free; a path name only if nothing is there, removed again), else by an
 * autobound one. Its next send fails with ECONNREFUSED, as it would have.
 */
static int connect_gone(struct gm *m)
{
	UnixSkEntry *e = m->e;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), named = 0, ret = -1;
	socklen_t len = sizeof(a);
	char path[sizeof(a.sun_path) + 1];

	if (tmp < 0) {
		pr_perror("socket");
		return -1;
	}
	if (e->has_peer_name && e->peer_name.len && e->peer_name.len <= sizeof(a.sun_path)) {
		socklen_t l = make_addr(&a, &e->peer_name);

		named = !bind(tmp, (struct sockaddr *)&a, l);
	}
	/* autobind: an abstract name of the kernel's choosing */
	if (!named && bind(tmp, (struct sockaddr *)&a, sizeof(sa_family_t))) {
		pr_perror("can't bind a stand-in for the peer of unix socket %lu", (unsigned long)e->ino);
		goto out;
	}
	if (getsockname(tmp, (struct sockaddr *)&a, &len) || connect(m->fd, (struct sockaddr *)&a, len)) {
		pr_perror("can't connect unix socket %lu to a stand-in for its peer", (unsigned long)e->ino);
		goto out;
	}
	ret = 0;
out:
	close(tmp);
	if (named && e->peer_name.data[0]) {
		name_path(&e->peer_name, path);
		unlink(path);
	}
	return ret;
}

/*
 * Connection @a made as it was, by accept() on listener @lfd bound to its
 * name: its peer (or the stand-in of a peer gone) connects first.
 */
static int accept_member(struct group *g, struct gm *a, int lfd)
{
	struct gm *p = a->e->peer_gone ? NULL : gm_find(g, a->e->peer);
	int *client = p ? &p->fd : &a->standin, fd, ret;
	struct ids ids;

	if (*client < 0) {
		*client = socket(AF_UNIX, a->e->type | SOCK_CLOEXEC, 0);
		if (*client < 0 || (*client = fd_rst_lift(g->c, *client)) < 0) {
			pr_perror("can't make the peer of unix socket %lu", (unsigned long)a->e->ino);
			return -1;
		}
	}
	/* the accepted end's peer credentials are the connecting one's */
	act_as(a->e, &ids);
	ret = connect_to(g, p ? p : a, NULL, &a->e->name);
	act_back(&ids);
	if (ret)
		return -1;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0 || (a->fd = fd_rst_lift(g->c, fd)) < 0) {
		pr_perror("can't accept unix socket %lu again", (unsigned long)a->e->ino);
		return -1;
	}
	return 0;
}

/* An accepted connection whose listener is gone: one bound to its name for a moment. */
static int accept_gone(struct group *g, struct gm *a)
{
	struct sockaddr_un addr;
	socklen_t len = make_addr(&addr, &a->e->name);
	int l = socket(AF_UNIX, a->e->type | SOCK_CLOEXEC, 0), ret = -1, err;
	struct gm *p = a->e->peer_gone ? NULL : gm_find(g, a->e->peer);
	struct ids ids;
	char nb[128];

	if (l < 0) {
		pr_perror("can't make a unix socket");
		return -1;
	}
	/* the client's peer credentials are the listener's */
	err = bind(l, (struct sockaddr *)&addr, len);
	if (!err) {
		act_as(p ? p->e : NULL, &ids);
		err = listen(l, 1);
		act_back(&ids);
	}
	if (err)
		pr_perror("can't listen on %s for a moment to accept unix socket %lu again",
			  name_str(a->e->name.data, a->e->name.len, nb, sizeof(nb)), (unsigned long)a->e->ino);
	else
		ret = accept_member(g, a, l);
	close(l);
	return ret;
}

static int connect_members(struct group *g)
{
	for (size_t i = 0; i < g->nr; i++) {
		struct gm *m = &g->m[i], *p;
		UnixSkEntry *e = m->e;

		if (accepted(e) && !e->accepted_on && accept_gone(g, m))
			return -1;
		if (e->state == TCP_LISTEN) {
			struct ids ids;
			int ret;

			act_as(e, &ids);
			ret = listen(m->fd, e->has_backlog ? (int)e->backlog : SOMAXCONN);
			act_back(&ids);
			if (ret) {
				pr_perror("can't listen on unix socket %lu", (unsigned long)e->ino);
				return -1;
			}
			/* its accepted connections, before the clients that wait (accept() would take them) */
			for (size_t j = 0; j < g->nr; j++)
				if (accepted(g->m[j].e) && g->m[j].e->accepted_on == e->ino &&
				    accept_member(g, &g->m[j], m->fd))
					return -1;
			/* the clients not accepted yet, in the order they came */
			for (size_t j = 0; j < e->n_icons; j++) {
				p = gm_find(g, e->icons[j]);
				if (!p || connect_to(g, p, e, &e->name))
					return -1;
			}
			continue;
		}
		if (e->type != SOCK_DGRAM)
			continue;
		p = gm_find(g, e->peer);
		if (p && !mutual(g, m) && connect_to(g, m, p->e, &p->e->name))
			return -1;
		if (e->has_ext_peer && connect_to(g, m, NULL, &e->ext_peer))
			return -1;
		if (e->peer_gone && connect_gone(m))
			return -1;
	}
	return 0;
}

/*
 * A process that has pid @pid while a message with its credentials is
 * sent: the kernel wants the pid to exist. A helper that only waits takes
 * it (clone3 set_tid) if nobody has it (a process gone, or one of the tree
 * not made yet: restore_task() retries a pid taken for that moment); its
 * pid, 0 if not needed, or -1.
 */
static pid_t hold_pid(pid_t pid)
{
	struct clone_args ca;
	pid_t got;

	if (pid <= 0 || !kill(pid, 0) || errno != ESRCH)
		return 0;
	memset(&ca, 0, sizeof(ca));
	/* not traced along: criu's tracer must not take it for the task of that pid */
	ca.flags = CLONE_UNTRACED;
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uintptr_t)&pid;
	ca.set_tid_size = 1;
	got = syscall(__NR_clone3, &ca, sizeof(ca));
	if (got == 0) {
		for (;;)
			pause();
	}
	if (got < 0)
		pr_perror("can't hold pid %d for the credentials of a queued message", pid);
	return got;
}

static void release_pid(pid_t pid)
{
	if (pid <= 0)
		return;
	kill_child(pid, "the holder of a message's pid");
}

/* The fds of the files in flight on @msg, from the group or the task's. */
static int inflight_fds(struct group *g, const UnixSkMsg *msg, int *fds)
{
	for (size_t i = 0; i < msg->n_fds; i++) {
		uint64_t *m = hmap_get(&g->by_id, msg->fds[i]);

		FileEntry *fe = m ? NULL : find_file(g->c->rf, msg->fds[i]);

		fds[i] = m ? g->m[*m].fd : fd_rst_get(g->c, msg->fds[i]);
		if (fds[i] < 0) {
			pr_err("file %u, in flight on a unix socket, can't be made\n", msg->fds[i]);
			return -1;
		}
		if (fe && inet_inflight_repair_off(fds[i], fe))
			return -1;
	}
	return 0;
}

static int send_one(struct group *g, int from, UnixSkEntry *to, UnixSkMsg *msg, int by_name)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(SCM_MAX_FD * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { msg->data.data, msg->data.len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c = NULL;
	struct sockaddr_un a;
	pid_t held = 0;
	ssize_t n;

	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.buf;
	if (by_name) {
		mh.msg_name = &a;
		mh.msg_namelen = make_addr(&a, &to->name);
	}
	if (msg->has_cred_pid) {
		struct ucred cr = { .pid = msg->cred_pid, .uid = msg->cred_uid, .gid = msg->cred_gid };

		mh.msg_controllen += CMSG_SPACE(sizeof(cr));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(cr));
		memcpy(CMSG_DATA(c), &cr, sizeof(cr));
		held = hold_pid(msg->cred_pid);
		if (held < 0)
			return -1;
	}
	if (msg->n_fds) {
		int fds[SCM_MAX_FD];

		if (msg->n_fds > SCM_MAX_FD || inflight_fds(g, msg, fds)) {
			release_pid(held);
			return -1;
		}
		mh.msg_controllen += CMSG_SPACE(msg->n_fds * sizeof(int));
		c = c ? CMSG_NXTHDR(&mh, c) : CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(msg->n_fds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, msg->n_fds * sizeof(int));
	}
	if (!mh.msg_controllen)
		mh.msg_control = NULL;
	if (by_name && enter_dir(g, to)) {
		release_pid(held);
		return -1;
	}
	n = sendmsg(from, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	release_pid(held);
	if (by_name && leave_dir(g, to))
		return -1;
	if (n != (ssize_t)msg->data.len) {
		pr_perror("can't queue %zu bytes on unix socket %lu again", msg->data.len, (unsigned long)to->ino);
		return -1;
	}
	return 0;
}

/*
 * SO_*BUFFORCE needs CAP_NET_ADMIN in criu's user namespace, which the
 * restore has not inside a user namespace of the tree's; there the tasks
 * could only have used the plain option, which is what restore uses then.
 */
static int set_buf(int fd, int force_opt, int val)
{
	int plain = force_opt == SO_SNDBUFFORCE ? SO_SNDBUF : SO_RCVBUF;

	if (!setsockopt(fd, SOL_SOCKET, force_opt, &val, sizeof(val)))
		return 0;
	if (errno != EPERM)
		return -1;
	return setsockopt(fd, SOL_SOCKET, plain, &val, sizeof(val));
}

static int grow_sndbuf(int fd, size_t bytes)
{
	int val = bytes > SNDBUF_MAX ? SNDBUF_MAX : (int)bytes + SNDBUF_SLACK;

	if (set_buf(fd, SO_SNDBUFFORCE, val)) {
		pr_perror("can't make room to queue data again");
		return -1;
	}
	return 0;
}

/*
 * Put a receive queue back by sending it again from who sent it: the peer
 * for a pair, the sender of that name for a datagram, else a socket of
 * our own. A stream whose peer is gone gets a peer that goes away again.
 */
/*
 * An older image says a stream socket's peer is gone only by data queued
 * without a peer: the socket is made again with a stand-in then.
 */
static int old_standin(struct gm *r)
{
	int sv[2];

	if (socketpair(AF_UNIX, r->e->type | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("socketpair");
		return -1;
	}
	if (dup3(sv[0], r->fd, O_CLOEXEC) < 0) {
		pr_perror("dup3");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[0]);
	r->standin = sv[1];
	return 0;
}

/*
 * A stream's queue comes from one sender that sends nothing else: a few
 * small messages (the kernel counts less than QUEUE_SMALL_MSG for each)
 * fit the smallest send buffer a socket has (the kernel's minimum is above
 * QUEUE_SMALL_ROOM). Datagram senders may send to many: always made room.
 */
#define QUEUE_SMALL_MSG		2048
#define QUEUE_SMALL_ROOM	4096
static bool must_grow(const UnixSkEntry *e, size_t total)
{
	return e->type != SOCK_STREAM || total + e->n_queue * QUEUE_SMALL_MSG > QUEUE_SMALL_ROOM;
}

static int p_fd(const struct gm *p)
{
	return p ? p->fd : -1;
}

static int fill_queue(struct group *g, struct gm *r)
{
	UnixSkEntry *e = r->e;
	struct gm *p = gm_find(g, e->peer);
	int tmp = -1, ret = -1;
	size_t total = 0;

	/*
	 * SO_PASSCRED comes after (finish_member()): with it on, a message sent
	 * without credentials would get ours.
	 */
	for (size_t i = 0; i < e->n_queue; i++)
		total += e->queue[i]->data.len;
	for (size_t i = 0; i < e->n_queue; i++) {
		UnixSkMsg *msg = e->queue[i];
		struct gm *s = msg->has_src ? gm_by_name(g, &msg->src) : NULL;
		int from, by_name = 0;

		if (r->standin < 0 && e->type != SOCK_DGRAM && !p && old_standin(r))
			goto out;
		if (r->standin >= 0) {
			from = r->standin;
		} else if (e->type != SOCK_DGRAM) {
			from = p->fd;
		} else if (s) {
			from = s->fd;
			by_name = s->e->peer != e->ino;
		} else if (p && mutual(g, r) && !p->e->has_name) {
			from = p->fd;
		} else {
			if (tmp < 0)
				tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (tmp < 0) {
				pr_perror("socket");
				goto out;
			}
			from = tmp;
			by_name = 1;
		}
		if (by_name && !e->has_name) {
			pr_err("unix socket %lu has a datagram queued but no name to send it to\n",
			       (unsigned long)e->ino);
			goto out;
		}
		if (must_grow(e, total) && grow_sndbuf(from, total))
			goto out;
		if (from == p_fd(p) && must_grow(e, total))
			p->grown = true;
		else if (s && from == s->fd && must_grow(e, total))
			s->grown = true;
		if (send_one(g, from, e, msg, by_name))
			goto out;
	}
	/* the peer is gone: with data of ours unread (ECONNRESET), or not */
	if (r->standin >= 0) {
		if (e->peer_reset && write(r->fd, "", 1) != 1) {
			pr_perror("can't leave data unread at the peer of unix socket %lu", (unsigned long)e->ino);
			goto out;
		}
		close(r->standin);
		r->standin = -1;
	}
	ret = 0;
out:
	if (tmp >= 0)
		close(tmp);
	return ret;
}

static int set_int(int fd, int opt, int val, const char *what, uint64_t ino)
{
	if (opt == SO_SNDBUFFORCE || opt == SO_RCVBUFFORCE ? set_buf(fd, opt, val) :
	    setsockopt(fd, SOL_SOCKET, opt, &val, sizeof(val))) {
		pr_perror("can't set %s of unix socket %lu to %d", what, (unsigned long)ino, val);
		return -1;
	}
	return 0;
}

/* Options, shut-down sides and file flags, once the queues are in. */
/*
 * The buffer size @opt of member @m: of a socket made here and not grown,
 * what every new unix socket of this task has (asked of the first only).
 */
static int cur_buf(struct fd_rst *c, const struct gm *m, int opt, int *val)
{
	int *known = &c->usk_bufs[opt == SO_RCVBUF];

	if (m->grown || !m->made)
		return getopt_int(m->fd, opt, val);
	if (!*known && getopt_int(m->fd, opt, known))
		return -1;
	*val = *known;
	return 0;
}

static int finish_member(struct fd_rst *c, struct gm *m)
{
	UnixSkEntry *e = m->e;
	int cur;

	if (e->has_sndbuf && !cur_buf(c, m, SO_SNDBUF, &cur) && cur != (int)e->sndbuf &&
	    set_int(m->fd, SO_SNDBUFFORCE, e->sndbuf / 2, "SO_SNDBUF", e->ino))
		return -1;
	if (e->has_rcvbuf && !cur_buf(c, m, SO_RCVBUF, &cur) && cur != (int)e->rcvbuf &&
	    set_int(m->fd, SO_RCVBUFFORCE, e->rcvbuf / 2, "SO_RCVBUF", e->ino))
		return -1;
	/* a new socket has it off */
	if (e->has_passcred && e->passcred && set_int(m->fd, SO_PASSCRED, e->passcred, "SO_PASSCRED", e->ino))
		return -1;
	if (e->has_peek_off && e->peek_off != -1 && set_int(m->fd, SO_PEEK_OFF, e->peek_off, "SO_PEEK_OFF", e->ino))
		return -1;
	if (e->has_rcvlowat && e->rcvlowat != 1 && set_int(m->fd, SO_RCVLOWAT, e->rcvlowat, "SO_RCVLOWAT", e->ino))
		return -1;
	if (e->opts) {
		char who[64];

		snprintf(who, sizeof(who), "unix socket %lu", (unsigned long)e->ino);
		if (sk_opts_restore(m->fd, e->opts, SK_OPT_EARLY, 0, who) ||
		    sk_opts_restore(m->fd, e->opts, SK_OPT_LATE, 0, who) ||
		    sk_opts_restore(m->fd, e->opts, SK_OPT_LAST, 0, who))
			return -1;
	}
	if (e->shutdown & SEND_SHUTDOWN && shutdown(m->fd, SHUT_WR) && errno != ENOTCONN) {
		pr_perror("can't shut unix socket %lu for writing", (unsigned long)e->ino);
		return -1;
	}
	if (e->shutdown & RCV_SHUTDOWN && shutdown(m->fd, SHUT_RD) && errno != ENOTCONN) {
		pr_perror("can't shut unix socket %lu for reading", (unsigned long)e->ino);
		return -1;
	}
	/* O_ASYNC is set by the fown code at the final fd number; a new socket has no other flag */
	if ((e->flags & ~(O_ACCMODE | O_ASYNC)) && fcntl(m->fd, F_SETFL, e->flags & ~(O_ACCMODE | O_ASYNC))) {
		pr_perror("can't set the file flags of unix socket %lu", (unsigned long)e->ino);
		return -1;
	}
	return 0;
}

/* Sockets bound to a path that was removed lose it again; moved files come back. */
static int unlink_paths(struct group *g)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	int ret = 0;

	for (size_t i = 0; i < g->nr; i++) {
		UnixSkEntry *e = g->m[i].e;

		if (!e->has_name || !e->name.len || !e->name.data[0] || (!e->unlinked && !g->m[i].aside))
			continue;
		name_path(&e->name, path);
		if (enter_dir(g, e))
			return -1;
		if (e->unlinked && unlink(path)) {
			pr_perror("can't unlink %s again", path);
			ret = -1;
		}
		if (g->m[i].aside && rename(g->m[i].aside, path)) {
			pr_perror("can't move %s back to %s", g->m[i].aside, path);
			ret = -1;
		}
		if (g->m[i].made_dir) {
			char dir[PATH_MAX];

			name_dir(path, dir, sizeof(dir));
			remove_made_dirs(dir, &g->m[i].made_dir, &g->m[i].dir_times);
		} else {
			char dir[PATH_MAX];

			name_dir(path, dir, sizeof(dir));
			times_put_back(dir, &g->m[i].dir_times);
		}
		free(g->m[i].aside);
		g->m[i].aside = NULL;
		if (leave_dir(g, e))
			return -1;
	}
	return ret;
}

static int build_group(struct fd_rst *c, uint64_t group, uint32_t want)
{
	struct rst_files *rf = c->rf;
	struct group g = { .c = c, .cwd = -1 };
	uint64_t *first = hmap_get(&rf->usk_groups, group);
	int ret = -1;

	for (FileEntry *fe = first ? find_file(rf, *first) : NULL; fe; fe = find_file(rf, rf->usk_next[fe->id]))
		g.nr++;
	g.m = calloc(g.nr + 1, sizeof(*g.m));
	if (!g.m)
		return -1;
	g.nr = 0;
	for (FileEntry *fe = first ? find_file(rf, *first) : NULL; fe; fe = find_file(rf, rf->usk_next[fe->id])) {
		UnixSkEntry *e = fe->usk;
		int made;

		if (gm_find(&g, e->ino))
			continue;
		g.m[g.nr] = (struct gm){ .e = e, .id = fe->id, .fd = -1, .standin = -1 };
		if (hmap_put(&g.by_ino, e->ino, g.nr) || hmap_put(&g.by_id, fe->id, g.nr) ||
		    (e->has_name && e->name.len && !hmap_get_or_put(&g.by_name, name_key(&e->name), g.nr, &made))) {
			pr_err("out of memory\n");
			goto out;
		}
		g.nr++;
	}
	if (create_members(c, &g))
		goto out;
	for (size_t i = 0; i < g.nr; i++)
		if (bind_member(&g, &g.m[i]))
			goto out;
	if (connect_members(&g))
		goto out;
	for (size_t i = 0; i < g.nr; i++)
		if (fill_queue(&g, &g.m[i]))
			goto out;
	if (unlink_paths(&g))
		goto out;
	for (size_t i = 0; i < g.nr; i++)
		if (finish_member(c, &g.m[i]))
			goto out;
	if (hmap_put(&c->made, MADE_USK_GROUP | group, 1)) {
		pr_err("out of memory\n");
		goto out;
	}
	/* every other member where it belongs; the one asked for to the caller */
	ret = -2;
	for (size_t i = 0; i < g.nr; i++) {
		int fd = g.m[i].fd;

		g.m[i].fd = -1;
		if (g.m[i].id == want) {
			ret = fd;
			continue;
		}
		if (fd_rst_place_or_keep(c, g.m[i].id, fd) == -1) {
			if (ret >= 0)
				close(ret);
			ret = -1;
			break;
		}
	}
	if (ret == -2)
		pr_err("unix socket file %u is not in its group\n", want);
out:
	if (ret < 0)
		unlink_paths(&g);
	for (size_t i = 0; i < g.nr; i++) {
		if (g.m[i].fd >= 0)
			close(g.m[i].fd);
		if (g.m[i].standin >= 0)
			close(g.m[i].standin);
		free(g.m[i].aside);
		free(g.m[i].made_dir);
	}
	if (g.cwd >= 0) {
		if (g.made_cwd && fchdir(g.cwd))
			pr_perror("can't go back to the previous directory");
		close(g.cwd);
	}
	if (g.made_cwd)
		remove_made_dirs(g.gone_cwd, &g.made_cwd, &g.made_cwd_times);
	free(g.gone_cwd);
	free(g.m);
	hmap_free(&g.by_ino);
	hmap_free(&g.by_name);
	hmap_free(&g.by_id);
	return ret < 0 ? -1 : ret;
}

static int open_usk(struct fd_rst *c, FileEntry *fe)
{
	UnixSkEntry *e = fe->usk;

	if (!e || (e->type != SOCK_STREAM && e->type != SOCK_DGRAM && e->type != SOCK_SEQPACKET)) {
		pr_err("file %u: a bad unix socket record\n", fe->id);
		return -1;
	}
	if (hmap_get(&c->made, MADE_USK_GROUP | group_of(e))) {
		pr_err("unix socket %lu is wanted again after its group was made\n", (unsigned long)e->ino);
		return -1;
	}
	return build_group(c, group_of(e), fe->id);
}

static uint64_t usk_link_key(const FileEntry *fe)
{
	return fe->usk ? group_of(fe->usk) : 0;
}

/* Files in flight on the socket are sent again where its group is made: they go with it. */
static size_t usk_refs(const FileEntry *fe, uint32_t *ids, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; fe->usk && i < fe->usk->n_queue; i++)
		for (size_t j = 0; j < fe->usk->queue[i]->n_fds; j++, n++)
			if (n < max)
				ids[n] = fe->usk->queue[i]->fds[j];
	return n;
}

const struct fd_kind unixsk_kind = {
	.link = "socket:[",
	.prefix = 1,
	.sk_families = 1ULL << AF_UNIX,
	.type = FILE_TYPE__FT_UNIXSK,
	.dump = dump_usk,
	.open = open_usk,
	.free = free_usk,
	.prepare = usk_prepare,
	.link_key = usk_link_key,
	.refs = usk_refs,
};
