/*
 * Socket options common to every family (SOL_SOCKET), and the table-driven
 * reading and setting of integer options the families use for their own
 * levels. Everything is read through getsockopt on a copy of the task's fd
 * and set back with setsockopt, only where a new socket differs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "namespaces.h"
#include "sk-opts.h"
#include "util.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK		72
#endif
#ifndef SO_RCVMARK
#define SO_RCVMARK		75
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD		76
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL	69
#endif
#ifndef SO_TXREHASH
#define SO_TXREHASH		74
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS		83
#endif
#ifndef SO_RCVPRIORITY
#define SO_RCVPRIORITY		82
#endif
#define SOCK_SNDBUF_LOCK	1
#define SOCK_RCVBUF_LOCK	2
#define MAX_FILTER_LEN		4096	/* BPF_MAXINSNS */

static const struct sk_opt sol_socket[] = {
	SK_OPT(SOL_SOCKET, SO_REUSEPORT, SkOptsEntry, reuseport, SK_OPT_EARLY),
	SK_OPT(SOL_SOCKET, SO_MARK, SkOptsEntry, mark, SK_OPT_EARLY),
	SK_OPT(SOL_SOCKET, SO_PRIORITY, SkOptsEntry, priority, SK_OPT_EARLY),
	SK_OPT(SOL_SOCKET, SO_DONTROUTE, SkOptsEntry, dontroute, SK_OPT_EARLY),
	/* 255 until a connection takes the sysctl's; a new socket has it, and it can't be set */
	SK_OPT(SOL_SOCKET, SO_TXREHASH, SkOptsEntry, txrehash, SK_OPT_EARLY),
	SK_OPT(SOL_SOCKET, SO_RCVLOWAT, SkOptsEntry, rcvlowat, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_PASSCRED, SkOptsEntry, passcred, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_PASSSEC, SkOptsEntry, passsec, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_PASSPIDFD, SkOptsEntry, passpidfd, SK_OPT_LATE),
	/* after the queue: messages queued before it was turned off may carry files */
	SK_OPT(SOL_SOCKET, SO_PASSRIGHTS, SkOptsEntry, passrights, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_NO_CHECK, SkOptsEntry, no_check, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_BROADCAST, SkOptsEntry, broadcast, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_KEEPALIVE, SkOptsEntry, keepalive, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_OOBINLINE, SkOptsEntry, oobinline, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_TIMESTAMP_OLD, SkOptsEntry, timestamp_old, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_TIMESTAMPNS_OLD, SkOptsEntry, timestampns_old, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_TIMESTAMP_NEW, SkOptsEntry, timestamp_new, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_TIMESTAMPNS_NEW, SkOptsEntry, timestampns_new, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_RXQ_OVFL, SkOptsEntry, rxq_ovfl, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_SELECT_ERR_QUEUE, SkOptsEntry, select_err_queue, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_ZEROCOPY, SkOptsEntry, zerocopy, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_RCVMARK, SkOptsEntry, rcvmark, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_RCVPRIORITY, SkOptsEntry, rcvpriority, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_BUSY_POLL, SkOptsEntry, busy_poll, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_PREFER_BUSY_POLL, SkOptsEntry, prefer_busy_poll, SK_OPT_LATE),
	SK_OPT(SOL_SOCKET, SO_WIFI_STATUS, SkOptsEntry, wifi_status, SK_OPT_LATE),
};

/* Options a kernel or a socket kind may lack: not an error, the option just isn't there. */
static int absent(int err)
{
	return err == ENOPROTOOPT || err == EOPNOTSUPP || err == EINVAL || err == ENOENT;
}

int sk_opts_read(int sk, const struct sk_opt *tab, size_t n, void *msg, const char *who)
{
	for (size_t i = 0; i < n; i++) {
		socklen_t len = sizeof(int);
		int val = 0;

		if (getsockopt(sk, tab[i].level, tab[i].name, &val, &len)) {
			if (absent(errno))
				continue;
			pr_perror("can't read %s of %s", tab[i].str, who);
			return -1;
		}
		*(protobuf_c_boolean *)((char *)msg + tab[i].has) = 1;
		memcpy((char *)msg + tab[i].val, &val, sizeof(val));
	}
	return 0;
}

int sk_opts_write(int sk, const struct sk_opt *tab, size_t n, const void *msg, int stage, const char *who)
{
	for (size_t i = 0; i < n; i++) {
		socklen_t len = sizeof(int);
		int val, cur = 0;

		if (tab[i].stage != stage || !*(const protobuf_c_boolean *)((const char *)msg + tab[i].has))
			continue;
		memcpy(&val, (const char *)msg + tab[i].val, sizeof(val));
		if (!getsockopt(sk, tab[i].level, tab[i].name, &cur, &len) && cur == val)
			continue;
		if (setsockopt(sk, tab[i].level, tab[i].name, &val, sizeof(val))) {
			pr_perror("can't set %s of %s to %d", tab[i].str, who, val);
			return -1;
		}
	}
	return 0;
}

static int get_int(int sk, int opt, uint32_t *val, protobuf_c_boolean *has, const char *name, const char *who)
{
	socklen_t len = sizeof(int);
	int v = 0;

	if (getsockopt(sk, SOL_SOCKET, opt, &v, &len)) {
		if (absent(errno))
			return 0;
		pr_perror("can't read %s of %s", name, who);
		return -1;
	}
	*val = v;
	*has = 1;
	return 0;
}

static int dump_timeo(int sk, int opt, uint64_t *usec, protobuf_c_boolean *has, const char *who)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);

	if (getsockopt(sk, SOL_SOCKET, opt, &tv, &len)) {
		pr_perror("can't read the %s timeout of %s", opt == SO_RCVTIMEO ? "receive" : "send", who);
		return -1;
	}
	*usec = (uint64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	*has = *usec != 0;
	return 0;
}

/* A classic BPF program attached with SO_ATTACH_FILTER (eBPF ones can't be read: refused). */
static int dump_filter(int sk, SkOptsEntry *e, const char *who)
{
	struct sock_filter *insns;
	socklen_t len = 0;

	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, NULL, &len)) {
		if (errno == EACCES) {
			pr_err("can't dump %s: it has an eBPF socket filter, which can't be read back\n", who);
			return -1;
		}
		if (absent(errno))
			return 0;
		pr_perror("can't read the socket filter of %s", who);
		return -1;
	}
	if (!len)
		return 0;
	if (len > MAX_FILTER_LEN) {
		pr_err("%s: a socket filter of %u instructions\n", who, len);
		return -1;
	}
	insns = calloc(len, sizeof(*insns));
	e->filter = calloc(len, sizeof(*e->filter));
	if (!insns || !e->filter) {
		free(insns);
		pr_err("out of memory\n");
		return -1;
	}
	/* optlen counts instructions here */
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, insns, &len)) {
		pr_perror("can't read the socket filter of %s", who);
		free(insns);
		return -1;
	}
	for (socklen_t i = 0; i < len; i++)
		e->filter[i] = insns[i].code | (uint64_t)insns[i].jt << 16 | (uint64_t)insns[i].jf << 24 |
			       (uint64_t)insns[i].k << 32;
	e->n_filter = len;
	free(insns);
	return 0;
}

int sk_opts_dump(int sk, SkOptsEntry *e, const char *who)
{
	struct linger lg;
	socklen_t len;
	char dev[IFNAMSIZ];
	uint64_t rate = 0;

	sk_opts_entry__init(e);
	if (sk_opts_read(sk, sol_socket, ARRAY_SIZE(sol_socket), e, who))
		return -1;
	{
		struct stat st;
		uint32_t uid, gid;

		if (fstat(sk, &st)) {
			pr_perror("can't stat %s", who);
			return -1;
		}
		uid = st.st_uid;
		gid = st.st_gid;
		/* ids the tree's user namespace doesn't map: it sees the overflow id, as restore would give */
		if (!ns_uid_inside(&uid, 0) && !ns_uid_inside(&gid, 1)) {
			e->has_owner_uid = e->has_owner_gid = 1;
			e->owner_uid = uid;
			e->owner_gid = gid;
		}
	}
	if (get_int(sk, SO_SNDBUF, &e->sndbuf, &e->has_sndbuf, "SO_SNDBUF", who) ||
	    get_int(sk, SO_RCVBUF, &e->rcvbuf, &e->has_rcvbuf, "SO_RCVBUF", who) ||
	    get_int(sk, SO_BUF_LOCK, &e->buf_lock, &e->has_buf_lock, "SO_BUF_LOCK", who) ||
	    get_int(sk, SO_REUSEADDR, &e->reuseaddr, &e->has_reuseaddr, "SO_REUSEADDR", who) ||
	    get_int(sk, SO_LOCK_FILTER, &e->lock_filter, &e->has_lock_filter, "SO_LOCK_FILTER", who))
		return -1;
	if (dump_timeo(sk, SO_RCVTIMEO, &e->rcvtimeo_usec, &e->has_rcvtimeo_usec, who) ||
	    dump_timeo(sk, SO_SNDTIMEO, &e->sndtimeo_usec, &e->has_sndtimeo_usec, who))
		return -1;
	len = sizeof(lg);
	if (getsockopt(sk, SOL_SOCKET, SO_LINGER, &lg, &len)) {
		pr_perror("can't read SO_LINGER of %s", who);
		return -1;
	}
	if (lg.l_onoff || lg.l_linger) {
		e->has_linger_onoff = e->has_linger = 1;
		e->linger_onoff = lg.l_onoff;
		e->linger = lg.l_linger;
	}
	len = sizeof(rate);
	if (!getsockopt(sk, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, &len) && len == sizeof(rate) && rate != ~0ULL) {
		e->has_max_pacing_rate = 1;
		e->max_pacing_rate = rate;
	}
	len = sizeof(dev);
	memset(dev, 0, sizeof(dev));
	if (getsockopt(sk, SOL_SOCKET, SO_BINDTODEVICE, dev, &len)) {
		pr_perror("can't read SO_BINDTODEVICE of %s", who);
		return -1;
	}
	if (len && dev[0]) {
		e->bound_dev = strndup(dev, sizeof(dev) - 1);
		if (!e->bound_dev)
			return -1;
	}
	len = sizeof(int);
	{
		int v = 0;

		/* the 64-bit-time variant answers ENOENT when the old one is in use, and the other way round */
		if (!getsockopt(sk, SOL_SOCKET, SO_TIMESTAMPING_OLD, &v, &len) && v) {
			e->has_timestamping = 1;
			e->timestamping = v;
		}
	}
	{
		socklen_t l = sizeof(int);
		int v;

		if (!getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &v, &l)) {
			e->has_peek_off = 1;
			e->peek_off = v;
		}
	}
	return dump_filter(sk, e, who);
}

static int set_int(int sk, int opt, int val, const char *name, const char *who)
{
	int ret = setsockopt(sk, SOL_SOCKET, opt, &val, sizeof(val));

	/*
	 * SO_*BUFFORCE needs CAP_NET_ADMIN in criu's user namespace: inside a user
	 * namespace of the tree's the tasks could only have used the plain option.
	 */
	if (ret && errno == EPERM && (opt == SO_SNDBUFFORCE || opt == SO_RCVBUFFORCE)) {
		int plain = opt == SO_SNDBUFFORCE ? SO_SNDBUF : SO_RCVBUF;

		ret = setsockopt(sk, SOL_SOCKET, plain, &val, sizeof(val));
	}
	if (ret) {
		pr_perror("can't set %s of %s to %d", name, who, val);
		return -1;
	}
	return 0;
}

static int set_timeo(int sk, int opt, uint64_t usec, const char *who)
{
	struct timeval tv = { .tv_sec = usec / 1000000, .tv_usec = usec % 1000000 };

	if (setsockopt(sk, SOL_SOCKET, opt, &tv, sizeof(tv))) {
		pr_perror("can't set the %s timeout of %s", opt == SO_RCVTIMEO ? "receive" : "send", who);
		return -1;
	}
	return 0;
}

static int restore_filter(int sk, const SkOptsEntry *e, const char *who)
{
	struct sock_fprog prog;
	int ret;

	if (!e->n_filter)
		return 0;
	prog.len = e->n_filter;
	prog.filter = calloc(e->n_filter, sizeof(*prog.filter));
	if (!prog.filter) {
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < e->n_filter; i++) {
		prog.filter[i].code = e->filter[i] & 0xffff;
		prog.filter[i].jt = (e->filter[i] >> 16) & 0xff;
		prog.filter[i].jf = (e->filter[i] >> 24) & 0xff;
		prog.filter[i].k = e->filter[i] >> 32;
	}
	ret = setsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
	if (ret)
		pr_perror("can't attach the socket filter of %s", who);
	free(prog.filter);
	return ret;
}

static int restore_bufs(int sk, const SkOptsEntry *e, int bufs_raised, const char *who)
{
	uint32_t lock = e->has_buf_lock ? e->buf_lock : 0;

	if (e->has_sndbuf && (bufs_raised || (lock & SOCK_SNDBUF_LOCK)) &&
	    set_int(sk, SO_SNDBUFFORCE, e->sndbuf / 2, "SO_SNDBUF", who))
		return -1;
	if (e->has_rcvbuf && (bufs_raised || (lock & SOCK_RCVBUF_LOCK)) &&
	    set_int(sk, SO_RCVBUFFORCE, e->rcvbuf / 2, "SO_RCVBUF", who))
		return -1;
	/* setting a size fixes it: say again which the task had fixed itself */
	if (e->has_buf_lock && set_int(sk, SO_BUF_LOCK, lock, "SO_BUF_LOCK", who))
		return -1;
	return 0;
}

int sk_opts_restore(int sk, const SkOptsEntry *e, int stage, int bufs_raised, const char *who)
{
	if (!e)
		return 0;
	if (sk_opts_write(sk, sol_socket, ARRAY_SIZE(sol_socket), e, stage, who))
		return -1;
	if (stage == SK_OPT_EARLY) {
		struct stat st;

		/*
		 * A socket is its creator's (criu's); fchown() gives its owner back,
		 * before the bind: a SO_REUSEPORT group takes only its owner's sockets.
		 */
		if (e->has_owner_uid && e->has_owner_gid && !fstat(sk, &st) &&
		    (st.st_uid != e->owner_uid || st.st_gid != e->owner_gid) &&
		    fchown(sk, e->owner_uid, e->owner_gid)) {
			pr_perror("can't give %s its owner %u:%u", who, e->owner_uid, e->owner_gid);
			return -1;
		}
		if (e->bound_dev &&
		    setsockopt(sk, SOL_SOCKET, SO_BINDTODEVICE, e->bound_dev, strlen(e->bound_dev) + 1)) {
			pr_perror("can't bind %s to the device %s", who, e->bound_dev);
			return -1;
		}
		return 0;
	}
	if (stage == SK_OPT_LATE) {
		struct linger lg = { .l_onoff = e->linger_onoff, .l_linger = e->linger };

		if (restore_bufs(sk, e, bufs_raised, who))
			return -1;
		if (e->has_rcvtimeo_usec && set_timeo(sk, SO_RCVTIMEO, e->rcvtimeo_usec, who))
			return -1;
		if (e->has_sndtimeo_usec && set_timeo(sk, SO_SNDTIMEO, e->sndtimeo_usec, who))
			return -1;
		if (e->has_linger && setsockopt(sk, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) {
			pr_perror("can't set SO_LINGER of %s", who);
			return -1;
		}
		if (e->has_max_pacing_rate &&
		    setsockopt(sk, SOL_SOCKET, SO_MAX_PACING_RATE, &e->max_pacing_rate, sizeof(e->max_pacing_rate))) {
			pr_perror("can't set SO_MAX_PACING_RATE of %s", who);
			return -1;
		}
		if (e->has_timestamping && set_int(sk, e->has_timestamp_new && (e->timestamp_new || e->timestampns_new) ?
						   SO_TIMESTAMPING_NEW : SO_TIMESTAMPING_OLD,
						   e->timestamping, "SO_TIMESTAMPING", who))
			return -1;
		return restore_filter(sk, e, who);
	}
	/* last: the filter lock forbids changing the filter, a peek offset is the task's own */
	if (e->has_peek_off && e->peek_off != -1 && set_int(sk, SO_PEEK_OFF, e->peek_off, "SO_PEEK_OFF", who))
		return -1;
	if (e->has_reuseaddr && set_int(sk, SO_REUSEADDR, e->reuseaddr, "SO_REUSEADDR", who))
		return -1;
	if (e->has_lock_filter && e->lock_filter && set_int(sk, SO_LOCK_FILTER, 1, "SO_LOCK_FILTER", who))
		return -1;
	return 0;
}

int sk_set_flags(int sk, uint32_t flags, const char *who)
{
	if (fcntl(sk, F_SETFL, flags & ~(O_ACCMODE | O_ASYNC))) {
		pr_perror("can't set the file flags of %s", who);
		return -1;
	}
	return 0;
}

int sk_opts_finish(int sk, const SkOptsEntry *e, uint32_t flags, const char *who)
{
	if (sk_opts_restore(sk, e, SK_OPT_LATE, 0, who) || sk_opts_restore(sk, e, SK_OPT_LAST, 0, who))
		return -1;
	return sk_set_flags(sk, flags, who);
}

int sk_raise_bufs(int sk, size_t bytes, const char *who)
{
	/* the kernel doubles what it is given; INT_MAX / 2 is its ceiling */
	int val = bytes > INT_MAX / 4 ? INT_MAX / 2 : (int)bytes * 2 + (1 << 20);

	if (set_int(sk, SO_SNDBUFFORCE, val, "SO_SNDBUF", who) || set_int(sk, SO_RCVBUFFORCE, val, "SO_RCVBUF", who))
		return -1;
	return 0;
}

void sk_opts_free(SkOptsEntry *e)
{
	if (!e)
		return;
	free(e->bound_dev);
	free(e->filter);
	e->bound_dev = NULL;
	e->filter = NULL;
	e->n_filter = 0;
}
