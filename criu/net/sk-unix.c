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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* The unix sockets of the tree's network namespace, from its state object (net.c). */
static struct unix_diag_table *diag;

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
	if (stat(mntns_path(path, at, sizeof(at)), &st) || !S_ISSOCK(st.st_mode) || !u->has_vfs ||
	    st.st_ino != u->vfs_ino) {
		e->unlinked = true;
		return 0;
	}
	e->has_mode = e->has_uid = e->has_gid = true;
	e->mode = st.st_mode;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	return ns_owner_inside(&e->uid, &e->gid, "a unix socket's file");
}

static int add_msg(UnixSkEntry *e, const uint8_t *buf, size_t len, const struct sockaddr_un *src, socklen_t srclen,
		   const struct ucred *cred)
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
	n = realloc(e->queue, (e->n_queue + 1) * sizeof(*n));
	if (!n)
		goto err;
	e->queue = n;
	e->queue[e->n_queue++] = m;
	return 0;
err:
	free(m->src.data);
	free(m->data.data);
	free(m);
	return -1;
}

/* What a control message says; -1 if it carries something we can't put back (fds). */
static int scan_cmsgs(struct msghdr *mh, struct ucred *cred, int *has_cred)
{
	int ret = 0;

	*has_cred = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int *fds = (int *)CMSG_DATA(c);
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			/* peeking installed copies of them in our table */
			for (size_t i = 0; i < n; i++)
				close(fds[i]);
			ret = -1;
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			memcpy(cred, CMSG_DATA(c), sizeof(*cred));
			*has_cred = 1;
		} else {
			ret = -1;
		}
	}
	return ret;
}

/*
 * Copy the receive queue, message by message, leaving it in place: each
 * peek starts at SO_PEEK_OFF, which we set ourselves.
 */
static int peek_queue(pid_t pid, int fd, int sk, UnixSkEntry *e, int passcred)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(253 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	size_t size = 256 << 10, total = 0;
	uint8_t *buf = malloc(size);
	int off = 0, ret = -1;

	if (!buf)
		return -1;
	for (;;) {
		struct sockaddr_un src;
		struct iovec iov = { buf, size };
		struct msghdr mh = { .msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		struct ucred cred;
		int has_cred;
		ssize_t n;

		if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off))) {
			pr_perror("can't set SO_PEEK_OFF on fd %d of %d", fd, pid);
			goto out;
		}
		n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | (e->type == SOCK_STREAM ? 0 : MSG_TRUNC));
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			pr_perror("can't peek the queue of fd %d of %d", fd, pid);
			goto out;
		}
		/* no more data on a shut-down socket reads as 0 */
		if (n == 0 && (e->type == SOCK_STREAM || (e->shutdown & RCV_SHUTDOWN)))
			break;
		if ((size_t)n > size || (mh.msg_flags & MSG_TRUNC)) {
			uint8_t *nb = realloc(buf, n);

			if (!nb)
				goto out;
			buf = nb;
			size = n;
			continue;	/* again from the same offset */
		}
		if ((mh.msg_flags & MSG_CTRUNC) || scan_cmsgs(&mh, &cred, &has_cred)) {
			pr_err("can't dump task %d: fd %d (unix socket %lu) has a message carrying file descriptors "
			       "or other control data queued; not supported yet\n", pid, fd, (unsigned long)e->ino);
			goto out;
		}
		total += n;
		if (total > MAX_QUEUE_BYTES) {
			pr_err("can't dump task %d: fd %d (unix socket %lu) has more than %u bytes queued\n", pid, fd,
			       (unsigned long)e->ino, MAX_QUEUE_BYTES);
			goto out;
		}
		if (add_msg(e, buf, n, &src, e->type == SOCK_STREAM ? 0 : mh.msg_namelen,
			    passcred && has_cred ? &cred : NULL)) {
			pr_err("out of memory\n");
			goto out;
		}
		off += n;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

static int dump_options(pid_t pid, int fd, int sk, UnixSkEntry *e)
{
	int sndbuf, rcvbuf, passcred, peek_off, rcvlowat;

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
	return 0;
}


static int dump_usk(pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	char path[64], link[64];
	struct unix_diag_info *u;
	unsigned long ino;
	UnixSkEntry *e;
	int sk, ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (read_link(path, link, sizeof(link)) < 0 || sscanf(link, "socket:[%lu]", &ino) != 1) {
		pr_err("can't read the socket inode of fd %d of %d\n", fd, pid);
		return -1;
	}
	if (!diag) {
		struct netns_state *ns = netns_of(pid);

		diag = ns ? netns_unix_diag(ns) : NULL;
		if (!diag)
			return -1;
	}
	u = unix_diag_find(diag, ino);
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
		if (u->type != SOCK_DGRAM && u->state == TCP_ESTABLISHED && !u->name[0]) {
			char nb[128];

			pr_err("can't dump task %d: fd %d (unix socket %u) is a connection accepted on the abstract "
			       "name %s; not supported yet\n", pid, fd, u->ino,
			       name_str((uint8_t *)u->name, u->namelen, nb, sizeof(nb)));
			goto out;
		}
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
	if (dump_options(pid, fd, sk, e))
		goto close;
	/* a stream socket that isn't connected has no queue to read */
	if (u->type == SOCK_DGRAM || u->state == TCP_ESTABLISHED) {
		int orig = e->peek_off;

		ret = peek_queue(pid, fd, sk, e, e->passcred);
		/* the task's own peek offset back as it was: a second try if the first fails */
		if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &orig, sizeof(orig)) &&
		    setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &orig, sizeof(orig))) {
			pr_perror("can't put SO_PEEK_OFF of fd %d of %d back", fd, pid);
			ret = -1;
		}
		if (ret)
			goto close;
		ret = -1;
	}
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
		free(e->queue[i]);
	}
	free(e->queue);
	free(e->icons);
	free(e->name.data);
	free(e->dir);
	free(e->ext_peer.data);
	free(e);
	fe->usk = NULL;
}

/* ---- the tree-wide check ---- */

static UnixSkEntry *tree_sk(struct file_table *ft, uint64_t ino, struct file_desc **d)
{
	for (size_t i = 0; ino && i < ft->nr; i++) {
		FileEntry *fe = &ft->d[i].fe;

		if (fe->type == FILE_TYPE__FT_UNIXSK && fe->usk && fe->usk->ino == ino) {
			if (d)
				*d = &ft->d[i];
			return fe->usk;
		}
	}
	return NULL;
}

/* The tree listener whose clients-not-accepted list has @ino. */
static UnixSkEntry *pending_on(struct file_table *ft, uint64_t ino)
{
	for (size_t i = 0; i < ft->nr; i++) {
		UnixSkEntry *l = ft->d[i].fe.type == FILE_TYPE__FT_UNIXSK ? ft->d[i].fe.usk : NULL;

		for (size_t j = 0; l && j < l->n_icons; j++)
			if (l->icons[j] == ino)
				return l;
	}
	return NULL;
}

static int outside_listener_has(uint64_t ino)
{
	for (size_t i = 0; i < diag->nr; i++)
		for (uint32_t j = 0; j < diag->s[i].nr_icons; j++)
			if (diag->s[i].icons[j] == ino)
				return 1;
	return 0;
}

static int name_eq(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

static int check_peer(struct file_table *ft, struct file_desc *d)
{
	UnixSkEntry *e = d->fe.usk, *p = tree_sk(ft, e->peer, NULL), *l = pending_on(ft, e->ino);
	struct unix_diag_info *pu = unix_diag_find(diag, e->peer), *me = unix_diag_find(diag, e->ino);
	char nb[128];

	if (l) {
		/* what a client sent before being accepted sits in a socket no fd reaches */
		if (me && me->wqlen) {
			pr_err("can't dump task %d: fd %d (unix socket %lu) is a connection not accepted yet with "
			       "data queued for the listener's side (%u bytes); not supported\n", d->owner_pid,
			       d->owner_fd, (unsigned long)e->ino, me->wqlen);
			return -1;
		}
		return 0;
	}
	if (!e->peer || p)
		return 0;
	if (outside_listener_has(e->ino)) {
		pr_err("can't dump task %d: fd %d (unix socket %lu) is a connection not accepted yet by a listener "
		       "outside the dumped tree\n", d->owner_pid, d->owner_fd, (unsigned long)e->ino);
		return -1;
	}
	if (e->type == SOCK_DGRAM && opts.ext_unix_sk && pu && pu->namelen) {
		e->has_ext_peer = true;
		e->ext_peer.len = pu->namelen;
		e->ext_peer.data = malloc(pu->namelen);
		if (!e->ext_peer.data)
			return -1;
		memcpy(e->ext_peer.data, pu->name, pu->namelen);
		pr_info("fd %d of %d: unix socket %lu will connect again to %s outside the tree\n", d->owner_pid,
			d->owner_fd, (unsigned long)e->ino, name_str((uint8_t *)pu->name, pu->namelen, nb, sizeof(nb)));
		return 0;
	}
	pr_err("can't dump task %d: fd %d (unix socket %lu) is connected to unix socket %lu (%s) outside the "
	       "dumped tree; %s\n", d->owner_pid, d->owner_fd, (unsigned long)e->ino, (unsigned long)e->peer,
	       pu ? name_str((uint8_t *)pu->name, pu->namelen, nb, sizeof(nb)) : "gone",
	       e->type != SOCK_DGRAM ? "a connection can't be made again with the other side outside"
	       : pu && pu->namelen ? "use --ext-unix-sk to connect again to its name at restore"
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
		int found = 0;

		if (!m->has_src)
			continue;
		for (size_t j = 0; j < ft->nr && !found; j++) {
			UnixSkEntry *o = ft->d[j].fe.type == FILE_TYPE__FT_UNIXSK ? ft->d[j].fe.usk : NULL;

			found = o && o->has_name && name_eq(&o->name, &m->src);
		}
		if (!found) {
			pr_err("can't dump task %d: fd %d (unix socket %lu) has a datagram queued from %s, which is "
			       "not a socket of the dumped tree\n", d->owner_pid, d->owner_fd, (unsigned long)e->ino,
			       name_str(m->src.data, m->src.len, nb, sizeof(nb)));
			return -1;
		}
	}
	return 0;
}

/* Sockets outside the tree connected to ours would lose their peer. */
static int check_outside_peers(struct file_table *ft)
{
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

/* Union-find over the tree's sockets: connected ones get one group number (the least inode). */
static uint64_t find_group(struct file_table *ft, UnixSkEntry *e, int depth)
{
	UnixSkEntry *p;

	if (depth > 1000 || !e->has_group || e->group == e->ino)
		return e->has_group ? e->group : e->ino;
	p = tree_sk(ft, e->group, NULL);
	return p ? find_group(ft, p, depth + 1) : e->group;
}

static void join(struct file_table *ft, UnixSkEntry *a, UnixSkEntry *b)
{
	uint64_t ga = find_group(ft, a, 0), gb = find_group(ft, b, 0);
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
		for (size_t j = 0; j < e->n_icons; j++) {
			p = tree_sk(ft, e->icons[j], NULL);
			if (p)
				join(ft, e, p);
		}
		/* a datagram is queued again by its sender */
		for (size_t j = 0; j < e->n_queue; j++) {
			if (!e->queue[j]->has_src)
				continue;
			for (size_t k = 0; k < ft->nr; k++) {
				p = ft->d[k].fe.type == FILE_TYPE__FT_UNIXSK ? ft->d[k].fe.usk : NULL;
				if (p && p->has_name && name_eq(&p->name, &e->queue[j]->src))
					join(ft, e, p);
			}
		}
	}
	for (size_t i = 0; i < ft->nr; i++) {
		UnixSkEntry *e = ft->d[i].fe.type == FILE_TYPE__FT_UNIXSK ? ft->d[i].fe.usk : NULL;

		if (e)
			e->group = find_group(ft, e, 0);
	}
}

int check_unix_sockets(struct file_table *ft)
{
	int ret = -1;

	if (!diag)
		return 0;	/* no socket in the tree */
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];

		if (d->fe.type != FILE_TYPE__FT_UNIXSK || !d->fe.usk)
			continue;
		if (check_peer(ft, d) || check_sources(ft, d))
			goto out;
		for (size_t j = 0; j < d->fe.usk->n_icons; j++)
			if (!tree_sk(ft, d->fe.usk->icons[j], NULL)) {
				pr_err("can't dump task %d: fd %d (unix socket %lu) is a listener with a connection "
				       "not accepted yet from unix socket %lu outside the dumped tree\n", d->owner_pid,
				       d->owner_fd, (unsigned long)d->fe.usk->ino, (unsigned long)d->fe.usk->icons[j]);
				goto out;
			}
	}
	if (check_outside_peers(ft))
		goto out;
	number_groups(ft);
	ret = 0;
out:
	diag = NULL;	/* the namespace's state object keeps the table */
	return ret;
}

/* ---- restore ---- */

/* Sockets made but not placed yet, by inode; -1 once handed out. */
struct rsk {
	uint64_t ino;
	int fd;
};

static struct rsk *rsks;
static size_t nr_rsks;

static struct rsk *rsk_find(uint64_t ino)
{
	for (size_t i = 0; i < nr_rsks; i++)
		if (rsks[i].ino == ino)
			return &rsks[i];
	return NULL;
}

/* One member of the group being made. */
struct gm {
	UnixSkEntry *e;
	int fd;
	char *aside;		/* what sat at our path, moved away while we bind */
};

struct group {
	struct gm *m;
	size_t nr;
	int cwd;		/* to come back after binding a relative name */
};

static struct gm *gm_find(struct group *g, uint64_t ino)
{
	for (size_t i = 0; ino && i < g->nr; i++)
		if (g->m[i].e->ino == ino)
			return &g->m[i];
	return NULL;
}

static struct gm *gm_by_name(struct group *g, const ProtobufCBinaryData *name)
{
	for (size_t i = 0; i < g->nr; i++)
		if (g->m[i].e->has_name && name_eq(&g->m[i].e->name, name))
			return &g->m[i];
	return NULL;
}

static int mutual(struct group *g, struct gm *m)
{
	struct gm *p = gm_find(g, m->e->peer);

	return p && p->e->peer == m->e->ino;
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
static int enter_dir(struct group *g, UnixSkEntry *e)
{
	if (!e->dir)
		return 0;
	if (chdir(e->dir)) {
		pr_perror("can't enter %s to bind unix socket %lu", e->dir, (unsigned long)e->ino);
		return -1;
	}
	return 0;
}

static int leave_dir(struct group *g, UnixSkEntry *e)
{
	if (e->dir && fchdir(g->cwd)) {
		pr_perror("can't go back to the previous directory");
		return -1;
	}
	return 0;
}

static int bind_member(struct group *g, struct gm *m)
{
	UnixSkEntry *e = m->e;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1], nb[128];
	struct sockaddr_un a;
	socklen_t len;
	struct stat st;
	int ret = -1;

	if (!e->has_name || !e->name.len)
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
	if (!lstat(path, &st)) {
		if (S_ISSOCK(st.st_mode) && !e->unlinked) {
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

static int create_members(struct group *g)
{
	for (size_t i = 0; i < g->nr; i++) {
		struct gm *m = &g->m[i], *p;
		int sv[2];

		if (m->fd >= 0)
			continue;
		if (mutual(g, m)) {
			p = gm_find(g, m->e->peer);
			if (socketpair(AF_UNIX, m->e->type | SOCK_CLOEXEC, 0, sv)) {
				pr_perror("can't make the pair of unix sockets %lu and %lu", (unsigned long)m->e->ino,
					  (unsigned long)p->e->ino);
				return -1;
			}
			m->fd = sv[0];
			p->fd = sv[1];
		} else {
			m->fd = socket(AF_UNIX, m->e->type | SOCK_CLOEXEC, 0);
			if (m->fd < 0) {
				pr_perror("can't make unix socket %lu", (unsigned long)m->e->ino);
				return -1;
			}
		}
	}
	return 0;
}

static int connect_members(struct group *g)
{
	for (size_t i = 0; i < g->nr; i++) {
		struct gm *m = &g->m[i], *p;
		UnixSkEntry *e = m->e;

		if (e->state == TCP_LISTEN) {
			if (listen(m->fd, e->has_backlog ? (int)e->backlog : SOMAXCONN)) {
				pr_perror("can't listen on unix socket %lu", (unsigned long)e->ino);
				return -1;
			}
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
	}
	return 0;
}

static int send_one(int from, UnixSkEntry *to, UnixSkMsg *msg, int by_name)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { msg->data.data, msg->data.len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct sockaddr_un a;
	ssize_t n;

	if (by_name) {
		mh.msg_name = &a;
		mh.msg_namelen = make_addr(&a, &to->name);
	}
	if (msg->has_cred_pid && to->passcred) {
		struct cmsghdr *c;
		struct ucred cr = { .pid = msg->cred_pid, .uid = msg->cred_uid, .gid = msg->cred_gid };

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(cr));
		memcpy(CMSG_DATA(c), &cr, sizeof(cr));
	}
	n = sendmsg(from, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
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
	int val = bytes > (1U << 29) ? 1 << 29 : (int)bytes + (1 << 20);

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
static int fill_queue(struct group *g, struct gm *r)
{
	UnixSkEntry *e = r->e;
	struct gm *p = gm_find(g, e->peer);
	int tmp = -1, standin = -1, sv[2], ret = -1, on = 1;
	size_t total = 0;

	if (!e->n_queue)
		return 0;
	for (size_t i = 0; i < e->n_queue; i++)
		total += e->queue[i]->data.len;
	if (e->passcred && setsockopt(r->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on))) {
		pr_perror("can't set SO_PASSCRED");
		return -1;
	}
	if (e->type != SOCK_DGRAM && !p) {
		/* the peer was closed: a stand-in sends, then closes */
		if (socketpair(AF_UNIX, e->type | SOCK_CLOEXEC, 0, sv)) {
			pr_perror("socketpair");
			return -1;
		}
		if (dup2(sv[0], r->fd) < 0) {
			pr_perror("dup2");
			close(sv[0]);
			close(sv[1]);
			return -1;
		}
		close(sv[0]);
		standin = sv[1];
	}
	for (size_t i = 0; i < e->n_queue; i++) {
		UnixSkMsg *msg = e->queue[i];
		struct gm *s = msg->has_src ? gm_by_name(g, &msg->src) : NULL;
		int from, by_name = 0;

		if (standin >= 0) {
			from = standin;
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
		if (grow_sndbuf(from, total) || send_one(from, e, msg, by_name))
			goto out;
	}
	ret = 0;
out:
	if (tmp >= 0)
		close(tmp);
	if (standin >= 0)
		close(standin);
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
static int finish_member(struct gm *m)
{
	UnixSkEntry *e = m->e;
	int cur;

	if (e->has_sndbuf && !getopt_int(m->fd, SO_SNDBUF, &cur) && cur != (int)e->sndbuf &&
	    set_int(m->fd, SO_SNDBUFFORCE, e->sndbuf / 2, "SO_SNDBUF", e->ino))
		return -1;
	if (e->has_rcvbuf && !getopt_int(m->fd, SO_RCVBUF, &cur) && cur != (int)e->rcvbuf &&
	    set_int(m->fd, SO_RCVBUFFORCE, e->rcvbuf / 2, "SO_RCVBUF", e->ino))
		return -1;
	if (e->has_passcred && set_int(m->fd, SO_PASSCRED, e->passcred, "SO_PASSCRED", e->ino))
		return -1;
	if (e->has_peek_off && e->peek_off != -1 && set_int(m->fd, SO_PEEK_OFF, e->peek_off, "SO_PEEK_OFF", e->ino))
		return -1;
	if (e->has_rcvlowat && e->rcvlowat != 1 && set_int(m->fd, SO_RCVLOWAT, e->rcvlowat, "SO_RCVLOWAT", e->ino))
		return -1;
	if (e->shutdown & SEND_SHUTDOWN && shutdown(m->fd, SHUT_WR) && errno != ENOTCONN) {
		pr_perror("can't shut unix socket %lu for writing", (unsigned long)e->ino);
		return -1;
	}
	if (e->shutdown & RCV_SHUTDOWN && shutdown(m->fd, SHUT_RD) && errno != ENOTCONN) {
		pr_perror("can't shut unix socket %lu for reading", (unsigned long)e->ino);
		return -1;
	}
	/* O_ASYNC is set by the fown code at the final fd number */
	if (fcntl(m->fd, F_SETFL, e->flags & ~(O_ACCMODE | O_ASYNC))) {
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
		free(g->m[i].aside);
		g->m[i].aside = NULL;
		if (leave_dir(g, e))
			return -1;
	}
	return ret;
}

static int keep_members(struct group *g)
{
	struct rsk *n = realloc(rsks, (nr_rsks + g->nr) * sizeof(*n));

	if (!n)
		return -1;
	rsks = n;
	for (size_t i = 0; i < g->nr; i++) {
		int fd = restore_lift_fd(g->m[i].fd);

		g->m[i].fd = -1;
		if (fd < 0)
			return -1;
		rsks[nr_rsks].ino = g->m[i].e->ino;
		rsks[nr_rsks++].fd = fd;
	}
	return 0;
}

static uint64_t group_of(UnixSkEntry *e)
{
	return e->has_group ? e->group : e->ino;
}

static int build_group(struct rst_files *rf, uint64_t group)
{
	struct group g = { .cwd = -1 };
	int ret = -1;

	g.m = calloc(rf->nr, sizeof(*g.m));
	if (!g.m)
		return -1;
	for (size_t i = 0; i < rf->nr; i++) {
		UnixSkEntry *e = rf->fe[i]->type == FILE_TYPE__FT_UNIXSK ? rf->fe[i]->usk : NULL;

		if (e && group_of(e) == group && !gm_find(&g, e->ino)) {
			g.m[g.nr].e = e;
			g.m[g.nr++].fd = -1;
		}
	}
	g.cwd = open(".", O_PATH | O_CLOEXEC);
	if (g.cwd < 0) {
		pr_perror("can't open the current directory");
		goto out;
	}
	pr_debug("unix sockets: making group %lu of %zu\n", (unsigned long)group, g.nr);
	if (create_members(&g))
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
		if (finish_member(&g.m[i]))
			goto out;
	ret = keep_members(&g);
out:
	if (ret)
		unlink_paths(&g);
	for (size_t i = 0; i < g.nr; i++) {
		if (g.m[i].fd >= 0)
			close(g.m[i].fd);
		free(g.m[i].aside);
	}
	if (g.cwd >= 0)
		close(g.cwd);
	free(g.m);
	return ret;
}

static int open_usk(struct rst_files *rf, FileEntry *fe)
{
	UnixSkEntry *e = fe->usk;
	struct rsk *r;
	int fd;

	if (!e || (e->type != SOCK_STREAM && e->type != SOCK_DGRAM && e->type != SOCK_SEQPACKET)) {
		pr_err("file %u: a bad unix socket record\n", fe->id);
		return -1;
	}
	r = rsk_find(e->ino);
	if (!r) {
		if (build_group(rf, group_of(e)))
			return -1;
		r = rsk_find(e->ino);
	}
	if (!r || r->fd < 0) {
		pr_err("unix socket %lu is wanted twice\n", (unsigned long)e->ino);
		return -1;
	}
	fd = r->fd;
	r->fd = -1;
	return fd;
}

/* Once a task's fds are placed: what it made for others is theirs through transit, or not needed. */
static void usk_restore_fini(void)
{
	for (size_t i = 0; i < nr_rsks; i++)
		if (rsks[i].fd >= 0)
			close(rsks[i].fd);
	free(rsks);
	rsks = NULL;
	nr_rsks = 0;
}

static uint64_t usk_link_key(const FileEntry *fe)
{
	return fe->usk ? group_of(fe->usk) : 0;
}

const struct fd_kind unixsk_kind = {
	.link = "socket:[",
	.prefix = 1,
	.sk_families = 1ULL << AF_UNIX,
	.type = FILE_TYPE__FT_UNIXSK,
	.dump = dump_usk,
	.open_rf = open_usk,
	.free = free_usk,
	.restore_fini = usk_restore_fini,
	.link_key = usk_link_key,
};
