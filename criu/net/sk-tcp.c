/*
 * TCP: options, and connections taken apart and made again in repair mode
 * (TCP_REPAIR). The dump reads, on a copy of the task's fd and with the
 * network locked, the sequence numbers, negotiated options, window and
 * both queues (peeked, nothing taken away); the socket stays in repair so
 * that killing the task closes it without a FIN or RST. The restore binds
 * and "connects" a new socket in repair mode (no packet), puts the numbers
 * and queues back, rebuilds a half-closed state with our own FIN (a
 * shutdown in repair) and the peer's (a segment we inject), and leaves it
 * in repair until every task is back and the lock is gone.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "cr_options.h"
#include "log.h"
#include "sk-inet.h"
#include "sk-opts.h"
#include "util.h"

#ifndef TCP_INQ
#define TCP_INQ			36
#endif
#ifndef TCP_TX_DELAY
#define TCP_TX_DELAY		37
#endif
#ifndef TCP_FASTOPEN_NO_COOKIE
#define TCP_FASTOPEN_NO_COOKIE	34
#endif
#ifndef TCP_AO_INFO
#define TCP_AO_INFO		40
#endif
#ifndef TCP_RTO_MAX_MS
#define TCP_RTO_MAX_MS		44
#endif
#ifndef TCP_RTO_MIN_US
#define TCP_RTO_MIN_US		45
#endif
#ifndef TCP_DELACK_MAX_US
#define TCP_DELACK_MAX_US	46
#endif
#define TCP_CA_NAME_MAX		16
#define MAX_USER_MSS		32767	/* MAX_TCP_WINDOW: what TCP_MAXSEG accepts */
#define TCP_MIN_MSS		88
#ifndef TCPOLEN_TSTAMP_APPA
#define TCPOLEN_TSTAMP_APPA	12
#endif
#define RCV_SHUTDOWN		1	/* sock_diag's INET_DIAG_SHUTDOWN bits */
#define MAX_STREAM_BYTES	(48U << 20)	/* both queues of one connection, to fit one image entry */

static const struct sk_opt tcp_tab[] = {
	SK_OPT(SOL_TCP, TCP_NODELAY, TcpOptsEntry, nodelay, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_CORK, TcpOptsEntry, cork, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_KEEPIDLE, TcpOptsEntry, keepidle, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_KEEPINTVL, TcpOptsEntry, keepintvl, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_KEEPCNT, TcpOptsEntry, keepcnt, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_USER_TIMEOUT, TcpOptsEntry, user_timeout, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_NOTSENT_LOWAT, TcpOptsEntry, notsent_lowat, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_LINGER2, TcpOptsEntry, linger2, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_SYNCNT, TcpOptsEntry, syncnt, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_DEFER_ACCEPT, TcpOptsEntry, defer_accept, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_FASTOPEN, TcpOptsEntry, fastopen, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_FASTOPEN_CONNECT, TcpOptsEntry, fastopen_connect, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_FASTOPEN_NO_COOKIE, TcpOptsEntry, fastopen_no_cookie, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_THIN_LINEAR_TIMEOUTS, TcpOptsEntry, thin_linear, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_INQ, TcpOptsEntry, inq, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_TX_DELAY, TcpOptsEntry, tx_delay, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_SAVE_SYN, TcpOptsEntry, save_syn, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_RTO_MAX_MS, TcpOptsEntry, rto_max_ms, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_RTO_MIN_US, TcpOptsEntry, rto_min_us, SK_OPT_EARLY),
	SK_OPT(SOL_TCP, TCP_DELACK_MAX_US, TcpOptsEntry, delack_max_us, SK_OPT_EARLY),
	/* a connection's clamp is one the kernel computed at connect: it goes back at the end */
	SK_OPT(SOL_TCP, TCP_WINDOW_CLAMP, TcpOptsEntry, window_clamp, SK_OPT_LATE),
};

/* The user MSS: TCP_MAXSEG shows it only before a connection (afterwards the current MSS). */
static const struct sk_opt tcp_maxseg[] = {
	SK_OPT(SOL_TCP, TCP_MAXSEG, TcpOptsEntry, maxseg, SK_OPT_EARLY),
};

int tcp_connection_state(int state)
{
	switch (state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSE_WAIT:
	case TCP_LAST_ACK:
	case TCP_CLOSING:
		return 1;
	}
	return 0;
}

static int fin_sent(int state)
{
	return state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 || state == TCP_CLOSING || state == TCP_LAST_ACK;
}

static int fin_rcvd(int state)
{
	return state == TCP_CLOSE_WAIT || state == TCP_LAST_ACK || state == TCP_CLOSING;
}

int tcp_dump_opts(int sk, InetSkEntry *e, const char *who)
{
	TcpOptsEntry *t = calloc(1, sizeof(*t));
	char ca[TCP_CA_NAME_MAX + 1] = "";
	socklen_t len = TCP_CA_NAME_MAX;
	int ao;

	if (!t)
		return -1;
	tcp_opts_entry__init(t);
	e->tcp = t;
	if (sk_opts_read(sk, tcp_tab, ARRAY_SIZE(tcp_tab), t, who))
		return -1;
	if (!tcp_connection_state(e->state) && sk_opts_read(sk, tcp_maxseg, 1, t, who))
		return -1;
	if (getsockopt(sk, SOL_TCP, TCP_CONGESTION, ca, &len)) {
		pr_perror("can't read TCP_CONGESTION of %s", who);
		return -1;
	}
	t->congestion = strndup(ca, len);
	if (!t->congestion)
		return -1;
	len = sizeof(ao);
	if (!getsockopt(sk, SOL_TCP, TCP_AO_INFO, &ao, &len) || errno == EINVAL) {
		/* a TCP-AO key list answers (EINVAL: our buffer is too small for it); none is ENOENT */
		pr_err("can't dump %s: it has TCP-AO keys; not supported\n", who);
		return -1;
	}
	return 0;
}

int tcp_restore_opts(int sk, const InetSkEntry *e, int stage, const char *who)
{
	const TcpOptsEntry *t = e->tcp;
	char cur[TCP_CA_NAME_MAX + 1] = "";
	socklen_t len = TCP_CA_NAME_MAX;

	if (!t)
		return 0;
	if (sk_opts_write(sk, tcp_tab, ARRAY_SIZE(tcp_tab), t, stage, who))
		return -1;
	if (stage != SK_OPT_EARLY)
		return 0;
	if (!tcp_connection_state(e->state) && sk_opts_write(sk, tcp_maxseg, 1, t, stage, who))
		return -1;
	if (t->congestion && t->congestion[0] && !getsockopt(sk, SOL_TCP, TCP_CONGESTION, cur, &len) &&
	    strcmp(cur, t->congestion) &&
	    setsockopt(sk, SOL_TCP, TCP_CONGESTION, t->congestion, strlen(t->congestion))) {
		pr_perror("can't set the congestion control of %s to %s", who, t->congestion);
		return -1;
	}
	return 0;
}

/* ---- dump ---- */

static int set_opt(int sk, int opt, int val, const char *name, const char *who)
{
	if (setsockopt(sk, SOL_TCP, opt, &val, sizeof(val))) {
		pr_perror("can't set %s of %s to %d", name, who, val);
		return -1;
	}
	return 0;
}

static int get_opt(int sk, int opt, void *val, socklen_t size, const char *name, const char *who)
{
	socklen_t len = size;

	if (getsockopt(sk, SOL_TCP, opt, val, &len)) {
		pr_perror("can't read %s of %s", name, who);
		return -1;
	}
	return 0;
}

/* Copy queue @q (TCP_RECV_QUEUE or TCP_SEND_QUEUE) of @len bytes and its sequence number. */
static int peek_queue(int sk, int q, uint32_t *seq, ProtobufCBinaryData *data, int len, const char *who)
{
	ssize_t n;

	if (set_opt(sk, TCP_REPAIR_QUEUE, q, "TCP_REPAIR_QUEUE", who) ||
	    get_opt(sk, TCP_QUEUE_SEQ, seq, sizeof(*seq), "TCP_QUEUE_SEQ", who))
		return -1;
	data->data = malloc(len + 1);
	if (!data->data) {
		pr_err("out of memory\n");
		return -1;
	}
	data->len = 0;
	if (!len)
		return 0;
	n = recv(sk, data->data, len + 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0) {
		pr_perror("can't copy the %s queue of %s", q == TCP_RECV_QUEUE ? "receive" : "send", who);
		return -1;
	}
	data->len = n;
	return 0;
}

/* Urgent data: the receive queue can be peeked only up to the mark, and nothing can set a mark again. */
static int check_urgent(int sk, int inq, size_t peeked, const char *who)
{
	struct pollfd p = { .fd = sk, .events = POLLPRI };
	int at_mark = 0, off = (int)peeked, none = -1;
	char b;
	ssize_t n;

	if (ioctl(sk, SIOCATMARK, &at_mark)) {
		pr_perror("can't read the urgent mark of %s", who);
		return -1;
	}
	poll(&p, 1, 0);
	/* is there more past what one peek gave, behind a mark? */
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off))) {
		pr_perror("can't set SO_PEEK_OFF on %s", who);
		return -1;
	}
	n = recv(sk, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none));
	if (at_mark || (p.revents & POLLPRI) || n > 0 || (size_t)inq != peeked) {
		pr_err("can't dump %s: it has urgent (out-of-band) data pending; the kernel gives no way to "
		       "restore an urgent mark\n", who);
		return -1;
	}
	return 0;
}

int tcp_dump_stream(int sk, InetSkEntry *e, const char *who)
{
	struct tcp_repair_window w;
	struct tcp_info ti;
	int on = 1, peek_off = -1, none = -1, inq, outq, unsq, mss;
	uint32_t ts = 0;
	TcpStreamEntry *s;

	if (setsockopt(sk, SOL_TCP, TCP_REPAIR, &on, sizeof(on))) {
		pr_perror("can't put %s in repair mode", who);
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	tcp_stream_entry__init(s);
	e->stream = s;
	memset(&ti, 0, sizeof(ti));
	if (get_opt(sk, TCP_INFO, &ti, sizeof(ti), "TCP_INFO", who))
		return -1;
	if (!tcp_connection_state(ti.tcpi_state)) {
		pr_err("can't dump %s: the connection went to state %u while being locked\n", who, ti.tcpi_state);
		return -1;
	}
	e->state = ti.tcpi_state;
	if (ioctl(sk, SIOCINQ, &inq) || ioctl(sk, SIOCOUTQ, &outq) || ioctl(sk, SIOCOUTQNSD, &unsq)) {
		pr_perror("can't read the queue lengths of %s", who);
		return -1;
	}
	/* a FIN takes a sequence number but no byte of the send queue */
	if (fin_sent(e->state)) {
		if (unsq > 0) {
			unsq--;
			s->has_fin_unsent = s->fin_unsent = 1;
		}
		if (outq > 0)
			outq--;
	}
	if ((uint64_t)inq + outq > MAX_STREAM_BYTES) {
		pr_err("can't dump %s: %d + %d bytes queued, more than %u\n", who, inq, outq, MAX_STREAM_BYTES);
		return -1;
	}
	if (get_opt(sk, TCP_MAXSEG, &mss, sizeof(mss), "TCP_MAXSEG", who))
		return -1;
	s->mss_clamp = mss;
	s->has_snd_mss = 1;
	s->snd_mss = ti.tcpi_snd_mss;
	s->opt_mask = ti.tcpi_options;
	s->snd_wscale = ti.tcpi_snd_wscale;
	s->rcv_wscale = ti.tcpi_rcv_wscale;
	if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS) {
		if (get_opt(sk, TCP_TIMESTAMP, &ts, sizeof(ts), "TCP_TIMESTAMP", who))
			return -1;
		s->has_timestamp = 1;
		s->timestamp = ts;
	}
	if (get_opt(sk, TCP_REPAIR_WINDOW, &w, sizeof(w), "TCP_REPAIR_WINDOW", who))
		return -1;
	s->has_snd_wl1 = s->has_snd_wnd = s->has_max_window = s->has_rcv_wnd = s->has_rcv_wup = 1;
	s->snd_wl1 = w.snd_wl1;
	s->snd_wnd = w.snd_wnd;
	s->max_window = w.max_window;
	s->rcv_wnd = w.rcv_wnd;
	s->rcv_wup = w.rcv_wup;
	/* a peek offset the task set moves repair peeks too: off for the while */
	{
		socklen_t len = sizeof(peek_off);

		if (getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek_off, &len) ||
		    setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none))) {
			pr_perror("can't clear SO_PEEK_OFF of %s", who);
			return -1;
		}
	}
	if (peek_queue(sk, TCP_RECV_QUEUE, &s->inq_seq, &s->inq, inq, who) ||
	    check_urgent(sk, inq, s->inq.len, who) ||
	    peek_queue(sk, TCP_SEND_QUEUE, &s->outq_seq, &s->outq, outq, who))
		goto err;
	if ((int)s->outq.len != outq || unsq > outq) {
		pr_err("can't dump %s: the send queue has %zu bytes, %d expected (%d not sent)\n", who, s->outq.len,
		       outq, unsq);
		goto err;
	}
	s->unsent = unsq;
	if (set_opt(sk, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE", who))
		goto err;
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek_off, sizeof(peek_off))) {
		pr_perror("can't put SO_PEEK_OFF of %s back", who);
		return -1;
	}
	pr_debug("%s: %u bytes to read (seq %u), %u to send (%u of them not sent, seq %u), mss %u, wscale %u/%u, "
		 "options %#x\n", who, (unsigned)s->inq.len, s->inq_seq, (unsigned)s->outq.len, s->unsent, s->outq_seq,
		 s->mss_clamp, s->snd_wscale, s->rcv_wscale, s->opt_mask);
	return 0;
err:
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek_off, sizeof(peek_off));
	return -1;
}

int tcp_repair_off(int sk, int reuseaddr, int probe, const char *who)
{
	int off = probe ? TCP_REPAIR_OFF : TCP_REPAIR_OFF_NO_WP;

	if (setsockopt(sk, SOL_TCP, TCP_REPAIR, &off, sizeof(off))) {
		pr_perror("can't take %s out of repair mode", who);
		return -1;
	}
	/* leaving repair mode clears it */
	if (setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, sizeof(reuseaddr))) {
		pr_perror("can't set SO_REUSEADDR of %s", who);
		return -1;
	}
	return 0;
}

/* ---- restore ---- */

/* send() what may be a lot into a queue; the receive one takes limited pieces: halve them until it does. */
static int fill_queue(int sk, int q, const uint8_t *data, size_t len, const char *who)
{
	size_t chunk = len, done = 0;

	if (q >= 0 && set_opt(sk, TCP_REPAIR_QUEUE, q, "TCP_REPAIR_QUEUE", who))
		return -1;
	while (done < len) {
		ssize_t n = send(sk, data + done, len - done < chunk ? len - done : chunk, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == ENOMEM || errno == EAGAIN) && chunk > 1024) {
			chunk /= 2;
			continue;
		}
		if (n <= 0) {
			pr_perror("can't put %zu bytes back into the %s queue of %s", len - done,
				  q == TCP_RECV_QUEUE ? "receive" : "send", who);
			return -1;
		}
		done += n;
	}
	return 0;
}

/*
 * The user MSS that makes the connect compute the segment size the
 * connection had (it was fixed at the handshake, bounded by half the
 * window then): plus the timestamp option it leaves room for.
 */
static int user_mss(const TcpStreamEntry *s)
{
	uint32_t mss = s->mss_clamp;

	if (s->has_snd_mss && s->snd_mss && s->snd_mss + TCPOLEN_TSTAMP_APPA < mss)
		mss = s->snd_mss + ((s->opt_mask & TCPI_OPT_TIMESTAMPS) ? TCPOLEN_TSTAMP_APPA : 0);
	if (mss > MAX_USER_MSS)
		mss = MAX_USER_MSS;
	return mss < TCP_MIN_MSS ? TCP_MIN_MSS : mss;
}

static int repair_options(int sk, const TcpStreamEntry *s, const char *who)
{
	struct tcp_repair_opt o[4];
	int n = 0;

	if (s->opt_mask & TCPI_OPT_SACK)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (s->opt_mask & TCPI_OPT_WSCALE)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_WINDOW, s->snd_wscale | s->rcv_wscale << 16 };
	if (s->opt_mask & TCPI_OPT_TIMESTAMPS)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	o[n++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, s->mss_clamp };
	if (setsockopt(sk, SOL_TCP, TCP_REPAIR_OPTIONS, o, n * sizeof(o[0]))) {
		pr_perror("can't restore the negotiated TCP options of %s", who);
		return -1;
	}
	if (s->has_timestamp && setsockopt(sk, SOL_TCP, TCP_TIMESTAMP, &s->timestamp, sizeof(s->timestamp))) {
		pr_perror("can't restore TCP_TIMESTAMP of %s", who);
		return -1;
	}
	return 0;
}

/* What was queued but never sent is queued again the normal way: out of repair for a moment. */
static int push_unsent(int sk, const TcpStreamEntry *s, int with_fin, const char *who)
{
	int off = TCP_REPAIR_OFF_NO_WP, on = 1;

	if (!s->unsent && !with_fin)
		return 0;
	if (s->unsent > s->outq.len) {
		pr_err("%s: %u bytes not sent of a queue of %zu\n", who, s->unsent, s->outq.len);
		return -1;
	}
	/* the window is still zero (TCP_REPAIR_WINDOW comes last): nothing goes out now */
	if (setsockopt(sk, SOL_TCP, TCP_REPAIR, &off, sizeof(off))) {
		pr_perror("can't leave repair mode on %s", who);
		return -1;
	}
	if (fill_queue(sk, -1, s->outq.data + s->outq.len - s->unsent, s->unsent, who))
		return -1;
	if (with_fin && shutdown(sk, SHUT_WR)) {
		pr_perror("can't queue the FIN of %s", who);
		return -1;
	}
	if (setsockopt(sk, SOL_TCP, TCP_REPAIR, &on, sizeof(on))) {
		pr_perror("can't enter repair mode on %s again", who);
		return -1;
	}
	return 0;
}

/* Our FIN: sent already (queued as sent, in repair with the send queue chosen) or still to send. */
static int our_fin(int sk, const TcpStreamEntry *s, const char *who)
{
	if (s->fin_unsent)
		return push_unsent(sk, s, 1, who);
	if (push_unsent(sk, s, 0, who) || set_opt(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", who))
		return -1;
	if (shutdown(sk, SHUT_WR)) {
		pr_perror("can't restore the FIN sent on %s", who);
		return -1;
	}
	return 0;
}

static int inject(const InetSkEntry *e, uint32_t seq, uint32_t ack, uint8_t flags, const char *who)
{
	struct inet_ep us, peer;

	/* from the peer to us; the lock lets it through (marked) */
	memset(&us, 0, sizeof(us));
	memset(&peer, 0, sizeof(peer));
	us.family = peer.family = e->family;
	memcpy(us.addr, e->src_addr.data, e->src_addr.len);
	memcpy(peer.addr, e->dst_addr.data, e->dst_addr.len);
	us.port = e->src_port;
	peer.port = e->dst_port;
	inet_ep_unmap(&us);
	inet_ep_unmap(&peer);
	if (inject_tcp(&peer, &us, seq, ack, flags, 0)) {
		pr_err("can't send %s the peer's %s\n", who, flags & TH_FIN ? "FIN" : "ACK");
		return -1;
	}
	return 0;
}

static int wait_state(int sk, int state, const char *who)
{
	struct tcp_info ti;
	socklen_t len;

	/* a segment on loopback is taken in by a softirq: it may take a moment */
	for (int i = 0; i < 1000; i++) {
		len = sizeof(ti);
		if (getsockopt(sk, SOL_TCP, TCP_INFO, &ti, &len)) {
			pr_perror("can't read TCP_INFO of %s", who);
			return -1;
		}
		if (ti.tcpi_state == state)
			return 0;
		usleep(1000);
	}
	pr_err("%s did not get to state %d (it is in %u)\n", who, state, ti.tcpi_state);
	return -1;
}

/* Half-closed states: our FIN by shutdown in repair, the peer's by a segment from its address. */
static int half_close(int sk, const InetSkEntry *e, uint32_t snd_una, const char *who)
{
	const TcpStreamEntry *s = e->stream;
	uint32_t peer_fin = s->inq_seq - 1;

	switch (e->state) {
	case TCP_ESTABLISHED:
		return push_unsent(sk, s, 0, who);
	case TCP_CLOSE_WAIT:
		if (inject(e, peer_fin, snd_una, TH_FIN | TH_ACK, who) || wait_state(sk, TCP_CLOSE_WAIT, who))
			return -1;
		return push_unsent(sk, s, 0, who);
	case TCP_FIN_WAIT1:
		return our_fin(sk, s, who);
	case TCP_FIN_WAIT2:
		/* the peer acknowledged our FIN */
		if (our_fin(sk, s, who) || inject(e, s->inq_seq, s->outq_seq, TH_ACK, who))
			return -1;
		return wait_state(sk, TCP_FIN_WAIT2, who);
	case TCP_CLOSING:
		if (our_fin(sk, s, who) || inject(e, peer_fin, snd_una, TH_FIN | TH_ACK, who))
			return -1;
		return wait_state(sk, TCP_CLOSING, who);
	case TCP_LAST_ACK:
		if (inject(e, peer_fin, snd_una, TH_FIN | TH_ACK, who) || wait_state(sk, TCP_CLOSE_WAIT, who))
			return -1;
		return our_fin(sk, s, who);
	}
	pr_err("%s: can't restore a connection in state %u\n", who, e->state);
	return -1;
}

int tcp_restore_stream(int sk, const InetSkEntry *e, const char *who)
{
	const TcpStreamEntry *s = e->stream;
	int on = 1, fb = 1, fb_saved = 0;
	uint32_t rcv_seq, snd_una;
	struct sockaddr_storage ss;
	struct inet_ep ep;
	socklen_t len;
	char a[64];

	if (s->inq.len + s->outq.len > MAX_STREAM_BYTES || s->unsent > s->outq.len) {
		pr_err("%s: a bad TCP stream record\n", who);
		return -1;
	}
	rcv_seq = s->inq_seq - fin_rcvd(e->state) - s->inq.len;
	snd_una = s->outq_seq - fin_sent(e->state) - s->outq.len;
	if (setsockopt(sk, SOL_TCP, TCP_REPAIR, &on, sizeof(on))) {
		pr_perror("can't put %s in repair mode", who);
		return -1;
	}
	if (sk_raise_bufs(sk, s->inq.len + s->outq.len, who))
		return -1;
	/* the address may not be configured (yet): bind anyway */
	{
		socklen_t l = sizeof(fb_saved);

		getsockopt(sk, SOL_IP, IP_FREEBIND, &fb_saved, &l);
		if (!fb_saved && setsockopt(sk, SOL_IP, IP_FREEBIND, &fb, sizeof(fb))) {
			pr_perror("can't set IP_FREEBIND on %s", who);
			return -1;
		}
	}
	memset(&ep, 0, sizeof(ep));
	ep.family = e->family;
	memcpy(ep.addr, e->src_addr.data, e->src_addr.len);
	ep.port = e->src_port;
	len = inet_ep_sockaddr(&ep, &ss);
	if (bind(sk, (struct sockaddr *)&ss, len)) {
		pr_perror("can't bind %s to %s", who, inet_ep_str(&ep, a, sizeof(a)));
		return -1;
	}
	if (!fb_saved && setsockopt(sk, SOL_IP, IP_FREEBIND, &fb_saved, sizeof(fb_saved))) {
		pr_perror("can't clear IP_FREEBIND on %s", who);
		return -1;
	}
	if (set_opt(sk, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE", who) ||
	    set_opt(sk, TCP_QUEUE_SEQ, rcv_seq, "TCP_QUEUE_SEQ", who) ||
	    set_opt(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", who) ||
	    set_opt(sk, TCP_QUEUE_SEQ, snd_una, "TCP_QUEUE_SEQ", who))
		return -1;
	memcpy(ep.addr, e->dst_addr.data, e->dst_addr.len);
	ep.port = e->dst_port;
	len = inet_ep_sockaddr(&ep, &ss);
	/*
	 * The MSS the kernel uses is computed at connect from the clamp, which
	 * TCP_REPAIR_OPTIONS sets only afterwards (too late: segments would stay
	 * at the 536 default): give the clamp as the user MSS for the connect.
	 * The kernel takes at most 32767 there (loopback has 65495).
	 */
	if (set_opt(sk, TCP_MAXSEG, user_mss(s), "TCP_MAXSEG", who))
		return -1;
	/* in repair mode: established at once, no packet */
	if (connect(sk, (struct sockaddr *)&ss, len)) {
		pr_perror("can't connect %s to %s in repair mode", who, inet_ep_str(&ep, a, sizeof(a)));
		return -1;
	}
	if (set_opt(sk, TCP_MAXSEG, 0, "TCP_MAXSEG", who))
		return -1;
	if (repair_options(sk, s, who))
		return -1;
	if (fill_queue(sk, TCP_RECV_QUEUE, s->inq.data, s->inq.len, who) ||
	    fill_queue(sk, TCP_SEND_QUEUE, s->outq.data, s->outq.len - s->unsent, who))
		return -1;
	if (half_close(sk, e, snd_una, who))
		return -1;
	/*
	 * shutdown(SHUT_RD) sends nothing: only the socket knows (reads give EOF,
	 * poll POLLRDHUP). A peer's FIN set it already in the states that got one.
	 */
	if (e->has_shutdown && (e->shutdown & RCV_SHUTDOWN) && !fin_rcvd(e->state) && shutdown(sk, SHUT_RD)) {
		pr_perror("can't shut the receive side of %s", who);
		return -1;
	}
	if (s->has_rcv_wup) {
		struct tcp_repair_window w = {
			.snd_wl1 = s->snd_wl1, .snd_wnd = s->snd_wnd, .max_window = s->max_window,
			.rcv_wnd = s->rcv_wnd, .rcv_wup = s->rcv_wup,
		};

		if (setsockopt(sk, SOL_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w))) {
			pr_perror("can't restore the window of %s", who);
			return -1;
		}
	}
	if (set_opt(sk, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE", who))
		return -1;
	pr_debug("%s: connection %u/%u restored in state %u\n", who, rcv_seq, snd_una, e->state);
	return 0;
}
