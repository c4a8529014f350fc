/*
 * criu swrk FD: the server side of the socket protocol runc, podman and
 * libcriu speak. FD is one end of a SOCK_SEQPACKET socket; each packet
 * is one criu_req (from the client) or criu_resp (from us), and a reply
 * may carry one fd (SCM_RIGHTS). A request's options go through the same
 * code as the command line's (opts.c). Under notify_scripts the client is
 * asked at each hook (action-scripts.h) and must answer before we go on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cr_options.h"
#include "crtools.h"
#include "log.h"
#include "proc_parse.h"
#include "rpc.h"
#include "rpc-int.h"
#include "page-server.h"
#include "util.h"

#define DEFAULT_RPC_LOG	"criu.log"
#define CAP_BIT(n)	(1ULL << (n))
#define CAP_SYS_PTRACE_BIT		19
#define CAP_SYS_ADMIN_BIT		21
#define CAP_CHECKPOINT_RESTORE_BIT	40

static int sk = -1;
static bool notify_on;
static struct ucred peer;
static bool dumped_or_restored;	/* options of a session are used once */
static bool client_unpriv;	/* the client has fewer rights than criu (setup_request()) */
/*
 * The reply's cr_errno, as clients test it (libcriu returns it negated):
 * EPERM for the client's lack of rights, ESRCH for no process to dump,
 * EBADRQC for options that can't be taken.
 */
static int denied;

bool rpc_notify_wanted(void)
{
	return sk >= 0 && notify_on;
}

void rpc_notify_enable(bool on)
{
	notify_on = on;
}

static int send_resp(CriuResp *r, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	uint8_t buf[RPC_MAX_REPLY];
	struct iovec iov = { .iov_base = buf };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t len = criu_resp__get_packed_size(r);

	if (len > sizeof(buf) && r->cr_errmsg) {
		/* a long error text is cut rather than lose the reply */
		size_t over = len - sizeof(buf);
		size_t ml = strlen(r->cr_errmsg);

		r->cr_errmsg[ml > over + 8 ? ml - over - 8 : 0] = '\0';
		len = criu_resp__get_packed_size(r);
	}
	if (len > sizeof(buf)) {
		pr_err("a reply of %zu bytes would not fit the client's %d-byte buffer\n", len, RPC_MAX_REPLY);
		return -1;
	}
	iov.iov_len = criu_resp__pack(r, buf);
	if (fd >= 0) {
		struct cmsghdr *ch;

		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	}
	while (sendmsg(sk, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		pr_perror("can't send the reply to the client");
		return -1;
	}
	return 0;
}

/* NULL with *eof set when the client closed its end. */
static CriuReq *recv_req(int *eof)
{
	uint8_t *buf;
	ssize_t len;
	CriuReq *req;

	*eof = 0;
	do
		len = recv(sk, NULL, 0, MSG_PEEK | MSG_TRUNC);
	while (len < 0 && errno == EINTR);
	if (len < 0) {
		pr_perror("can't read a request from the client");
		return NULL;
	}
	if (len == 0) {
		char c;

		/* an empty packet and the end look alike: take it off and see */
		if (recv(sk, &c, 1, MSG_DONTWAIT) == 0 && recv(sk, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
		    errno == EAGAIN) {
			pr_err("malformed request: an empty packet\n");
			return NULL;
		}
		*eof = 1;
		return NULL;
	}
	buf = malloc(len);
	if (!buf) {
		pr_err("out of memory for a %zd-byte request\n", len);
		recv(sk, NULL, 0, MSG_TRUNC);
		return NULL;
	}
	len = recv(sk, buf, len, 0);
	if (len < 0) {
		pr_perror("can't read a request from the client");
		free(buf);
		return NULL;
	}
	req = criu_req__unpack(NULL, len, buf);
	free(buf);
	if (!req)
		pr_err("malformed request: %zd bytes that are not a criu_req message\n", len);
	return req;
}

static int peer_gone(void)
{
	struct pollfd p = { .fd = sk, .events = POLLRDHUP };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

int rpc_client_fd(void)
{
	return sk;
}

int rpc_notify(const char *action, pid_t pid, int fd)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuNotify n = CRIU_NOTIFY__INIT;
	CriuReq *ack;
	int eof, ret = -1;

	if (sk < 0)
		return 0;
	/* a client gone before the dump or restore is committed gets nothing done */
	if (peer_gone()) {
		pr_err("the client went away before %s\n", action);
		return -1;
	}
	if (!notify_on)
		return 0;
	resp.type = CRIU_REQ_TYPE__NOTIFY;
	resp.success = true;
	resp.notify = &n;
	n.script = (char *)action;
	if (pid) {
		n.has_pid = true;
		n.pid = pid;
	}
	if (send_resp(&resp, fd))
		return -1;
	ack = recv_req(&eof);
	if (!ack) {
		if (eof)
			pr_err("the client went away without answering %s\n", action);
		return -1;
	}
	if (ack->type != CRIU_REQ_TYPE__NOTIFY)
		pr_err("the client answered %s with a request of type %d, not NOTIFY\n", action, ack->type);
	else if (!ack->notify_success)
		pr_err("the client refused %s\n", action);
	else
		ret = 0;
	criu_req__free_unpacked(ack, NULL);
	return ret;
}

/* ---- the client's credentials ---- */

static int peer_caps(uint64_t *eff)
{
	struct proc_status st;

	if (parse_pid_status(peer.pid, &st)) {
		pr_err("can't read the client's status (pid %d)\n", peer.pid);
		return -1;
	}
	*eff = st.cap_eff;
	free_pid_status(&st);
	return 0;
}

static int same_ns(pid_t pid, const char *ns)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	if (stat(path, &a))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	if (stat(path, &b))
		return -1;
	return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/*
 * A client that could not ptrace the tree itself must not get it dumped
 * by a more privileged criu: it may only dump tasks wholly its own (all
 * uids and gids its), and dump.c checks that again for every task once
 * the tree is frozen.
 */
static int peer_may_access(int dfd, int mode, const char *what);

static int check_may_dump(pid_t pid)
{
	struct proc_status st;
	uint64_t eff;

	if (same_ns(peer.pid, "pid") != 1) {
		pr_err("the client (pid %d) is in another pid namespace than criu: its pid %d is not ours\n",
		       peer.pid, pid);
		return -1;
	}
	if (peer_caps(&eff))
		return -1;
	if (eff & CAP_BIT(CAP_SYS_PTRACE_BIT))
		return 0;
	if (parse_pid_status(pid, &st)) {
		pr_err("no process with pid %d\n", pid);
		return -1;
	}
	for (int i = 0; i < 4; i++)
		if (st.uid[i] != peer.uid || st.gid[i] != peer.gid) {
			pr_err("pid %d belongs to uid %u gid %u: the client (pid %d, uid %u, without "
			       "CAP_SYS_PTRACE) may not dump it\n", pid, st.uid[i], st.gid[i], peer.pid, peer.uid);
			free_pid_status(&st);
			denied = EPERM;
			return -1;
		}
	free_pid_status(&st);
	/* freezing a cgroup stops every task in it, the client's or not: only one it may freeze itself */
	if (opts.freeze_cgroup) {
		int fd = open(opts.freeze_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			pr_perror("can't open freeze_cgroup %s", opts.freeze_cgroup);
			return -1;
		}
		if (peer_may_access(fd, W_OK, "freeze_cgroup")) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	opts.owner_only = true;
	opts.owner_uid = peer.uid;
	opts.owner_gid = peer.gid;
	return 0;
}

/* A restore makes tasks with the images' credentials: only for a client allowed to. */
static int check_may_restore(void)
{
	uint64_t eff;

	if (peer_caps(&eff))
		return -1;
	if (eff & CAP_BIT(CAP_SYS_ADMIN_BIT))
		return 0;
	/*
	 * CAP_CHECKPOINT_RESTORE lets the kernel restore pids, not make
	 * tasks of other uids: a criu of the client's uid is held to that by
	 * the kernel; a criu with more rights would make whatever creds the
	 * images say (root's, all capabilities) for it.
	 */
	if ((eff & CAP_BIT(CAP_CHECKPOINT_RESTORE_BIT)) && peer.uid == geteuid())
		return 0;
	if (eff & CAP_BIT(CAP_CHECKPOINT_RESTORE_BIT))
		pr_err("the client (pid %d, uid %u) has CAP_CHECKPOINT_RESTORE but not CAP_SYS_ADMIN, and criu more "
		       "rights (uid %u): the images' credentials would be made with criu's; it may not restore\n",
		       peer.pid, peer.uid, geteuid());
	else
		pr_err("the client (pid %d, uid %u) has neither CAP_SYS_ADMIN nor CAP_CHECKPOINT_RESTORE: "
		       "it may not restore\n", peer.pid, peer.uid);
	denied = EPERM;
	return -1;
}

/* Could the client itself write (or read) in dfd? Asked with its fsuid/fsgid. */
static int peer_may_access(int dfd, int mode, const char *what)
{
	uid_t ouid = geteuid();
	gid_t ogid = getegid();
	int ret;

	if (peer.uid == ouid)
		return 0;
	setfsgid(peer.gid);
	setfsuid(peer.uid);
	ret = faccessat(dfd, ".", mode, AT_EACCESS);
	setfsuid(ouid);
	setfsgid(ogid);
	if (ret) {
		pr_perror("the client (uid %u) may not %s its %s", peer.uid, mode == W_OK ? "write in" : "read",
			  what);
		denied = EPERM;
		return -1;
	}
	return 0;
}

/*
 * Opened again through /proc, the client's fd N gets our rights, not the
 * ones it was opened with: a read-only fd of a file of root's, given as
 * status_fd, would have a root criu write there. Taken for writing only
 * if the client's own fd is open for writing, and is the file we opened
 * (its flags and inode read at once from its fdinfo, after our open: a
 * client swapping fds in between is caught).
 */
static bool peer_fd_writable(int n, int ours, const char *what)
{
	struct proc_fdinfo theirs, mine;

	if (parse_fdinfo(peer.pid, n, &theirs) || parse_fdinfo(getpid(), ours, &mine)) {
		pr_err("%s %d: can't read the client's fdinfo\n", what, n);
		return false;
	}
	if ((theirs.flags & O_ACCMODE) == O_RDONLY) {
		pr_err("%s %d: the client's fd is not open for writing\n", what, n);
		denied = EPERM;
		return false;
	}
	if (theirs.ino != mine.ino || theirs.mnt_id != mine.mnt_id) {
		pr_err("%s %d: the client's fd changed while criu opened it\n", what, n);
		return false;
	}
	return true;
}

/* An fd in the client's table (flags: O_RDONLY / O_WRONLY), opened here as /proc/PEER/fd/N. */
int rpc_open_peer_fd(int n, const char *what, int flags)
{
	char path[64];
	int fd;

	if (n < 0) {
		pr_err("%s %d: not an fd\n", what, n);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", peer.pid, n);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			pr_err("%s %d: the client (pid %d) has no fd %d\n", what, n, peer.pid, n);
		else
			pr_perror("%s %d: can't open the client's fd (%s)", what, n, path);
		return -1;
	}
	if ((flags & O_ACCMODE) != O_RDONLY && !peer_fd_writable(n, fd, what)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A dir fd in the client's table, opened here as /proc/PEER/fd/N; the path for opts. */
static const char *open_peer_dir(int n, const char *what, int mode, bool check)
{
	char path[64], *out;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", peer.pid, n);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			pr_err("%s %d: the client (pid %d) has no fd %d\n", what, n, peer.pid, n);
		else
			pr_perror("%s %d: can't open the client's fd (%s)", what, n, path);
		return NULL;
	}
	if (check && peer_may_access(fd, mode, what)) {
		close(fd);
		return NULL;
	}
	if (asprintf(&out, "/proc/self/fd/%d", fd) < 0) {
		close(fd);
		return NULL;
	}
	return out;
}

/* action: the criu action the request is, "dump", "pre-dump", "restore", "page-server" or "check" */
static int setup_request(CriuReq *req, const char *action)
{
	CriuOpts *o = req->opts;
	bool dump = strcmp(action, "restore") != 0;
	/* a check reads no images: its dirs are only where its log goes */
	bool check = !strcmp(action, "check");
	bool unpriv = peer.uid != geteuid();
	uint64_t eff = 0;

	if (dumped_or_restored) {
		pr_err("one dump, restore or check with opts per swrk session (its options would carry over): "
		       "start another criu swrk\n");
		return -1;
	}
	dumped_or_restored = true;
	if (!o) {
		pr_err("the request has no opts\n");
		return -1;
	}
	if (unpriv && !peer_caps(&eff) && (eff & CAP_BIT(CAP_SYS_ADMIN_BIT)))
		unpriv = false;
	client_unpriv = unpriv;
	/*
	 * A config file's options run with criu's rights (action-script runs
	 * a command, log-file opens any path) and a bad line of it is quoted
	 * in the reply: a client with fewer rights than criu gives none.
	 */
	if (unpriv && o->config_file) {
		pr_err("config_file %s: the client (pid %d, uid %u) has fewer rights than criu: "
		       "a config file's options would run with criu's\n", o->config_file, peer.pid, peer.uid);
		denied = EPERM;
		return -1;
	}
	if (rpc_apply_opts(o, true, action)) {
		denied = EBADRQC;
		return -1;
	}
	/*
	 * A request that names no log file (nor log_to_stderr, nor one in its
	 * config file) still gets one, criu.log in the work dir, as clients
	 * expect of a criu server: criu's stderr is often the client's /dev/null.
	 */
	if (check && o->images_dir_fd < 0 && !o->has_work_dir_fd) {
		if (opts.log_file && strcmp(opts.log_file, "-")) {
			pr_err("criu_opts.log_file '%s' of a CHECK needs images_dir_fd or work_dir_fd: "
			       "the log goes in one of them\n", opts.log_file);
			denied = EBADRQC;
			return -1;
		}
	} else if (!opts.log_file && cr_option_set("log-file", DEFAULT_RPC_LOG)) {
		return -1;
	}
	if (o->images_dir_fd < 0 && !check) {
		pr_err("images_dir_fd is required\n");
		return -1;
	}
	if (o->images_dir_fd >= 0) {
		opts.imgs_dir = open_peer_dir(o->images_dir_fd, "images_dir_fd", dump ? W_OK : R_OK, unpriv);
		if (!opts.imgs_dir)
			return -1;
	}
	if (o->has_work_dir_fd) {
		opts.work_dir = open_peer_dir(o->work_dir_fd, "work_dir_fd", W_OK, unpriv);
		if (!opts.work_dir)
			return -1;
	} else {
		opts.work_dir = NULL;
	}
	if (cr_setup_log())
		return -1;
	pr_info("criu %s: swrk request %d from pid %d (uid %u)\n", CR_VERSION, req->type, peer.pid, peer.uid);
	if (rpc_apply_opts(o, false, action)) {
		denied = EBADRQC;
		return -1;
	}
	kerndat_init();
	return 0;
}

/*
 * parent_img is read (its pages are this dump's parents) and, with
 * auto_dedup, written (the pages this dump has again are freed there):
 * only a dir the client itself could read (and write).
 */
static int check_parent_img(void)
{
	int fd, ret;

	if (!client_unpriv || !opts.prev_images_dir)
		return 0;
	fd = openat(AT_FDCWD, opts.imgs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		int pfd = openat(fd, opts.prev_images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(fd);
		fd = pfd;
	}
	if (fd < 0) {
		pr_perror("parent_img %s (relative to the images dir)", opts.prev_images_dir);
		return -1;
	}
	ret = peer_may_access(fd, R_OK | X_OK, "parent_img");
	if (!ret && opts.auto_dedup)
		ret = peer_may_access(fd, W_OK, "parent_img (auto_dedup frees pages there)");
	close(fd);
	return ret;
}

/*
 * A page server (PAGE_SERVER, a lazy DUMP) listens where the request says:
 * a privileged port only for a client that could bind it itself.
 */
static int check_listen_port(void)
{
	int port = opts.port ? opts.port : PS_DEFAULT_PORT, start = 1024;
	FILE *f;

	/* ps.port 0: the kernel picks one of its ephemeral range, any client's to bind */
	if (!client_unpriv || opts.port_any)
		return 0;
	f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
	if (f) {
		if (fscanf(f, "%d", &start) != 1)
			start = 1024;
		fclose(f);
	}
	if (port < start) {
		pr_err("ps.port %d: the client (uid %u) may not listen on a port below %d\n", port, peer.uid, start);
		denied = EPERM;
		return -1;
	}
	return 0;
}

/* The request's pid names no process: said with ESRCH, as clients expect (libcriu's criu_set_pid(-1)). */
static int bad_pid_field(CriuReq *req, const char *what)
{
	if (req->opts && req->opts->has_pid && req->opts->pid <= 0) {
		pr_err("%s needs opts.pid (a process), not %d\n", what, req->opts->pid);
		denied = ESRCH;
		return 1;
	}
	return 0;
}

static int no_such_task(const char *what)
{
	if (opts.pid <= 0) {
		pr_err("%s needs opts.pid (a process), not %d\n", what, opts.pid);
		denied = ESRCH;
		return 1;
	}
	if (kill(opts.pid, 0) && errno == ESRCH) {
		pr_err("%s of pid %d: no such process\n", what, opts.pid);
		denied = ESRCH;
		return 1;
	}
	{
		struct proc_status st;

		if (!parse_pid_status(opts.pid, &st)) {
			char state = st.state;

			free_pid_status(&st);
			if (state == 'Z' || state == 'X') {
				pr_err("%s of pid %d: it is dead (a zombie its parent has not reaped): no process "
				       "to dump\n", what, opts.pid);
				denied = ESRCH;
				return 1;
			}
		}
	}
	/*
	 * A client dumping itself (libcriu's criu_dump() of its own pid) or
	 * an ancestor: the tree holds this criu, which can't freeze itself.
	 */
	for (pid_t p = getpid(); p > 1;) {
		struct proc_status st;

		if (p == opts.pid) {
			pr_err("%s of pid %d: criu (pid %d) is in that tree, as the client's child: a client "
			       "can't have itself or its ancestors dumped by its own criu swrk\n", what, opts.pid,
			       getpid());
			return 1;
		}
		if (parse_pid_status(p, &st))
			break;
		p = st.ppid;
		free_pid_status(&st);
	}
	return 0;
}

static int do_dump(CriuReq *req, CriuResp *resp, CriuDumpResp *d)
{
	resp->dump = d;
	if (bad_pid_field(req, "a dump") || setup_request(req, "dump"))
		return -1;
	if (no_such_task("a dump"))
		return -1;
	if (check_may_dump(opts.pid) || check_parent_img() || (opts.lazy_pages && check_listen_port()))
		return -1;
	/* runtimes give a container's stdio pipes back with inherit_fd, by their names */
	opts.ext_pipes = true;
	opts.no_live_rounds = true;
	return cr_dump_tasks(opts.pid) ? -1 : 0;
}

/* PRE_DUMP and SINGLE_PRE_DUMP: one pre-dump of the tree, which runs on. */
static int do_pre_dump(CriuReq *req, CriuResp *resp, CriuDumpResp *d)
{
	resp->dump = d;
	if (bad_pid_field(req, "a pre-dump") || setup_request(req, "pre-dump"))
		return -1;
	if (no_such_task("a pre-dump"))
		return -1;
	if (check_may_dump(opts.pid) || check_parent_img())
		return -1;
	/*
	 * A pre-dump is there to be the parent of a later dump: runc asks for
	 * track_mem only from its second one on (it asked whether we track
	 * memory first), and the dump over swrk has no live rounds to make up
	 * for an untracked parent.
	 */
	if (kdat.has_mem_track)
		opts.track_mem = true;
	return cr_pre_dump_tasks(opts.pid) ? -1 : 0;
}

/*
 * PAGE_SERVER (and PAGE_SERVER_CHLD): a page server for one dump, into the
 * request's images dir, started in a process of its own; the reply (sent
 * once it listens) says its pid and port.
 */
static int do_page_server(CriuReq *req, CriuResp *resp, CriuPageServerInfo *ps)
{
	int p[2], user_fd, port = 0;
	pid_t pid;
	char c;

	if (setup_request(req, "page-server") || check_listen_port())
		return -1;
	/*
	 * The dump that connects names the previous images, next to the
	 * server's dir, where auto_dedup frees pages: any dir beside the
	 * client's (root's in /tmp), which criu can't check for it there.
	 */
	if (client_unpriv && opts.auto_dedup) {
		pr_err("auto_dedup: a page server frees pages in the dir its dump names, which a client "
		       "with fewer rights than criu (uid %u) may not have\n", peer.uid);
		denied = EPERM;
		return -1;
	}
	/* the client's status_fd is told once the server listens, as by criu page-server --status-fd */
	user_fd = opts.status_fd;
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("can't start the page server");
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		close(sk);
		if (user_fd >= 0)
			close(user_fd);
		setsid();
		opts.status_fd = p[1];
		opts.status_port = true;
		_exit(cr_page_server() ? 1 : 0);
	}
	close(p[1]);
	/* the ready byte, then the port it listens on (ps.port 0: the one the kernel chose) */
	if (read(p[0], &c, 1) != 1 || read(p[0], &port, sizeof(port)) != sizeof(port) || port <= 0) {
		close(p[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pr_err("the page server did not start (see the log)\n");
		return -1;
	}
	close(p[0]);
	if (user_fd >= 0) {
		if (write(user_fd, "\0", 1) != 1)
			pr_pwarn("can't write status_fd");
		close(user_fd);
		opts.status_fd = -1;
	}
	ps->has_pid = ps->has_port = true;
	ps->pid = pid;
	ps->port = port;
	resp->ps = ps;
	return 0;
}

static int do_restore(CriuReq *req, CriuResp *resp, CriuRestoreResp *r)
{
	if (setup_request(req, "restore") || check_may_restore())
		return -1;
	/* the service never stands in for the tree: it answers and goes */
	opts.restore_detached = true;
	if (cr_restore_tasks())
		return -1;
	r->pid = cr_restored_pid;
	resp->restore = r;
	return 0;
}

/*
 * CHECK: `criu check`. Its opts (libcriu's criu_check() sends the caller's)
 * are taken as the command line's are: the log where they say, and an
 * option that means nothing for a check refused, not forgotten.
 */
static int do_check(CriuReq *req)
{
	int out, save, ret;

	if (req->opts && setup_request(req, "check"))
		return -1;
	/* the report is for the log, not for the client's stdout */
	kerndat_init();
	fflush(stdout);
	save = dup(STDOUT_FILENO);
	out = log_get_fd() != STDERR_FILENO ? log_get_fd() : open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (save >= 0 && out >= 0)
		dup2(out, STDOUT_FILENO);
	ret = cr_check(NULL);
	fflush(stdout);
	if (save >= 0) {
		dup2(save, STDOUT_FILENO);
		close(save);
	}
	if (out >= 0 && out != log_get_fd())
		close(out);
	if (ret)
		pr_err("criu check failed: a required kernel feature or privilege is missing\n");
	return ret ? -1 : 0;
}

static void do_version(CriuResp *resp, CriuVersion *v)
{
	int major = 0, minor = 0, sub = 0;

	sscanf(CR_VERSION, "%d.%d.%d", &major, &minor, &sub);
	v->major_number = major;
	v->minor_number = minor;
	v->has_sublevel = true;
	v->sublevel = sub;
	resp->version = v;
}

static void do_features(CriuResp *resp, CriuFeatures *f)
{
	kerndat_init();
	f->has_mem_track = f->has_lazy_pages = f->has_pidfd_store = true;
	f->mem_track = cr_feature_check("mem_dirty_track") == 1;
	f->lazy_pages = cr_feature_check("uffd-noncoop") == 1;
	f->pidfd_store = cr_feature_check("pidfd_store") == 1;
	resp->features = f;
}

static int do_wait_pid(CriuReq *req, CriuResp *resp)
{
	int status;

	if (!req->has_pid || req->pid <= 0) {
		pr_err("WAIT_PID needs a pid\n");
		return -1;
	}
	while (waitpid(req->pid, &status, 0) < 0)
		if (errno != EINTR) {
			pr_perror("can't wait for %d (only a child of this criu can be waited for)", req->pid);
			return -1;
		}
	resp->has_status = true;
	resp->status = status;
	return 0;
}

static int not_yet(const char *what)
{
	pr_err("%s is not implemented yet\n", what);
	return -1;
}

/* One request: its reply is sent here. Returns 0 if it succeeded. */
static int handle(CriuReq *req)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuDumpResp d = CRIU_DUMP_RESP__INIT;
	CriuRestoreResp r = CRIU_RESTORE_RESP__INIT;
	CriuVersion v = CRIU_VERSION__INIT;
	CriuFeatures f = CRIU_FEATURES__INIT;
	CriuPageServerInfo ps = CRIU_PAGE_SERVER_INFO__INIT;
	char why[256], *msg = NULL;
	int ret = -1;

	resp.type = req->type;
	denied = 0;
	if (rpc_unknown_field(&req->base, why, sizeof(why))) {
		pr_err("unknown field in the request: %s\n", why);
		goto reply;
	}
	switch (req->type) {
	case CRIU_REQ_TYPE__DUMP: ret = do_dump(req, &resp, &d); break;
	case CRIU_REQ_TYPE__RESTORE: ret = do_restore(req, &resp, &r); break;
	case CRIU_REQ_TYPE__CHECK: ret = do_check(req); break;
	case CRIU_REQ_TYPE__VERSION: do_version(&resp, &v); ret = 0; break;
	case CRIU_REQ_TYPE__FEATURE_CHECK: do_features(&resp, &f); ret = 0; break;
	case CRIU_REQ_TYPE__WAIT_PID: ret = do_wait_pid(req, &resp); break;
	case CRIU_REQ_TYPE__PRE_DUMP:
	case CRIU_REQ_TYPE__SINGLE_PRE_DUMP: ret = do_pre_dump(req, &resp, &d); break;
	case CRIU_REQ_TYPE__PAGE_SERVER:
	case CRIU_REQ_TYPE__PAGE_SERVER_CHLD: ret = do_page_server(req, &resp, &ps); break;
	case CRIU_REQ_TYPE__CPUINFO_DUMP:
	case CRIU_REQ_TYPE__CPUINFO_CHECK: ret = not_yet("cpuinfo dump/check"); break;
	case CRIU_REQ_TYPE__NOTIFY:
		pr_err("a NOTIFY answer came with no notification pending\n");
		break;
	default:
		pr_err("unknown request type %d\n", req->type);
		resp.type = CRIU_REQ_TYPE__EMPTY;
		break;
	}
reply:
	resp.success = ret == 0;
	if (ret) {
		const char *e = log_first_error();

		msg = strdup(e ? e : "the request failed; see the log");
		resp.cr_errmsg = msg;
		if (denied) {
			resp.has_cr_errno = true;
			resp.cr_errno = denied;
		}
	}
	if (send_resp(&resp, -1))
		ret = -1;
	free(msg);
	return ret;
}

static int reply_bad(int type)
{
	CriuResp resp = CRIU_RESP__INIT;
	const char *e = log_first_error();
	char *msg = strdup(e ? e : "malformed request");

	resp.type = type;
	resp.success = false;
	resp.cr_errmsg = msg;
	send_resp(&resp, -1);
	free(msg);
	return -1;
}

/*
 * A client whose stdio is closed (a daemon calling libcriu) may hand us
 * the socket as fd 0, 1 or 2, and with them closed the files we open
 * would land there: what criu writes to its stderr (errors are copied
 * there) would reach the client as a reply, a garbled one, in place of
 * the real one. The socket goes above 2, and 0-2 are /dev/null where
 * nothing was open (an inherit_fd naming one is refused, as it was when
 * it was closed). Returns the socket's fd, or -1.
 */
static unsigned int stdio_filled;	/* bit i: fd i is our /dev/null, not the client's */

bool rpc_fd_filled(int fd)
{
	return fd >= STDIN_FILENO && fd <= STDERR_FILENO && (stdio_filled & (1U << fd));
}

static int sane_stdio(int n)
{
	int fd;

	if (n <= STDERR_FILENO) {
		fd = fcntl(n, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		if (fd < 0)
			return -1;
		close(n);
		n = fd;
	}
	for (int i = STDIN_FILENO; i <= STDERR_FILENO; i++) {
		if (fcntl(i, F_GETFD) >= 0)
			continue;
		fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return -1;
		stdio_filled |= 1U << i;
		if (fd != i) {
			dup2(fd, i);
			close(fd);
		}
	}
	return n;
}

/*
 * exec_cmd: once the RESTORE reply is sent, this criu becomes the command
 * (as the original tool does): the session ends, the client waits for the
 * command as it would for criu, and the restored root, criu's child
 * unless rst_sibling, is the command's. Its stdout and stderr go to the
 * restore's log, not to whatever the client gave criu. Returns only if
 * the exec failed (the tree runs on).
 */
static void exec_after_restore(void)
{
	int lfd = log_get_fd();

	close(sk);
	sk = -1;
	if (lfd > STDERR_FILENO) {
		dup2(lfd, STDOUT_FILENO);
		dup2(lfd, STDERR_FILENO);
	}
	cr_exec_cmd();
}

int cr_service_work(const char *fd_arg)
{
	int type = 0, served = 0, ret = -1, eof;
	socklen_t len = sizeof(type);
	char *end;
	long n;

	log_keep_errors();
	n = strtol(fd_arg, &end, 10);
	if (*end || end == fd_arg || n < 0 || n > INT_MAX) {
		pr_err("swrk: bad fd '%s'\n", fd_arg);
		return -1;
	}
	if (getsockopt(n, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_SEQPACKET) {
		pr_err("swrk: fd %ld is not a SOCK_SEQPACKET socket\n", n);
		return -1;
	}
	n = sane_stdio(n);
	if (n < 0) {
		pr_perror("swrk: can't move the socket off the stdio fds");
		return -1;
	}
	len = sizeof(peer);
	if (getsockopt(n, SOL_SOCKET, SO_PEERCRED, &peer, &len) || peer.pid <= 0) {
		pr_perror("swrk: can't learn who the client is (SO_PEERCRED)");
		return -1;
	}
	sk = n;
	fcntl(sk, F_SETFD, FD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	for (;;) {
		CriuReq *req = recv_req(&eof);

		if (!req) {
			if (eof && served)
				break;
			if (eof)
				pr_err("swrk: the client closed the socket before any request\n");
			else
				reply_bad(CRIU_REQ_TYPE__EMPTY);
			ret = -1;
			break;
		}
		served++;
		log_keep_errors();
		ret = handle(req);
		if (!ret && req->type == CRIU_REQ_TYPE__RESTORE && opts.exec_cmd) {
			criu_req__free_unpacked(req, NULL);
			exec_after_restore();
			ret = -1;
			break;
		}
		eof = !req->keep_open;
		criu_req__free_unpacked(req, NULL);
		if (eof)
			break;
	}
	log_fini();
	close(sk);
	sk = -1;
	return ret;
}
