/*
 * The pid namespace. Images name every task by its pid in the tree's own
 * pid namespace (and, for a task in a nested one, by its pids in each
 * namespace below: pstree ns_pid); all of dump and restore work with
 * those pids. When the tree's namespace is not criu's, dump and the
 * restore's supervision run in an agent process inside it, with a /proc
 * of that namespace mounted in a mount namespace of the agent's own, so
 * that ptrace, /proc and every pid they read are the tree's.
 *
 * The init of the namespace ignores SIGKILL from inside it: when the tree
 * holds it, the dump agent leaves it to criu, which kills it from outside
 * once the agent has done everything else (its death takes the agent with
 * it). At restore, criu clones the first process into a new pid namespace
 * (pid 1: the root, or a helper init holding the namespace for a root
 * inside it), then the supervisor agent with a pid the tree doesn't use.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdbool.h>

#include "cr_options.h"
#include "log.h"
#include "namespaces.h"
#include "net.h"
#include "nsfs.h"
#include "track.h"
#include "util.h"

/*
 * What the agent tells criu outside its pid namespace (its result), or
 * asks of it: what needs criu's pid namespace. The agent's children are
 * born in the tree's (a memory tracker forked there would join the tree)
 * and its /proc shows only the tree's processes.
 */
enum {
	AGENT_RESULT = 1,
	AGENT_TRACKER_PIDFD,	/* a pidfd of the tracker pid, start time start */
	AGENT_TRACKER_FORK,	/* a new tracker: its pid, start time and socket */
	AGENT_KEEPER_FORK,	/* a network lock keeper (net.c): its channel */
	AGENT_VICTIM,		/* after the result, before the kills: a pidfd of a process it kills */
	AGENT_VICTIMS,		/* the last of them: pid is how many */
};

struct dump_agent_msg {
	int type;
	int ok, kill_init;	/* AGENT_RESULT */
	pid_t pid;		/* AGENT_TRACKER_PIDFD */
	uint64_t start;
};

struct dump_agent_reply {
	int err;		/* 0, or the errno of the failure */
	pid_t pid;		/* AGENT_TRACKER_FORK */
	uint64_t start;
};

static int agent_fd = -1;	/* in an agent: where its result goes */

int ns_dump_agent_fd(void)
{
	return agent_fd;
}
static pid_t agent_vpid;
static int agent_kill_init;

int ns_dump_in_agent(void)
{
	return agent_fd >= 0;
}

/* In the dump agent the tree's root, whose /proc/PID/root and mountinfo are the tree's mounts. */
static pid_t view_pid;

pid_t ns_dump_view_pid(void)
{
	return view_pid;
}

/* In the dump agent: criu's root and mount namespace, as they were before the agent made its own. */
static int criu_root = -1, criu_mntns = -1;

void ns_dump_criu_mnt(int *root, int *mntns)
{
	*root = criu_root >= 0 && agent_fd >= 0 ? criu_root : AT_FDCWD;
	*mntns = agent_fd >= 0 ? criu_mntns : -1;
}

/* The agent's result, for criu outside: once only, before the kills that may end the agent. */
static int agent_reported;

void ns_dump_agent_report(int ok, int kill_init)
{
	struct dump_agent_msg m = { .type = AGENT_RESULT, .ok = ok, .kill_init = kill_init };

	if (agent_reported || agent_fd < 0)
		return;
	agent_reported = 1;
	agent_kill_init = kill_init;
	if (send_fds(agent_fd, &m, sizeof(m), NULL, 0))
		pr_perror("can't report the dump's result");
}

/*
 * In the agent, after a whole dump's report and before its kills: each
 * process it is about to kill (a pidfd), then their number. Should the
 * agent die before its normal end, criu outside tells a tree killed whole
 * (the dump stands) from one that runs on, even in part (it fails).
 */
void ns_dump_agent_victim(pid_t pid)
{
	struct dump_agent_msg m = { .type = AGENT_VICTIM };
	int fd;

	if (agent_fd < 0 || !agent_reported || agent_kill_init)
		return;
	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		pr_perror("pidfd_open(%d)", pid);
	else if (send_fds(agent_fd, &m, sizeof(m), &fd, 1))
		pr_perror("can't tell criu outside of process %d", pid);
	if (fd >= 0)
		close(fd);
}

void ns_dump_agent_victims(int nr)
{
	struct dump_agent_msg m = { .type = AGENT_VICTIMS, .pid = nr };

	if (agent_fd >= 0 && agent_reported && !agent_kill_init && send_fds(agent_fd, &m, sizeof(m), NULL, 0))
		pr_perror("can't tell criu outside how many processes die");
}

/* In the agent: a whole dump reported, whose tree's init criu outside is to kill */
int ns_dump_agent_awaits_kill(void)
{
	return agent_fd >= 0 && agent_reported && agent_kill_init;
}

/* In the agent: ask criu outside; the fd it sends back, or -1 with errno set. */
static int agent_ask(struct dump_agent_msg *m, struct dump_agent_reply *r)
{
	int fd = -1, nr = 0;

	if (agent_fd < 0 || agent_reported) {
		errno = EINVAL;
		return -1;
	}
	if (send_fds(agent_fd, m, sizeof(*m), NULL, 0) ||
	    recv_fds(agent_fd, r, sizeof(*r), &fd, 1, &nr) != sizeof(*r)) {
		pr_perror("no answer from criu outside the pid namespace");
		if (nr)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	if (r->err || !nr) {
		if (nr)
			close(fd);
		errno = r->err ?: EPROTO;
		return -1;
	}
	return fd;
}

int ns_dump_tracker_pidfd(pid_t pid, uint64_t start)
{
	struct dump_agent_msg m = { .type = AGENT_TRACKER_PIDFD, .pid = pid, .start = start };
	struct dump_agent_reply r;

	if (agent_fd < 0)
		return tracker_pidfd(pid, start);
	return agent_ask(&m, &r);
}

int ns_dump_tracker_fork(pid_t *pid, uint64_t *start)
{
	struct dump_agent_msg m = { .type = AGENT_TRACKER_FORK };
	struct dump_agent_reply r;
	int sk;

	if (agent_fd < 0)
		return tracker_fork(pid, start);
	sk = agent_ask(&m, &r);
	if (sk >= 0) {
		*pid = r.pid;
		*start = r.start;
	}
	return sk;
}

int ns_dump_keeper_fork(void)
{
	struct dump_agent_msg m = { .type = AGENT_KEEPER_FORK };
	struct dump_agent_reply r;
	int ch = agent_ask(&m, &r);

	if (ch < 0)
		pr_perror("criu outside the pid namespace made no network lock keeper");
	return ch;
}

/* Outside: serve the agent's requests until its result comes (0) or it is gone (-1). */
static int serve_dump_agent(int sk, struct dump_agent_msg *res)
{
	for (;;) {
		struct dump_agent_msg m;
		struct dump_agent_reply r = { 0 };
		int fd = -1, nr;
		ssize_t n = recv_fds(sk, &m, sizeof(m), &fd, 1, &nr);

		if (nr)
			close(fd);	/* the agent sends none */
		if (n != sizeof(m))
			return -1;
		switch (m.type) {
		case AGENT_RESULT:
			*res = m;
			return 0;
		case AGENT_TRACKER_PIDFD:
			fd = tracker_pidfd(m.pid, m.start);
			break;
		case AGENT_TRACKER_FORK:
			fd = tracker_fork(&r.pid, &r.start);
			break;
		case AGENT_KEEPER_FORK:
			fd = net_keeper_fork_outside();
			break;
		default:
			pr_err("the dump agent asked for %d, which is unknown\n", m.type);
			fd = -1;
			errno = EINVAL;
		}
		r.err = fd < 0 ? (errno ?: EINVAL) : 0;
		if (send_fds(sk, &r, sizeof(r), &fd, fd >= 0))
			pr_perror("can't answer the dump agent");
		if (fd >= 0)
			close(fd);
	}
}

int pid_ns_dump(pid_t pid, NsEntry *e)
{
	(void)pid;
	/* the agent took the pid the next fork would have had: ns_last_pid was below it */
	if (agent_vpid > 1) {
		e->has_last_pid = true;
		e->last_pid = agent_vpid - 1;
	}
	return 0;
}

/* In a new process inside the pid namespace: a mount namespace of its own with that namespace's /proc. */
static int own_proc(void)
{
	if (unshare(CLONE_NEWNS)) {
		pr_perror("can't make a mount namespace for the agent");
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		pr_perror("can't make the agent's mounts private");
		return -1;
	}
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		pr_perror("can't mount /proc of the tree's pid namespace");
		return -1;
	}
	return 0;
}

static int last_nspid(pid_t pid)
{
	char path[64], line[512];
	int v = -1, r;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while ((r = read_line_head(f, line, sizeof(line), path)) > 0)
		if (!strncmp(line, "NSpid:", 6)) {
			char *p = line + 6, *end;

			for (long x = strtol(p, &end, 10); end != p; x = strtol(p, &end, 10)) {
				v = x;
				p = end;
			}
		}
	fclose(f);
	return r < 0 ? -1 : v;
}

static int open_pidns(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("can't open %s", path);
	return fd;
}

/* Whole images of a tree that goes on: no restore may take them (a second copy of it) */
static void drop_inventory(void)
{
	int dfd = open(opts.imgs_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || (unlinkat(dfd, "inventory.img", 0) && errno != ENOENT))
		pr_perror("can't remove the inventory of %s", opts.imgs_dir);
	if (dfd >= 0)
		close(dfd);
}

/* After the agent's result: the processes it is about to kill (AGENT_VICTIM, AGENT_VICTIMS), until it is gone. */
struct agent_victims {
	int *fds;
	int nr;
	int told;		/* AGENT_VICTIMS's number, -1 until it came */
};

static void read_victims(int sk, pid_t agent, struct agent_victims *v)
{
	int apfd = syscall(SYS_pidfd_open, agent, 0);

	for (int gone = apfd < 0;;) {
		struct pollfd p[2] = { { .fd = sk, .events = POLLIN }, { .fd = apfd, .events = POLLIN } };
		struct dump_agent_msg m;
		int fd = -1, nr = 0;
		ssize_t n;

		/* once the agent is gone, what it sent is all in the queue */
		if (!gone && poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			gone = 1;
		if (!gone && !p[0].revents)
			continue;
		if (gone)
			fcntl(sk, F_SETFL, O_NONBLOCK);
		n = recv_fds(sk, &m, sizeof(m), &fd, 1, &nr);
		if (n != sizeof(m)) {
			if (nr)
				close(fd);
			if (n > 0 || gone || !n)
				break;
			continue;
		}
		if (m.type == AGENT_VICTIM && nr) {
			int *nf = realloc(v->fds, (v->nr + 1) * sizeof(*nf));

			if (!nf) {
				close(fd);
				continue;
			}
			v->fds = nf;
			v->fds[v->nr++] = fd;
			continue;
		}
		if (nr)
			close(fd);
		if (m.type == AGENT_VICTIMS)
			v->told = m.pid;
	}
	if (apfd >= 0)
		close(apfd);
}

/*
 * The agent reported a whole dump, then died before its normal end (a
 * SIGKILL meant for criu, an OOM kill, a kill that failed): had it killed
 * the tree? It named each process it was to kill before its kills: every
 * one dead or dying, the dump stands. One that runs on (not killed, or not
 * named) makes it fail, and the images (of a tree that goes on, in part)
 * lose their inventory so that no restore makes a second copy of it.
 */
static int agent_died_after_report(struct agent_victims *v, int status)
{
	int left = v->told < 0 || v->told != v->nr;

	for (int i = 0; !left && i < v->nr; i++)
		if (!pidfd_dying(v->fds[i]))
			left = 1;
	if (!left) {
		pr_warn("the dump agent died (status %#x) as it ended the tree; the images are whole\n", status);
		return 0;
	}
	pr_err("the dump agent died (status %#x) before it ended the tree (%d of %d processes named): "
	       "some of it runs on; the images are not kept\n", status, v->nr, v->told);
	drop_inventory();
	return -1;
}

/*
 * In the agent, its dump whole and reported: the tree's init stays traced
 * and stopped until criu outside kills it (and us with it), which it does
 * before it lets go of our socket. Let go of with the init alive, criu
 * outside died first (a SIGKILL of its pid alone): the tree runs on, as
 * when criu dies before its kills. Its connections out of repair mode and
 * the lock gone first (the keeper, told to undo), its images lose their
 * inventory (of a tree that goes on), then our exit lets it go. Before,
 * we paused for ever, the container stopped.
 */
static void agent_wait_init_kill(void)
{
	struct pollfd p = { .fd = agent_fd, .events = POLLIN };
	int init;

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	init = syscall(SYS_pidfd_open, 1, 0);
	if (init < 0 || pidfd_dying(init))
		for (;;)
			pause();
	close(init);
	pr_err("criu outside the pid namespace is gone before it killed the tree's init: the tree runs on; "
	       "the images are not kept\n");
	if (net_keeper_on() && net_keeper_undo())
		pr_err("the network lock may be left\n");
	net_ns_dump_unquiesce();
	drop_inventory();
	_exit(1);
}

int ns_dump_run(pid_t pid, int (*dump)(pid_t pid))
{
	int nsfd, selffd, p[2], status, vpid, initfd = -1;
	struct dump_agent_msg res = { 0 };
	struct agent_victims victims = { .told = -1 };
	pid_t agent;

	uint64_t id = ns_id_of(pid, "pid");

	/* no such task (the dump says so by name), or one in our pid namespace */
	if (!id || id == ns_self_id(NS_PID))
		return dump(pid);
	vpid = last_nspid(pid);
	if (vpid <= 0) {
		pr_err("can't find the pid of %d in its pid namespace\n", pid);
		return -1;
	}
	pr_info("%d is %d in its pid namespace: dumping from inside it\n", pid, vpid);
	nsfd = open_pidns(pid);
	selffd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	criu_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	criu_mntns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || selffd < 0 || criu_root < 0 || criu_mntns < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p)) {
		pr_perror("can't prepare the dump agent");
		return -1;
	}
	if (setns(nsfd, CLONE_NEWPID)) {
		pr_perror("can't enter the pid namespace of %d", pid);
		return -1;
	}
	agent = fork();
	if (agent == 0) {
		int ret;

		close(p[0]);
		agent_fd = p[1];
		agent_vpid = getpid();
		if (own_proc())
			_exit(1);
		view_pid = vpid;
		ret = dump(vpid);
		ns_dump_agent_report(ret == 0, 0);
		if (ret == 0 && agent_kill_init)
			agent_wait_init_kill();
		_exit(ret ? 1 : 0);
	}
	if (setns(selffd, CLONE_NEWPID))
		pr_perror("can't go back to criu's pid namespace");
	close(selffd);
	close(nsfd);
	close(criu_root);
	close(criu_mntns);
	criu_root = criu_mntns = -1;
	close(p[1]);
	if (agent < 0) {
		pr_perror("can't fork the dump agent");
		close(p[0]);
		return -1;
	}
	if (serve_dump_agent(p[0], &res))
		res.ok = res.kill_init = 0;
	if (res.ok && !res.kill_init)
		read_victims(p[0], agent, &victims);
	if (res.kill_init) {
		/* the tree's init, from outside its namespace: all of it goes, the agent too */
		initfd = syscall(SYS_pidfd_open, pid, 0);
		if (kill(pid, SIGKILL))
			pr_perror("can't kill the pid namespace's init %d", pid);
	}
	/* after the kill: an agent let go of with the init alive lets the tree run (agent_wait_init_kill()) */
	close(p[0]);
	/* the agent's keeper, if it waits for that kill, need not wait on */
	net_keeper_outside_decided();
	if (waitpid(agent, &status, 0) != agent) {
		pr_perror("waiting for the dump agent");
		status = 0;
	}
	if (res.ok && !res.kill_init && !opts.leave_running && !opts.leave_stopped &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && agent_died_after_report(&victims, status))
		res.ok = 0;
	for (int i = 0; i < victims.nr; i++)
		close(victims.fds[i]);
	free(victims.fds);
	/* the agent's network lock keeper is ours: it ends once the agent is gone, if not before */
	net_keeper_reap_outside();
	if (initfd >= 0) {
		/*
		 * The init finishes dying only once its namespace is reaped
		 * (the agent with it): the caller (runc) looks at it as soon
		 * as we answer and must find it dead.
		 */
		struct pollfd pfd = { .fd = initfd, .events = POLLIN };

		if (poll(&pfd, 1, 10000) != 1)
			pr_warn("the pid namespace's init %d is not dead 10 s after SIGKILL\n", pid);
		close(initfd);
	}
	if (!res.ok)
		pr_err("dump of %d failed: it was dumped from inside its pid namespace, where it is %d (the pids "
		       "above are that namespace's)\n", pid, vpid);
	return res.ok ? 0 : -1;
}

/* ---- restore ---- */

struct helper_arg {
	int go;
	pid_t root_vpid;
};

static int helper_main(void *arg)
{
	struct helper_arg *h = arg;
	int pidfd, root_gone = 0;
	char c;

	/* criu gone or failed (the pipe's end closed without a word): so is the namespace */
	if (read(h->go, &c, 1) != 1 || c != 'g')
		_exit(1);
	syscall(SYS_close_range, 0, ~0U, 0);
	if (chdir("/"))
		_exit(1);
	prctl(PR_SET_NAME, "criu-pidns-init");
	pidfd = syscall(SYS_pidfd_open, h->root_vpid, 0);
	root_gone = pidfd < 0;
	for (;;) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

		if (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
			continue;
		/* nothing to reap: the namespace lives as long as the root or anyone it left behind */
		if (root_gone)
			_exit(0);
		poll(&pfd, 1, -1);
		root_gone = 1;
	}
}

static int helper_go = -1;

static int clone_fn_trampoline(void *arg)
{
	_exit(helper_main(arg));
}

pid_t ns_pid_helper_init(pid_t root_vpid, unsigned long flags)
{
	static struct helper_arg h;
	struct clone_args ca = { .flags = flags, .exit_signal = SIGCHLD };
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe");
		return -1;
	}
	h.go = p[0];
	h.root_vpid = root_vpid;
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0) {
		pr_perror("can't clone the pid namespace's helper init");
		return -1;
	}
	if (pid == 0)
		clone_fn_trampoline(&h);
	close(p[0]);
	helper_go = p[1];
	return pid;
}

static pid_t clone_into(pid_t vpid)
{
	struct clone_args ca = { .exit_signal = SIGCHLD };
	pid_t pid;

	if (vpid > 0) {
		ca.set_tid = (uintptr_t)&vpid;
		ca.set_tid_size = 1;
	}
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0 && vpid > 0 && (errno == EEXIST || errno == EINVAL))
		return clone_into(0);	/* taken (a joined namespace): any pid will do */
	return pid;
}

/* -1 if unknown (warned) */
static int read_int(const char *path)
{
	long long v;

	return read_num_file(path, &v) || v < 0 || v > INT_MAX ? -1 : (int)v;
}

/*
 * The supervisor and criu talk over a seqpacket pair: the supervisor asks
 * for the host pid of one of the tree's (the hooks' pids are the caller's
 * view), and tells the result last.
 */
enum { MSG_HOST_PID = 1, MSG_RESULT };

struct agent_msg {
	int type;
	int val;
};

static int rst_agent_ch = -1;	/* in the restore supervisor: its end */

pid_t ns_host_pid(pid_t vpid)
{
	struct agent_msg m = { .type = MSG_HOST_PID, .val = vpid };

	if (rst_agent_ch < 0)
		return vpid;
	if (write(rst_agent_ch, &m, sizeof(m)) != sizeof(m) || read(rst_agent_ch, &m, sizeof(m)) != sizeof(m) ||
	    m.type != MSG_HOST_PID || m.val <= 0) {
		pr_err("can't learn the host pid of %d from criu\n", vpid);
		return -1;
	}
	return m.val;
}

/* criu's side: answer the supervisor until its result (0 or -1) or its end. */
static int serve_agent(int ch, int nsfd)
{
	struct agent_msg m;

	while (read(ch, &m, sizeof(m)) == sizeof(m)) {
		if (m.type == MSG_RESULT)
			return m.val ? 0 : -1;
		if (m.type != MSG_HOST_PID)
			break;
		m.val = ioctl(nsfd, NS_GET_PID_FROM_PIDNS, m.val);
		if (m.val <= 0)
			pr_perror("can't find the host pid of a task of the tree");
		if (write(ch, &m, sizeof(m)) != sizeof(m))
			break;
	}
	return -1;
}

int ns_pid_restore(struct ns_pid_restore *r, pid_t *host_root)
{
	enum ns_pid_mode mode = ns_restore_pid_mode();
	int nsfd, selffd, ch[2], status, ok, pid_max = read_int("/proc/sys/kernel/pid_max");
	pid_t agent, avpid;

	nsfd = mode == NS_PID_JOIN ? ns_pid_join_fd() : open_pidns(r->first_host);
	selffd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || selffd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch)) {
		pr_perror("can't prepare the restore agent");
		return -1;
	}
	if (setns(nsfd, CLONE_NEWPID)) {
		pr_perror("can't enter the tree's pid namespace");
		return -1;
	}
	/* a pid above every one the tree needs, so that it never takes one of theirs */
	avpid = r->max_pid + 1 < pid_max ? r->max_pid + 1 : 0;
	agent = clone_into(avpid);
	if (agent == 0) {
		struct agent_msg m = { .type = MSG_RESULT };
		int ret;

		close(ch[0]);
		rst_agent_ch = ch[1];
		ret = own_proc() ? -1 : r->supervise(r->arg, r->root_vpid);
		m.val = ret == 0;
		if (write(ch[1], &m, sizeof(m)) != sizeof(m))
			_exit(1);
		_exit(ret ? 1 : 0);
	}
	if (setns(selffd, CLONE_NEWPID))
		pr_perror("can't go back to criu's pid namespace");
	close(selffd);
	close(ch[1]);
	if (agent < 0) {
		pr_perror("can't clone the restore agent into the tree's pid namespace");
		close(ch[0]);
		close(nsfd);
		return -1;
	}
	ok = serve_agent(ch[0], nsfd) == 0;
	close(ch[0]);
	if (waitpid(agent, &status, 0) != agent)
		pr_perror("waiting for the restore agent");
	if (!ok) {
		close(nsfd);
		return -1;
	}
	if (mode == NS_PID_INIT) {
		*host_root = r->first_host;
	} else {
		*host_root = ioctl(nsfd, NS_GET_PID_FROM_PIDNS, r->root_vpid);
		if (*host_root <= 0) {
			pr_perror("can't find the host pid of the root %d", r->root_vpid);
			close(nsfd);
			return -1;
		}
	}
	close(nsfd);
	if (helper_go >= 0) {
		if (write(helper_go, "g", 1) != 1)
			pr_perror("can't let the helper init go");
		close(helper_go);
		helper_go = -1;
	}
	return 0;
}
