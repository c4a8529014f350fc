/*
 * POSIX message queues (mq_open): files of the IPC namespace's mqueue
 * filesystem, named "/NAME".
 *
 * In an IPC namespace of the tree's own, every queue of the namespace is
 * saved in ipc-ns.img (also the ones no fd holds): name, mode, owner,
 * mq_maxmsg, mq_msgsize and the queued messages with their priorities.
 * Restore makes them again in the new namespace before any task opens its
 * fds; an fd (FT_MQUEUE) is then mq_open() of the name with its flags.
 *
 * In criu's own namespace a queue is left where it is, as a file of a
 * file system would be: it outlives the tree, and restore opens it again
 * by name, refusing one whose attributes are not the dumped ones.
 *
 * Messages can only be read by taking them out of the queue. A process of
 * its own (not criu, nor the helper that dies with criu) takes them all,
 * puts them back in the same order with the same priorities, and only
 * then hands them to criu through a pipe: a dump that fails or is killed
 * at any point leaves the queue as it was. The one window left is a
 * SIGKILL of that process itself between its receive and its send (it
 * blocks every other signal). Every task of the namespace is frozen, so
 * no other reader or writer takes part meanwhile.
 *
 * Not supported (refused by name): a queue removed (mq_unlink) while an
 * fd holds it, an mq_notify() registration (the kernel does not show its
 * sigev_value). In a tree with a user namespace of its own a queue's
 * owner is saved as the tree sees it (restore makes it inside).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdkinds.h"
#include "files.h"
#include "ipc-mqueue.h"
#include "ipc-sysv.h"
#include "log.h"
#include "namespaces.h"
#include "util.h"

#define MQUEUE_MAGIC	0x19800202
#define MQ_PRIO_LIMIT	32768	/* MQ_PRIO_MAX */

int is_mqueue_fd(struct file_table *ft, int copy, const char *link, const struct stat *st)
{
	struct statfs sfs;

	/* its files are regular, on an anonymous device, named /NAME */
	if (copy < 0 || link[0] != '/' || strchr(link + 1, '/') || !S_ISREG(st->st_mode) || major(st->st_dev))
		return 0;
	if (ft->mq_dev_known && ft->mq_dev == st->st_dev)
		return ft->mq_dev_is;
	if (fstatfs(copy, &sfs)) {
		pr_perror("can't tell the file system of %s", link);
		return 0;
	}
	ft->mq_dev = st->st_dev;
	ft->mq_dev_is = sfs.f_type == MQUEUE_MAGIC;
	ft->mq_dev_known = 1;
	return ft->mq_dev_is;
}

/* The pid notified by the queue @fd (mq_notify), 0 if none, -1 on error; the file's offset is left. */
static int notify_pid(int fd, const char *name)
{
	char buf[128];
	const char *p;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0) {
		pr_perror("can't read the state of POSIX message queue /%s", name);
		return -1;
	}
	buf[n] = '\0';
	p = strstr(buf, "NOTIFY_PID:");
	if (!p) {
		pr_err("POSIX message queue /%s: no NOTIFY_PID in \"%s\"\n", name, buf);
		return -1;
	}
	return atoi(p + strlen("NOTIFY_PID:"));
}

static int valid_name(const char *name)
{
	return name && name[0] && !strchr(name, '/') && strlen(name) < NAME_MAX && strcmp(name, ".") &&
	       strcmp(name, "..");
}

/* ---- fds ---- */

static int dump_mqueue(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi,
		       FileEntry *fe)
{
	int copy = task_fd_held(pid, fd);
	char path[64], link[PATH_MAX];
	struct mq_attr attr;
	struct stat st;
	MqueueEntry *e;
	ssize_t len;
	int np;

	(void)ft;
	(void)info;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", copy);
	len = copy >= 0 ? readlink(path, link, sizeof(link) - 1) : -1;
	if (len <= 1) {
		pr_perror("can't read the name of POSIX message queue fd %d of %d", fd, pid);
		return -1;
	}
	link[len] = '\0';
	if (strstr(link, " (deleted)")) {
		pr_err("can't dump task %d: fd %d is POSIX message queue %s, removed (mq_unlink) while open; "
		       "not supported\n", pid, fd, link);
		return -1;
	}
	np = notify_pid(copy, link + 1);
	if (np < 0)
		return -1;
	if (np) {
		pr_err("can't dump task %d: fd %d is POSIX message queue %s, which has an mq_notify() registration "
		       "(of pid %d); not supported\n", pid, fd, link, np);
		return -1;
	}
	if (mq_getattr(copy, &attr)) {
		pr_perror("can't read the attributes of POSIX message queue %s (fd %d of %d)", link, fd, pid);
		return -1;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -1;
	mqueue_entry__init(e);
	e->name = strdup(link + 1);
	if (!e->name) {
		free(e);
		return -1;
	}
	e->flags = fi->flags & (O_ACCMODE | O_NONBLOCK);
	if (!ipc_sysv_own_ns()) {
		e->has_host = e->host = true;
		e->has_maxmsg = e->has_msgsize = true;
		e->maxmsg = attr.mq_maxmsg;
		e->msgsize = attr.mq_msgsize;
		/* a queue removed and made again with the same attributes is another queue */
		if (!fstat(copy, &st)) {
			e->has_ino = true;
			e->ino = st.st_ino;
		}
	}
	fe->mq = e;
	return 0;
}

static int open_mqueue(struct fd_rst *c, FileEntry *fe)
{
	MqueueEntry *e = fe->mq;
	char name[NAME_MAX + 2];
	struct mq_attr attr;
	struct stat st;
	mqd_t q;

	(void)c;
	if (!e || !valid_name(e->name) || (e->flags & ~(O_ACCMODE | O_NONBLOCK))) {
		pr_err("file %u: a bad POSIX message queue record\n", fe->id);
		return -1;
	}
	snprintf(name, sizeof(name), "/%s", e->name);
	/* the kernel gives every mq_open() fd close-on-exec; fdinfo's flags say what the task had */
	q = mq_open(name, e->flags);
	if (q == (mqd_t)-1) {
		pr_perror("can't open POSIX message queue %s%s", name,
			  e->host ? " (a queue of criu's ipc namespace, which the restore does not make)" : "");
		return -1;
	}
	if (e->host && (mq_getattr(q, &attr) || attr.mq_maxmsg != e->maxmsg || attr.mq_msgsize != e->msgsize)) {
		pr_err("POSIX message queue %s is not the dumped one: mq_maxmsg %ld, mq_msgsize %ld, dumped %ld, %ld\n",
		       name, (long)attr.mq_maxmsg, (long)attr.mq_msgsize, (long)e->maxmsg, (long)e->msgsize);
		close(q);
		return -1;
	}
	if (e->host && e->has_ino && (fstat(q, &st) || st.st_ino != e->ino)) {
		pr_err("POSIX message queue %s is not the dumped one: removed and made again since the dump "
		       "(inode %lu, was %lu)\n", name, (unsigned long)st.st_ino, (unsigned long)e->ino);
		close(q);
		return -1;
	}
	return q;
}

static void free_mqueue(FileEntry *fe)
{
	if (!fe->mq)
		return;
	free(fe->mq->name);
	free(fe->mq);
	fe->mq = NULL;
}

const struct fd_kind mqueue_kind = {
	.type = FILE_TYPE__FT_MQUEUE,
	.dump = dump_mqueue,
	.open = open_mqueue,
	.free = free_mqueue,
};

/* ---- the namespace's queues: dump ---- */

struct mq_msg {
	unsigned int prio;
	size_t len;
	char *data;
};

/*
 * In the reading process: every message out, all of them back in the
 * same order, and only then to @out. 0, 1 if nothing was taken out, 2 if
 * some could not be put back.
 */
static int take_and_put_back(mqd_t q, const char *name, long msgsize, long curmsgs, int out)
{
	struct mq_msg *m = calloc(curmsgs + 1, sizeof(*m));
	long nr = 0, i;
	int ret = 0;

	if (!m)
		return 1;
	for (i = 0; i < curmsgs + 1; i++) {
		m[i].data = malloc(msgsize);
		if (!m[i].data)
			return 1;	/* nothing taken yet: the process goes, its memory with it */
	}
	/* no more than were counted: the queue is the frozen tree's alone */
	while (nr < curmsgs) {
		ssize_t n = mq_receive(q, m[nr].data, msgsize, &m[nr].prio);

		if (n < 0) {
			if (errno != EAGAIN)
				pr_perror("can't take a message out of POSIX message queue /%s", name);
			break;
		}
		m[nr++].len = n;
	}
	for (i = 0; i < nr; i++) {
		if (mq_send(q, m[i].data, m[i].len, m[i].prio)) {
			pr_perror("POSIX message queue /%s: LOST %ld of its %ld messages: can't put message %ld "
				  "back", name, nr - i, nr, i);
			return 2;
		}
	}
	if (nr != curmsgs) {
		pr_err("POSIX message queue /%s: %ld messages read, %ld counted\n", name, nr, curmsgs);
		return 1;
	}
	if (write_all(out, &nr, sizeof(nr)))
		ret = 1;
	for (i = 0; !ret && i < nr; i++)
		if (write_all(out, &m[i].prio, sizeof(m[i].prio)) || write_all(out, &m[i].len, sizeof(m[i].len)) ||
		    write_all(out, m[i].data, m[i].len))
			ret = 1;
	return ret;
}

/* The messages of queue @q, read by a process of their own (see the top). */
static int dump_messages(IpcMqueueEntry *qe, mqd_t q, long curmsgs)
{
	int p[2], status = 0;
	long nr = -1;
	pid_t pid;
	int ret = -1;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe");
		return -1;
	}
	pid = fork_finisher(0, "mqueue-finisher");
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		_exit(take_and_put_back(q, qe->name, qe->msgsize, curmsgs, p[1]));
	}
	close(p[1]);
	qe->msgs = calloc(curmsgs + 1, sizeof(*qe->msgs));
	if (!qe->msgs || read_full(p[0], &nr, sizeof(nr)) || nr != curmsgs)
		goto out;
	for (long i = 0; i < nr; i++) {
		IpcMqMsgEntry *me = calloc(1, sizeof(*me));
		size_t len;

		if (!me)
			goto out;
		ipc_mq_msg_entry__init(me);
		qe->msgs[qe->n_msgs++] = me;
		if (read_full(p[0], &me->prio, sizeof(me->prio)) || read_full(p[0], &len, sizeof(len)) ||
		    len > (size_t)qe->msgsize)
			goto out;
		me->data.len = len;
		me->data.data = malloc(len + 1);
		if (!me->data.data || read_full(p[0], me->data.data, len))
			goto out;
	}
	ret = 0;
out:
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("reading the messages of POSIX message queue /%s failed (%s)\n", qe->name,
		       WIFEXITED(status) && WEXITSTATUS(status) == 2 ? "some are lost" : "the queue is as it was");
		ret = -1;
	} else if (ret) {
		pr_err("can't read the messages of POSIX message queue /%s (the queue is as it was)\n", qe->name);
	}
	return ret;
}

static int dump_queue(IpcNsEntry *ns, int dfd, const char *name, pid_t ns_pid)
{
	char path[NAME_MAX + 2];
	IpcMqueueEntry *qe;
	struct mq_attr attr;
	struct stat st;
	int fd, np;
	mqd_t q;

	if (!valid_name(name) || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
		pr_perror("can't stat POSIX message queue /%s", name);
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	np = fd < 0 ? -1 : notify_pid(fd, name);
	if (fd < 0)
		pr_perror("can't open POSIX message queue /%s", name);
	else
		close(fd);
	if (np < 0)
		return -1;
	if (np) {
		pr_err("can't dump the ipc namespace of task %d: POSIX message queue /%s has an mq_notify() "
		       "registration (of pid %d); not supported\n", ns_pid, name, np);
		return -1;
	}
	qe = calloc(1, sizeof(*qe));
	if (!qe)
		return -1;
	ipc_mqueue_entry__init(qe);
	ns->mqueues[ns->n_mqueues++] = qe;
	qe->name = strdup(name);
	qe->mode = st.st_mode & 07777;
	qe->uid = st.st_uid;
	qe->gid = st.st_gid;
	snprintf(path, sizeof(path), "/%s", name);
	/* as the tree sees them: restore makes the queue inside its user namespace */
	if (qe->name && ns_owner_inside(&qe->uid, &qe->gid, path))
		return -1;
	snprintf(path, sizeof(path), "/%s", name);
	q = mq_open(path, O_RDWR | O_NONBLOCK);
	if (!qe->name || q == (mqd_t)-1 || mq_getattr(q, &attr)) {
		pr_perror("can't open POSIX message queue %s", path);
		if (q != (mqd_t)-1)
			close(q);
		return -1;
	}
	qe->maxmsg = attr.mq_maxmsg;
	qe->msgsize = attr.mq_msgsize;
	if (attr.mq_curmsgs && dump_messages(qe, q, attr.mq_curmsgs)) {
		close(q);
		return -1;
	}
	close(q);
	pr_info("POSIX message queue %s: mode %o, owner %u:%u, %ld messages of up to %ld bytes, %ld at most\n",
		path, qe->mode, qe->uid, qe->gid, (long)attr.mq_curmsgs, (long)qe->msgsize, (long)qe->maxmsg);
	return 0;
}

/* The namespace's mqueue filesystem, mounted nowhere: a directory fd of it, or -1. */
static int open_mqueue_fs(void)
{
	int fs, mnt, dfd;

	fs = syscall(SYS_fsopen, "mqueue", 0);
	if (fs < 0) {
		pr_perror("fsopen(mqueue)");
		return -1;
	}
	if (syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0)) {
		pr_perror("can't make an mqueue mount of the namespace");
		close(fs);
		return -1;
	}
	mnt = syscall(SYS_fsmount, fs, 0, 0);
	close(fs);
	if (mnt < 0) {
		pr_perror("fsmount(mqueue)");
		return -1;
	}
	dfd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		pr_perror("can't open the mqueue filesystem");
	close(mnt);
	return dfd;
}

int mqueue_dump_ns(IpcNsEntry *ns, pid_t ns_pid)
{
	struct dirent *de;
	size_t cap = 16;
	int dfd, ret;
	DIR *d;

	dfd = open_mqueue_fs();
	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (!d) {
		pr_perror("can't list the POSIX message queues");
		close(dfd);
		return -1;
	}
	ns->mqueues = calloc(cap, sizeof(*ns->mqueues));
	while (ns->mqueues && (ret = next_dirent(d, &de, "the POSIX message queues")) > 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (ns->n_mqueues == cap) {
			void *m = realloc(ns->mqueues, 2 * cap * sizeof(*ns->mqueues));

			if (!m) {
				ret = -1;
				break;
			}
			ns->mqueues = m;
			cap *= 2;
		}
		if (dump_queue(ns, dirfd(d), de->d_name, ns_pid)) {
			ret = -1;
			break;
		}
	}
	if (!ns->mqueues)
		ret = -1;
	closedir(d);
	return ret;
}

/* ---- the namespace's queues: restore ---- */

int mqueue_check_ns(const IpcNsEntry *ns)
{
	for (size_t i = 0; i < ns->n_mqueues; i++) {
		const IpcMqueueEntry *q = ns->mqueues[i];

		if (!valid_name(q->name) || q->maxmsg <= 0 || q->msgsize <= 0 || (size_t)q->maxmsg < q->n_msgs) {
			pr_err("ipc-ns.img: a bad POSIX message queue record (%s)\n", q->name ? q->name : "no name");
			return -1;
		}
		for (size_t j = 0; j < q->n_msgs; j++)
			if (q->msgs[j]->data.len > (size_t)q->msgsize || q->msgs[j]->prio >= MQ_PRIO_LIMIT) {
				pr_err("ipc-ns.img: POSIX message queue /%s: message %zu is bad\n", q->name, j);
				return -1;
			}
	}
	return 0;
}

void mqueue_needs(const IpcNsEntry *ns, uint64_t *maxmsg, uint64_t *msgsize, uint64_t *nr)
{
	for (size_t i = 0; i < ns->n_mqueues; i++) {
		if ((uint64_t)ns->mqueues[i]->maxmsg > *maxmsg)
			*maxmsg = ns->mqueues[i]->maxmsg;
		if ((uint64_t)ns->mqueues[i]->msgsize > *msgsize)
			*msgsize = ns->mqueues[i]->msgsize;
	}
	if (ns->n_mqueues > *nr)
		*nr = ns->n_mqueues;
}

static int restore_queue(const IpcMqueueEntry *qe)
{
	struct mq_attr attr = { .mq_maxmsg = qe->maxmsg, .mq_msgsize = qe->msgsize };
	char name[NAME_MAX + 2];
	mqd_t q;

	snprintf(name, sizeof(name), "/%s", qe->name);
	q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0600, &attr);
	if (q == (mqd_t)-1) {
		pr_perror("can't make POSIX message queue %s again (mq_maxmsg %ld, mq_msgsize %ld%s)", name,
			  (long)qe->maxmsg, (long)qe->msgsize,
			  errno == EMFILE ? ": above RLIMIT_MSGQUEUE" : "");
		return -1;
	}
	/* the mode without our umask, then the owner (which may leave us no right to it: last) */
	if (fchmod(q, qe->mode & 07777) || fchown(q, qe->uid, qe->gid)) {
		pr_perror("can't give POSIX message queue %s its mode %o and owner %u:%u", name, qe->mode, qe->uid,
			  qe->gid);
		close(q);
		return -1;
	}
	/* in mq_receive() order: each lands behind the ones of its priority sent before */
	for (size_t i = 0; i < qe->n_msgs; i++)
		if (mq_send(q, (const char *)qe->msgs[i]->data.data, qe->msgs[i]->data.len, qe->msgs[i]->prio)) {
			pr_perror("can't queue message %zu on POSIX message queue %s again", i, name);
			close(q);
			return -1;
		}
	close(q);
	return 0;
}

int mqueue_restore_ns(const IpcNsEntry *ns)
{
	struct rlimit old, rl;
	int ret = 0;

	if (!ns->n_mqueues)
		return 0;
	/*
	 * The queues' memory is charged to us, all of them (at dump each to
	 * its creator): as much as our hard limit allows while we make them.
	 */
	if (getrlimit(RLIMIT_MSGQUEUE, &old)) {
		pr_perror("getrlimit(RLIMIT_MSGQUEUE)");
		return -1;
	}
	rl = old;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_MSGQUEUE, &rl)) {
		pr_perror("can't raise RLIMIT_MSGQUEUE");
		return -1;
	}
	for (size_t i = 0; !ret && i < ns->n_mqueues; i++)
		ret = restore_queue(ns->mqueues[i]);
	if (setrlimit(RLIMIT_MSGQUEUE, &old)) {
		pr_perror("can't set RLIMIT_MSGQUEUE back");
		ret = -1;
	}
	if (!ret)
		pr_info("ipc namespace: %zu POSIX message queues made again\n", ns->n_mqueues);
	return ret;
}
