/*
 * libcriu.so.2: the client side of the swrk protocol (images/rpc.proto)
 * behind the C API of criu.h. Every call that talks to criu opens its own
 * connection: by default it forks `criu swrk FD` (criu found on PATH, or
 * criu_set_service_binary()), sends one request, answers the
 * notifications, reads the reply and reaps criu.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"
#include "rpc.pb-c.h"

#define API __attribute__((visibility("default")))
#define DEFAULT_BINARY	"criu"
#define DEFAULT_ADDRESS	"criu_service.socket"

struct criu_opts {
	CriuOpts *rpc;
	criu_notify_cb notify;
	enum criu_service_comm comm;
	char *service_address;
	int service_fd;
	char *service_binary;
	int orphan_pts_master_fd;
};

static criu_opts *global_opts;

/* ---- options ---- */

API int criu_local_init_opts(criu_opts **o)
{
	criu_opts *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->rpc = malloc(sizeof(*n->rpc));
	if (!n->rpc) {
		free(n);
		return -ENOMEM;
	}
	criu_opts__init(n->rpc);
	n->comm = CRIU_COMM_BIN;
	n->service_fd = -1;
	n->orphan_pts_master_fd = -1;
	*o = n;
	return 0;
}

API void criu_local_free_opts(criu_opts *o)
{
	if (!o)
		return;
	/* every part of rpc was malloc'ed the way the unpacker does it */
	criu_opts__free_unpacked(o->rpc, NULL);
	free(o->service_address);
	free(o->service_binary);
	free(o);
}

/* The global options, made on first use so that no setter dereferences NULL. */
static criu_opts *g(void)
{
	if (!global_opts && criu_local_init_opts(&global_opts))
		return NULL;
	return global_opts;
}

API int criu_init_opts(void)
{
	criu_local_free_opts(global_opts);
	global_opts = NULL;
	return g() ? 0 : -ENOMEM;
}

API void criu_free_opts(void)
{
	criu_local_free_opts(global_opts);
	global_opts = NULL;
}

static int set_str(char **where, const char *val)
{
	char *s = val ? strdup(val) : NULL;

	if (val && !s)
		return -ENOMEM;
	free(*where);
	*where = s;
	return 0;
}

/* Append one element to a repeated field (*arr, *n). */
static int grow(void *arr, size_t *n, void *elem)
{
	void ***a = arr;
	void **na = realloc(*a, (*n + 1) * sizeof(void *));

	if (!na)
		return -ENOMEM;
	na[(*n)++] = elem;
	*a = na;
	return 0;
}

static int add_str(char ***arr, size_t *n, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return -ENOMEM;
	if (grow(arr, n, s)) {
		free(s);
		return -ENOMEM;
	}
	return 0;
}

API int criu_local_set_service_address(criu_opts *o, const char *path)
{
	o->comm = CRIU_COMM_SK;
	return set_str(&o->service_address, path);
}

API void criu_local_set_service_fd(criu_opts *o, int fd)
{
	o->comm = CRIU_COMM_FD;
	o->service_fd = fd;
}

API int criu_local_set_service_binary(criu_opts *o, const char *path)
{
	o->comm = CRIU_COMM_BIN;
	return set_str(&o->service_binary, path);
}

API void criu_local_set_service_comm(criu_opts *o, enum criu_service_comm comm)
{
	o->comm = comm;
}

#define BOOL_OPT(name, field)						\
	API void criu_local_set_##name(criu_opts *o, bool val)		\
	{								\
		o->rpc->has_##field = true;				\
		o->rpc->field = val;					\
	}								\
	API void criu_set_##name(bool val)				\
	{								\
		if (g())						\
			criu_local_set_##name(global_opts, val);	\
	}

#define STR_OPT(name, field)						\
	API int criu_local_set_##name(criu_opts *o, const char *val)	\
	{								\
		return set_str(&o->rpc->field, val);			\
	}								\
	API int criu_set_##name(const char *val)			\
	{								\
		return g() ? criu_local_set_##name(global_opts, val) : -ENOMEM; \
	}

#define STR_ADD(name, field)						\
	API int criu_local_add_##name(criu_opts *o, const char *val)	\
	{								\
		return add_str(&o->rpc->field, &o->rpc->n_##field, val); \
	}								\
	API int criu_add_##name(const char *val)			\
	{								\
		return g() ? criu_local_add_##name(global_opts, val) : -ENOMEM; \
	}

#define INT_OPT(name, field, type)					\
	API void criu_local_set_##name(criu_opts *o, type val)		\
	{								\
		o->rpc->has_##field = true;				\
		o->rpc->field = val;					\
	}								\
	API void criu_set_##name(type val)				\
	{								\
		if (g())						\
			criu_local_set_##name(global_opts, val);	\
	}

BOOL_OPT(leave_running, leave_running)
BOOL_OPT(leave_stopped, leave_stopped)
BOOL_OPT(ext_unix_sk, ext_unix_sk)
BOOL_OPT(tcp_established, tcp_established)
BOOL_OPT(tcp_skip_in_flight, tcp_skip_in_flight)
BOOL_OPT(tcp_close, tcp_close)
BOOL_OPT(weak_sysctls, weak_sysctls)
BOOL_OPT(evasive_devices, evasive_devices)
BOOL_OPT(shell_job, shell_job)
BOOL_OPT(file_locks, file_locks)
BOOL_OPT(track_mem, track_mem)
BOOL_OPT(auto_dedup, auto_dedup)
BOOL_OPT(force_irmap, force_irmap)
BOOL_OPT(link_remap, link_remap)
BOOL_OPT(manage_cgroups, manage_cgroups)
BOOL_OPT(auto_ext_mnt, auto_ext_mnt)
BOOL_OPT(ext_sharing, ext_sharing)
BOOL_OPT(ext_masters, ext_masters)
BOOL_OPT(mntns_compat_mode, mntns_compat_mode)
BOOL_OPT(skip_file_rwx_check, skip_file_rwx_check)
BOOL_OPT(unprivileged, unprivileged)
BOOL_OPT(display_stats, display_stats)

INT_OPT(pid, pid, int)
INT_OPT(work_dir_fd, work_dir_fd, int)
INT_OPT(log_level, log_level, int)
INT_OPT(cpu_cap, cpu_cap, unsigned int)
INT_OPT(timeout, timeout, unsigned int)
INT_OPT(ghost_limit, ghost_limit, unsigned int)
INT_OPT(pidfd_store_sk, pidfd_store_sk, int)

STR_OPT(parent_images, parent_img)
STR_OPT(log_file, log_file)
STR_OPT(root, root)
STR_OPT(freeze_cgroup, freeze_cgroup)
STR_OPT(lsm_profile, lsm_profile)
STR_OPT(lsm_mount_context, lsm_mount_context)
STR_OPT(config_file, config_file)

STR_ADD(enable_fs, enable_fs)
STR_ADD(skip_mnt, skip_mnt)
STR_ADD(irmap_path, irmap_scan_paths)
STR_ADD(external, external)

API void criu_local_set_images_dir_fd(criu_opts *o, int fd)
{
	o->rpc->images_dir_fd = fd;
}

API void criu_set_images_dir_fd(int fd)
{
	if (g())
		criu_local_set_images_dir_fd(global_opts, fd);
}

API void criu_local_set_manage_cgroups_mode(criu_opts *o, enum criu_cg_mode mode)
{
	o->rpc->has_manage_cgroups_mode = true;
	o->rpc->manage_cgroups_mode = (CriuCgMode)mode;
}

API void criu_set_manage_cgroups_mode(enum criu_cg_mode mode)
{
	if (g())
		criu_local_set_manage_cgroups_mode(global_opts, mode);
}

API int criu_local_set_pre_dump_mode(criu_opts *o, enum criu_pre_dump_mode mode)
{
	if (mode != CRIU_PRE_DUMP_SPLICE && mode != CRIU_PRE_DUMP_READ)
		return -EINVAL;
	o->rpc->has_pre_dump_mode = true;
	o->rpc->pre_dump_mode = (CriuPreDumpMode)mode;
	return 0;
}

API int criu_set_pre_dump_mode(enum criu_pre_dump_mode mode)
{
	return g() ? criu_local_set_pre_dump_mode(global_opts, mode) : -ENOMEM;
}

API int criu_local_set_network_lock(criu_opts *o, enum criu_network_lock_method method)
{
	if (method < CRIU_NETWORK_LOCK_IPTABLES || method > CRIU_NETWORK_LOCK_SKIP)
		return -EINVAL;
	o->rpc->has_network_lock = true;
	o->rpc->network_lock = (CriuNetworkLockMethod)method;
	return 0;
}

API int criu_set_network_lock(enum criu_network_lock_method method)
{
	return g() ? criu_local_set_network_lock(global_opts, method) : -ENOMEM;
}

API int criu_local_set_exec_cmd(criu_opts *o, int argc, char *argv[])
{
	for (int i = 0; i < argc; i++)
		if (add_str(&o->rpc->exec_cmd, &o->rpc->n_exec_cmd, argv[i]))
			return -ENOMEM;
	return 0;
}

API int criu_set_exec_cmd(int argc, char *argv[])
{
	return g() ? criu_local_set_exec_cmd(global_opts, argc, argv) : -ENOMEM;
}

API int criu_local_add_unix_sk(criu_opts *o, unsigned int inode)
{
	UnixSk *u = malloc(sizeof(*u));

	if (!u)
		return -ENOMEM;
	unix_sk__init(u);
	u->inode = inode;
	if (grow(&o->rpc->unix_sk_ino, &o->rpc->n_unix_sk_ino, u)) {
		free(u);
		return -ENOMEM;
	}
	return 0;
}

API int criu_add_unix_sk(unsigned int inode)
{
	return g() ? criu_local_add_unix_sk(global_opts, inode) : -ENOMEM;
}

/* A sub-message of two strings (key/val, in/out, ctrl/path): made and appended. */
#define PAIR_ADD(fn, Type, init, arr, a, b)					\
	API int criu_local_##fn(criu_opts *o, const char *x, const char *y)	\
	{									\
		Type *m = malloc(sizeof(*m));					\
										\
		if (!m)								\
			return -ENOMEM;						\
		init(m);							\
		m->a = x ? strdup(x) : NULL;					\
		m->b = y ? strdup(y) : NULL;					\
		if ((x && !m->a) || (y && !m->b) ||				\
		    grow(&o->rpc->arr, &o->rpc->n_##arr, m)) {			\
			free(m->a);						\
			free(m->b);						\
			free(m);						\
			return -ENOMEM;						\
		}								\
		return 0;							\
	}									\
	API int criu_##fn(const char *x, const char *y)				\
	{									\
		return g() ? criu_local_##fn(global_opts, x, y) : -ENOMEM;	\
	}

PAIR_ADD(add_ext_mount, ExtMountMap, ext_mount_map__init, ext_mnt, key, val)
PAIR_ADD(add_veth_pair, CriuVethPair, criu_veth_pair__init, veths, if_in, if_out)
PAIR_ADD(add_cg_root, CgroupRoot, cgroup_root__init, cg_root, ctrl, path)

API int criu_local_add_inherit_fd(criu_opts *o, int fd, const char *key)
{
	InheritFd *m = malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	inherit_fd__init(m);
	m->fd = fd;
	m->key = strdup(key);
	if (!m->key || grow(&o->rpc->inherit_fd, &o->rpc->n_inherit_fd, m)) {
		free(m->key);
		free(m);
		return -ENOMEM;
	}
	return 0;
}

API int criu_add_inherit_fd(int fd, const char *key)
{
	return g() ? criu_local_add_inherit_fd(global_opts, fd, key) : -ENOMEM;
}

API int criu_local_join_ns_add(criu_opts *o, const char *ns, const char *ns_file, const char *extra_opt)
{
	JoinNamespace *m;

	if (!ns || !ns_file)
		return -EINVAL;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	join_namespace__init(m);
	m->ns = strdup(ns);
	m->ns_file = strdup(ns_file);
	m->extra_opt = extra_opt ? strdup(extra_opt) : NULL;
	if (!m->ns || !m->ns_file || (extra_opt && !m->extra_opt) ||
	    grow(&o->rpc->join_ns, &o->rpc->n_join_ns, m)) {
		free(m->ns);
		free(m->ns_file);
		free(m->extra_opt);
		free(m);
		return -ENOMEM;
	}
	return 0;
}

API int criu_join_ns_add(const char *ns, const char *ns_file, const char *extra_opt)
{
	return g() ? criu_local_join_ns_add(global_opts, ns, ns_file, extra_opt) : -ENOMEM;
}

API int criu_local_set_page_server_address_port(criu_opts *o, const char *address, int port)
{
	CriuPageServerInfo *ps = o->rpc->ps;

	if (!ps) {
		ps = malloc(sizeof(*ps));
		if (!ps)
			return -ENOMEM;
		criu_page_server_info__init(ps);
		o->rpc->ps = ps;
	}
	if (set_str(&ps->address, address))
		return -ENOMEM;
	ps->has_port = true;
	ps->port = port;
	return 0;
}

API int criu_set_page_server_address_port(const char *address, int port)
{
	return g() ? criu_local_set_page_server_address_port(global_opts, address, port) : -ENOMEM;
}

/*
 * The new master of the console comes only in the orphan-pts-master
 * notification: asking for it turns the notifications on, callback or
 * not (crun may only read criu_get_orphan_pts_master_fd() afterwards),
 * else criu refuses the restore, no client taking notifications.
 */
API void criu_local_set_orphan_pts_master(criu_opts *o, bool val)
{
	o->rpc->has_orphan_pts_master = true;
	o->rpc->orphan_pts_master = val;
	if (val) {
		o->rpc->has_notify_scripts = true;
		o->rpc->notify_scripts = true;
	}
}

API void criu_set_orphan_pts_master(bool val)
{
	if (g())
		criu_local_set_orphan_pts_master(global_opts, val);
}

API void criu_local_set_notify_cb(criu_opts *o, criu_notify_cb cb)
{
	o->notify = cb;
	o->rpc->has_notify_scripts = true;
	o->rpc->notify_scripts = cb != NULL || (o->rpc->has_orphan_pts_master && o->rpc->orphan_pts_master);
}

API void criu_set_notify_cb(criu_notify_cb cb)
{
	if (g())
		criu_local_set_notify_cb(global_opts, cb);
}

API int criu_notify_pid(criu_notify_arg_t na)
{
	CriuNotify *n = (CriuNotify *)na;

	return n && n->has_pid ? n->pid : 0;
}

API int criu_local_get_orphan_pts_master_fd(criu_opts *o)
{
	return o->orphan_pts_master_fd;
}

API int criu_get_orphan_pts_master_fd(void)
{
	return global_opts ? global_opts->orphan_pts_master_fd : -1;
}

API int criu_set_service_address(const char *path)
{
	return g() ? criu_local_set_service_address(global_opts, path) : -ENOMEM;
}

API void criu_set_service_fd(int fd)
{
	if (g())
		criu_local_set_service_fd(global_opts, fd);
}

API int criu_set_service_binary(const char *path)
{
	return g() ? criu_local_set_service_binary(global_opts, path) : -ENOMEM;
}

API void criu_set_service_comm(enum criu_service_comm comm)
{
	if (g())
		criu_local_set_service_comm(global_opts, comm);
}

/* ---- talking to criu ---- */

struct conn {
	int fd;
	pid_t pid;		/* the criu swrk we forked, or 0 */
	bool own_fd;
};

static int conn_open(criu_opts *o, struct conn *c)
{
	int sk[2];
	char num[16];
	const char *bin = o->service_binary ? o->service_binary : DEFAULT_BINARY;

	c->pid = 0;
	c->own_fd = true;
	if (o->comm == CRIU_COMM_FD) {
		c->fd = o->service_fd;
		c->own_fd = false;
		return c->fd < 0 ? -EBADF : 0;
	}
	if (o->comm == CRIU_COMM_SK) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		const char *path = o->service_address ? o->service_address : DEFAULT_ADDRESS;

		if (strlen(path) >= sizeof(a.sun_path))
			return -ENAMETOOLONG;
		strcpy(a.sun_path, path);
		c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			return -errno;
		if (connect(c->fd, (struct sockaddr *)&a, sizeof(a))) {
			int e = errno;

			close(c->fd);
			return -e;
		}
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk))
		return -errno;
	snprintf(num, sizeof(num), "%d", sk[1]);
	c->pid = fork();
	if (c->pid < 0) {
		int e = errno;

		close(sk[0]);
		close(sk[1]);
		return -e;
	}
	if (c->pid == 0) {
		sigset_t all;

		/* criu's end stays open across exec; the caller's blocked signals are not criu's */
		fcntl(sk[1], F_SETFD, 0);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execlp(bin, bin, "swrk", num, (char *)NULL);
		_exit(127);
	}
	close(sk[1]);
	c->fd = sk[0];
	return 0;
}

/* Returns criu's exit status, or -1 if none. */
static int conn_close(struct conn *c)
{
	int status = -1;

	if (c->own_fd && c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->pid > 0) {
		while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
	}
	return status;
}

static int send_req(int fd, CriuReq *req)
{
	size_t len = criu_req__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	criu_req__pack(req, buf);
	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	free(buf);
	return n == (ssize_t)len ? 0 : -ECOMM;
}

/* One reply; an fd that came with it in *passed (-1 if none). */
static CriuResp *recv_resp(int fd, int *passed)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *ch;
	CriuResp *resp;
	uint8_t *buf;
	ssize_t len;

	*passed = -1;
	do
		len = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	while (len < 0 && errno == EINTR);
	if (len <= 0)
		return NULL;
	buf = malloc(len);
	if (!buf)
		return NULL;
	iov.iov_base = buf;
	iov.iov_len = len;
	do
		len = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (len < 0 && errno == EINTR);
	for (ch = CMSG_FIRSTHDR(&mh); len > 0 && ch; ch = CMSG_NXTHDR(&mh, ch))
		if (ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS) {
			int nfd = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[4];

			memcpy(fds, CMSG_DATA(ch), nfd * sizeof(int));
			for (int i = 0; i < nfd; i++) {
				if (*passed < 0)
					*passed = fds[i];
				else
					close(fds[i]);
			}
		}
	resp = len > 0 ? criu_resp__unpack(NULL, len, buf) : NULL;
	free(buf);
	if (!resp && *passed >= 0) {
		close(*passed);
		*passed = -1;
	}
	return resp;
}

static int on_notify(criu_opts *o, int fd, CriuResp *resp, int passed)
{
	CriuReq ack = CRIU_REQ__INIT;
	int ret = 0;

	if (passed >= 0) {
		if (resp->notify->script && !strcmp(resp->notify->script, "orphan-pts-master")) {
			if (o->orphan_pts_master_fd >= 0)
				close(o->orphan_pts_master_fd);
			o->orphan_pts_master_fd = passed;
		} else {
			close(passed);
		}
	}
	if (o->notify)
		ret = o->notify(resp->notify->script, (criu_notify_arg_t)resp->notify);
	ack.type = CRIU_REQ_TYPE__NOTIFY;
	ack.has_notify_success = true;
	ack.notify_success = ret == 0;
	return send_req(fd, &ack);
}

/*
 * Send req, answer notifications, and return the final reply in *out.
 * SIGCHLD is blocked meanwhile so that a handler of the caller's does not
 * reap our criu before we do.
 */
static int exchange(criu_opts *o, struct conn *c, CriuReq *req, CriuResp **out)
{
	int ret, passed;

	*out = NULL;
	ret = send_req(c->fd, req);
	if (ret)
		return ret;
	for (;;) {
		CriuResp *resp = recv_resp(c->fd, &passed);

		if (!resp)
			return -ECOMM;
		if (resp->type == CRIU_REQ_TYPE__NOTIFY && resp->notify && req->type != CRIU_REQ_TYPE__NOTIFY) {
			ret = on_notify(o, c->fd, resp, passed);
			criu_resp__free_unpacked(resp, NULL);
			if (ret)
				return ret;
			continue;
		}
		if (passed >= 0)
			close(passed);
		*out = resp;
		return 0;
	}
}

static int resp_error(CriuResp *resp)
{
	if (resp->success)
		return 0;
	return resp->has_cr_errno && resp->cr_errno > 0 ? -resp->cr_errno : -EBADE;
}

/* One request on a connection of its own; the reply in *out (free it). */
static int call(criu_opts *o, CriuReq *req, CriuResp **out)
{
	struct conn c = { .fd = -1 };
	sigset_t chld, old;
	int ret;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	ret = conn_open(o, &c);
	if (!ret) {
		ret = exchange(o, &c, req, out);
		conn_close(&c);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return ret;
	ret = resp_error(*out);
	if (!ret && (*out)->type != req->type)
		ret = -EBADMSG;
	if (ret) {
		criu_resp__free_unpacked(*out, NULL);
		*out = NULL;
	}
	return ret;
}

static int simple(criu_opts *o, CriuReqType type, bool with_opts, CriuResp **out)
{
	CriuReq req = CRIU_REQ__INIT;

	req.type = type;
	if (with_opts)
		req.opts = o->rpc;
	return call(o, &req, out);
}

API int criu_local_check(criu_opts *o)
{
	CriuResp *resp;
	int ret = simple(o, CRIU_REQ_TYPE__CHECK, true, &resp);

	if (!ret)
		criu_resp__free_unpacked(resp, NULL);
	return ret;
}

API int criu_local_dump(criu_opts *o)
{
	CriuResp *resp;
	int ret = simple(o, CRIU_REQ_TYPE__DUMP, true, &resp);

	if (ret)
		return ret;
	if (!resp->dump)
		ret = -EBADMSG;
	else
		ret = resp->dump->has_restored && resp->dump->restored ? 1 : 0;
	criu_resp__free_unpacked(resp, NULL);
	return ret;
}

API int criu_local_pre_dump(criu_opts *o)
{
	CriuResp *resp;
	int ret = simple(o, CRIU_REQ_TYPE__SINGLE_PRE_DUMP, true, &resp);

	if (!ret)
		criu_resp__free_unpacked(resp, NULL);
	return ret;
}

API int criu_local_restore(criu_opts *o)
{
	CriuResp *resp;
	int ret = simple(o, CRIU_REQ_TYPE__RESTORE, true, &resp);

	if (ret)
		return ret;
	ret = resp->restore && resp->restore->pid > 0 ? resp->restore->pid : -EBADMSG;
	criu_resp__free_unpacked(resp, NULL);
	return ret;
}

/* The root is made with CLONE_PARENT by a criu we forked: so it is our child. */
API int criu_local_restore_child(criu_opts *o)
{
	if (o->comm != CRIU_COMM_BIN)
		return -EINVAL;
	o->rpc->has_rst_sibling = true;
	o->rpc->rst_sibling = true;
	return criu_local_restore(o);
}

/*
 * Pre-dumps while more() says so (> 0; < 0 is its error), then the dump,
 * each in a criu of its own, as runc does: a criu answers one dump or
 * pre-dump per session (the options of one would carry over to the next).
 * more() may change the options in between, and its callers do: the next
 * images dir, parent_images naming the one before.
 */
API int criu_local_dump_iters(criu_opts *o, int (*more)(criu_predump_info pi))
{
	CriuResp *resp;
	int ret, again;

	if (!more)
		return -EINVAL;
	do {
		ret = simple(o, CRIU_REQ_TYPE__PRE_DUMP, true, &resp);
		if (ret)
			return ret;
		criu_resp__free_unpacked(resp, NULL);
		again = more(NULL);
		if (again < 0)
			return again;
	} while (again);
	ret = simple(o, CRIU_REQ_TYPE__DUMP, true, &resp);
	if (!ret)
		criu_resp__free_unpacked(resp, NULL);
	return ret;
}

/* How clients rank a version: a git build counts as the next minor. */
API int criu_local_get_version(criu_opts *o)
{
	CriuResp *resp;
	CriuVersion *v;
	int ret = simple(o, CRIU_REQ_TYPE__VERSION, false, &resp);

	if (ret)
		return ret;
	v = resp->version;
	if (!v) {
		ret = -EBADMSG;
	} else {
		ret = v->major_number * 10000 + v->minor_number * 100;
		if (v->gitid)
			ret += 100;
		else if (v->has_sublevel)
			ret += v->sublevel;
	}
	criu_resp__free_unpacked(resp, NULL);
	return ret;
}

API int criu_local_check_version(criu_opts *o, int minimum)
{
	int v = criu_local_get_version(o);

	if (v < 0)
		return v;
	return v >= minimum ? 1 : 0;
}

API int criu_local_feature_check(criu_opts *o, struct criu_feature_check *features, size_t size)
{
	struct criu_feature_check got = { 0 };
	CriuFeatures f = CRIU_FEATURES__INIT;
	CriuReq req = CRIU_REQ__INIT;
	CriuResp *resp;
	int ret;

	if (!features || size > sizeof(got))
		return -EINVAL;
	memcpy(&got, features, size);
	f.has_mem_track = got.mem_track;
	f.mem_track = got.mem_track;
	f.has_lazy_pages = got.lazy_pages;
	f.lazy_pages = got.lazy_pages;
	f.has_pidfd_store = got.pidfd_store;
	f.pidfd_store = got.pidfd_store;
	req.type = CRIU_REQ_TYPE__FEATURE_CHECK;
	req.features = &f;
	ret = call(o, &req, &resp);
	if (ret)
		return ret;
	if (!resp->features) {
		criu_resp__free_unpacked(resp, NULL);
		return -EBADMSG;
	}
	got.mem_track = resp->features->has_mem_track && resp->features->mem_track;
	got.lazy_pages = resp->features->has_lazy_pages && resp->features->lazy_pages;
	got.pidfd_store = resp->features->has_pidfd_store && resp->features->pidfd_store;
	criu_resp__free_unpacked(resp, NULL);
	memcpy(features, &got, size);
	return 0;
}

/* ---- the global API ---- */

#define GLOBAL_CALL(name)					\
	API int criu_##name(void)				\
	{							\
		return g() ? criu_local_##name(global_opts) : -ENOMEM; \
	}

GLOBAL_CALL(check)
GLOBAL_CALL(dump)
GLOBAL_CALL(pre_dump)
GLOBAL_CALL(restore)
GLOBAL_CALL(restore_child)
GLOBAL_CALL(get_version)

API int criu_dump_iters(int (*more)(criu_predump_info pi))
{
	return g() ? criu_local_dump_iters(global_opts, more) : -ENOMEM;
}

API int criu_check_version(int minimum)
{
	return g() ? criu_local_check_version(global_opts, minimum) : -ENOMEM;
}

API int criu_feature_check(struct criu_feature_check *features, size_t size)
{
	return g() ? criu_local_feature_check(global_opts, features, size) : -ENOMEM;
}
