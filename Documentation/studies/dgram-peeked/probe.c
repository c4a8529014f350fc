/*
 * Probe: zero-length datagrams already peeked are skipped by SO_PEEK_OFF
 * peeks; what else can see them? Unix dgram and UDP on loopback.
 * Build: gcc -O1 -Wall -o probe probe.c ; run as root.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "btf.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

static unsigned long ino_of(int fd)
{
	struct stat st;
	fstat(fd, &st);
	return st.st_ino;
}

/* the tool's algorithm: peek at a moving SO_PEEK_OFF */
static void peek_loop(int sk, const char *tag)
{
	int off = 0;
	char buf[256], ctl[256];

	printf("  peek loop (%s):", tag);
	for (int i = 0; i < 50; i++) {
		struct sockaddr_storage ss;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &ss, .msg_namelen = sizeof(ss), .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
		ssize_t n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			printf(" [end: %s]", strerror(errno));
			break;
		}
		int nfds = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_type == SCM_RIGHTS && c->cmsg_level == SOL_SOCKET) {
				nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (int j = 0; j < nfds; j++)
					close(((int *)CMSG_DATA(c))[j]);
			}
		printf(" len=%zd%s", n, nfds ? "+fd" : "");
		off += n;
	}
	int m1 = -1;
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &m1, sizeof(m1));
	printf("\n");
}

static void peek_offsets(int sk)
{
	char buf[256];
	printf("  single peeks at SO_PEEK_OFF = -1,0..6:");
	for (int off = -1; off <= 6; off++) {
		setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
		ssize_t n = recv(sk, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		printf(" [%d]->%zd", off, n);
	}
	int m1 = -1;
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &m1, sizeof(m1));
	printf("\n");
}

static void meminfo(int sk, const char *tag)
{
	uint32_t mi[SK_MEMINFO_VARS] = { 0 };
	socklen_t l = sizeof(mi);
	int inq = -1, outq = -1;
	getsockopt(sk, SOL_SOCKET, SO_MEMINFO, mi, &l);
	ioctl(sk, SIOCINQ, &inq);
	ioctl(sk, SIOCOUTQ, &outq);
	printf("  %s: SIOCINQ=%d SIOCOUTQ=%d SO_MEMINFO rmem_alloc=%u wmem_alloc=%u fwd_alloc=%u wmem_queued=%u drops=%u\n",
	       tag, inq, outq, mi[SK_MEMINFO_RMEM_ALLOC], mi[SK_MEMINFO_WMEM_ALLOC], mi[SK_MEMINFO_FWD_ALLOC],
	       mi[SK_MEMINFO_WMEM_QUEUED], mi[SK_MEMINFO_DROPS]);
}

static void fdinfo(int fd)
{
	char p[64], b[1024];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	int f = open(p, O_RDONLY);
	int n = read(f, b, sizeof(b) - 1);
	close(f);
	b[n > 0 ? n : 0] = 0;
	for (char *s = strtok(b, "\n"); s; s = strtok(NULL, "\n"))
		if (strncmp(s, "pos", 3) && strncmp(s, "flags", 5) && strncmp(s, "mnt_id", 6) && strncmp(s, "ino", 3))
			printf("  fdinfo: %s\n", s);
}

static void unix_diag(unsigned long ino)
{
	int nl = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = { { sizeof(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0 },
		  { AF_UNIX, 0, 0, -1, ino, UDIAG_SHOW_RQLEN | UDIAG_SHOW_MEMINFO, { -1U, -1U } } };
	char buf[8192];
	send(nl, &req, sizeof(req), 0);
	int n = recv(nl, buf, sizeof(buf), 0);
	struct nlmsghdr *h = (void *)buf;
	if (n <= 0 || h->nlmsg_type != SOCK_DIAG_BY_FAMILY) {
		printf("  unix_diag: failed\n");
		close(nl);
		return;
	}
	struct unix_diag_msg *m = NLMSG_DATA(h);
	struct rtattr *a = (void *)(m + 1);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	printf("  unix_diag:");
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == UNIX_DIAG_RQLEN) {
			struct unix_diag_rqlen *q = RTA_DATA(a);
			printf(" RQLEN rqueue=%u wqueue=%u", q->udiag_rqueue, q->udiag_wqueue);
		}
		if (a->rta_type == UNIX_DIAG_MEMINFO) {
			uint32_t *mi = RTA_DATA(a);
			printf(" MEMINFO rmem=%u wmem=%u", mi[SK_MEMINFO_RMEM_ALLOC], mi[SK_MEMINFO_WMEM_ALLOC]);
		}
	}
	printf("\n");
	close(nl);
}

static void udp_diag(unsigned long ino)
{
	int nl = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = { { sizeof(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		  { .sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_UDP, .idiag_ext = 1 << (INET_DIAG_SKMEMINFO - 1),
		    .idiag_states = -1 } };
	char buf[32768];
	send(nl, &req, sizeof(req), 0);
	for (;;) {
		int n = recv(nl, buf, sizeof(buf), 0);
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				goto done;
			struct inet_diag_msg *m = NLMSG_DATA(h);
			if (m->idiag_inode != ino)
				continue;
			printf("  inet_diag: idiag_rqueue=%u", m->idiag_rqueue);
			struct rtattr *a = (void *)(m + 1);
			int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
				if (a->rta_type == INET_DIAG_SKMEMINFO) {
					uint32_t *mi = RTA_DATA(a);
					printf(" SKMEMINFO rmem=%u fwd=%u drops=%u", mi[SK_MEMINFO_RMEM_ALLOC],
					       mi[SK_MEMINFO_FWD_ALLOC], mi[SK_MEMINFO_DROPS]);
				}
			printf("\n");
		}
	}
done:
	close(nl);
}

/* ---------- BPF iterator, raw bpf() syscalls, hand-assembled ---------- */
static struct bpf_insn prog[4096];
static int pc;
#define I(c, d, s, o, i) (prog[pc++] = (struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV(d, s) I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOVI(d, i) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADDI(d, i) I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define ADD(d, s) I(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define LDX(sz, d, s, o) I(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, s, o) I(BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define STI(sz, d, o, i) I(BPF_ST | BPF_MEM | (sz), d, 0, o, i)
#define CALL(f) I(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* jumps to labels: recorded and patched */
static int fix_at[256], fix_lab[256], nfix, lab_pc[64];
#define JI(op, d, i, L) (fix_at[nfix] = pc, fix_lab[nfix++] = L, I(BPF_JMP | (op) | BPF_K, d, 0, 0, i))
#define JR(op, d, s, L) (fix_at[nfix] = pc, fix_lab[nfix++] = L, I(BPF_JMP | (op) | BPF_X, d, s, 0, 0))
#define JA(L) (fix_at[nfix] = pc, fix_lab[nfix++] = L, I(BPF_JMP | BPF_JA, 0, 0, 0, 0))
#define LABEL(L) (lab_pc[L] = pc)
#define R1 1
#define R2 2
#define R3 3
#define R6 6
#define R7 7
#define R8 8
#define R9 9
#define FP 10
#define RB (-160) /* record: fp-160 .. fp-17, 144 bytes */
#define RECSZ 144
static int MAXREC = 200;
__attribute__((constructor)) static void maxrec_env(void) { if (getenv("MAXREC")) MAXREC = atoi(getenv("MAXREC")); }
/* probe_read_kernel(fp+dst, sz, reg+off) */
static void PR(int dst, int sz, int reg, long off)
{
	MOV(R3, reg);
	if (off)
		ADDI(R3, off);
	MOV(R1, FP);
	ADDI(R1, dst);
	MOVI(R2, sz);
	CALL(BPF_FUNC_probe_read_kernel);
}

enum { L_EXIT, L_Q0, L_Q0END, L_Q1, L_Q1END, L_TRAIL, L_W0, L_W1, L_NA0, L_NA1, L_P, L_F };

struct rec {
	uint64_t skb;
	uint32_t len, data_len;
	uint32_t truesize, flagbyte;
	uint8_t cb[32];
	uint64_t sender;
	uint64_t x64;		/* unix: sender's unix_address*; udp: skb->head */
	uint32_t x72;		/* unix: addr len; udp: transport_header | network_header<<16 */
	uint8_t x76[40];	/* unix: sun_path start; udp: IP header */
	uint8_t x116[8];	/* udp: UDP header */
	uint32_t qid, idx;
	uint16_t fpcount;
	uint8_t pad[10];
};

static int bpf_walk(int udp, unsigned long ino)
{
	long o_socket = off_of("sock", "sk_socket"), o_vfs = off_of("socket_alloc", "vfs_inode"),
	     o_ino = off_of("inode", "i_ino"), o_rq = off_of("sock", "sk_receive_queue"),
	     o_next = off_of("sk_buff", "next"), o_len = off_of("sk_buff", "len"),
	     o_true = off_of("sk_buff", "truesize"), o_cb = off_of("sk_buff", "cb"), o_sk = off_of("sk_buff", "sk"),
	     o_head = off_of("sk_buff", "head"), o_th = off_of("sk_buff", "transport_header"),
	     o_nh = off_of("sk_buff", "network_header"), o_uaddr = off_of("unix_sock", "addr"),
	     o_ualen = off_of("unix_address", "len"), o_uaname = off_of("unix_address", "name"),
	     o_reader = udp ? off_of("udp_sock", "reader_queue") : 0;
	long o_cbpid = off_of("unix_skb_parms", "pid"), o_cbfp = off_of("unix_skb_parms", "fp"),
	     o_cbuid = off_of("unix_skb_parms", "uid"), o_plevel = off_of("pid", "level"),
	     o_pnr = off_of("pid", "numbers") + off_of("upid", "nr"), o_fpcount = off_of("scm_fp_list", "count");
	int bs = 0, sid = btf_find("sk_buff", BTF_KIND_STRUCT);
	long peek_bits = btf_member_bits(sid, "peeked", &bs);
	printf("  BTF: sock.sk_receive_queue=%ld sk_buff.len=%ld .peeked=bit %ld (size %d) .cb=%ld%s", o_rq, o_len,
	       peek_bits, bs, o_cb, udp ? "" : "\n");
	if (udp)
		printf(" udp_sock.reader_queue=%ld\n", o_reader);

	pc = nfix = 0;
	MOV(R6, R1);
	LDX(BPF_DW, R7, R6, 8);		/* unix_sk / udp_sk */
	JI(BPF_JEQ, R7, 0, L_EXIT);
	LDX(BPF_DW, R1, R6, 0);		/* meta */
	LDX(BPF_DW, R1, R1, 0);		/* meta->seq */
	STX(BPF_DW, FP, R1, -8);
	PR(-16, 8, R7, o_socket);
	LDX(BPF_DW, R3, FP, -16);
	JI(BPF_JEQ, R3, 0, L_EXIT);
	ADDI(R3, o_vfs + o_ino);
	MOV(R1, FP); ADDI(R1, -16); MOVI(R2, 8); CALL(BPF_FUNC_probe_read_kernel);
	LDX(BPF_DW, R1, FP, -16);
	/* ld_imm64 r2 = ino */
	I(BPF_LD | BPF_DW | BPF_IMM, R2, 0, 0, (uint32_t)ino);
	I(0, 0, 0, 0, (uint32_t)(ino >> 32));
	JR(BPF_JNE, R1, R2, L_EXIT);
	MOVI(R9, 0);
	for (int q = 0; q < (udp ? 2 : 1); q++) {
		long qoff = (udp && q == 0) ? o_reader : o_rq;
		int LQ = q ? L_Q1 : L_Q0, LQE = q ? L_Q1END : L_Q0END, LW = q ? L_W1 : L_W0, LNA = q ? L_NA1 : L_NA0;
		PR(-16, 8, R7, qoff + o_next);
		LABEL(LQ);
		LDX(BPF_DW, R8, FP, -16);
		MOV(R1, R7); ADDI(R1, qoff);
		JR(BPF_JEQ, R8, R1, LQE);
		JI(BPF_JEQ, R8, 0, LQE);
		JI(BPF_JGE, R9, MAXREC, L_TRAIL);
		for (int i = 0; i < RECSZ; i += 8)
			STI(BPF_DW, FP, RB + i, 0);
		STX(BPF_DW, FP, R8, RB);
		PR(RB + 8, 8, R8, o_len);
		PR(RB + 16, 4, R8, o_true);
		PR(RB + 20, 1, R8, peek_bits / 8);
		PR(RB + 24, 32, R8, o_cb);
		PR(RB + 56, 8, R8, o_sk);
		if (!udp) {
			LDX(BPF_DW, R3, FP, RB + 24 + o_cbpid);
			JI(BPF_JEQ, R3, 0, L_P);
			STX(BPF_DW, FP, R3, -168);
			PR(RB + 116, 4, R3, o_plevel);
			LDX(BPF_DW, R3, FP, -168);
			PR(RB + 120, 4, R3, o_pnr);
			LABEL(L_P);
			LDX(BPF_DW, R3, FP, RB + 24 + o_cbfp);
			JI(BPF_JEQ, R3, 0, L_F);
			PR(RB + 132, 2, R3, o_fpcount);
			LABEL(L_F);
			LDX(BPF_DW, R3, FP, RB + 56);
			JI(BPF_JEQ, R3, 0, LW);
			PR(RB + 64, 8, R3, o_uaddr);
			LDX(BPF_DW, R3, FP, RB + 64);
			JI(BPF_JEQ, R3, 0, LW);
			STX(BPF_DW, FP, R3, -168);
			PR(RB + 72, 4, R3, o_ualen);
			LDX(BPF_DW, R3, FP, -168);
			PR(RB + 76, 40, R3, o_uaname);
		} else {
			PR(RB + 64, 8, R8, o_head);
			PR(RB + 72, 2, R8, o_th);
			PR(RB + 74, 2, R8, o_nh);
			LDX(BPF_DW, R3, FP, RB + 64);
			JI(BPF_JEQ, R3, 0, LW);
			LDX(BPF_H, R1, FP, RB + 74);
			ADD(R3, R1);
			PR(RB + 76, 40, R3, 0);
			LDX(BPF_DW, R3, FP, RB + 64);
			LDX(BPF_H, R1, FP, RB + 72);
			ADD(R3, R1);
			PR(RB + 116, 8, R3, 0);
		}
		LABEL(LW);
		STI(BPF_W, FP, RB + 124, q);
		STX(BPF_W, FP, R9, RB + 128);
		LDX(BPF_DW, R1, FP, -8);
		MOV(R2, FP); ADDI(R2, RB);
		MOVI(R3, RECSZ);
		CALL(BPF_FUNC_seq_write);
		PR(-16, 8, R8, o_next);
		ADDI(R9, 1);
		JA(LQ);
		LABEL(LQE);
		(void)LNA;
	}
	LABEL(L_TRAIL);		/* trailer: skb=0, qid=0xffff, idx=count */
	for (int i = 0; i < RECSZ; i += 8)
		STI(BPF_DW, FP, RB + i, 0);
	STI(BPF_W, FP, RB + 124, 0xffff);
	STX(BPF_W, FP, R9, RB + 128);
	LDX(BPF_DW, R1, FP, -8);
	MOV(R2, FP); ADDI(R2, RB);
	MOVI(R3, RECSZ);
	CALL(BPF_FUNC_seq_write);
	LABEL(L_EXIT);
	MOVI(0, 0);
	EXIT();
	for (int i = 0; i < nfix; i++)
		prog[fix_at[i]].off = lab_pc[fix_lab[i]] - fix_at[i] - 1;

	static char log[1 << 20];
	union bpf_attr a = { 0 };
	a.prog_type = BPF_PROG_TYPE_TRACING;
	a.expected_attach_type = BPF_TRACE_ITER;
	a.insns = (uintptr_t)prog;
	a.insn_cnt = pc;
	a.license = (uintptr_t) "GPL";
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	a.attach_btf_id = btf_find(udp ? "bpf_iter_udp" : "bpf_iter_unix", BTF_KIND_FUNC);
	a.log_level = 0;
	a.log_buf = 0;
	a.log_size = 0;
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int pfd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (pfd < 0) {
		a.log_level = 1; a.log_buf = (uintptr_t)log; a.log_size = sizeof(log);
		syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
		printf("  BPF_PROG_LOAD: %s\n%s\n", strerror(errno), log);
		return -1;
	}
	printf("  BPF prog: %d insns loaded", pc);
	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = pfd;
	a.link_create.attach_type = BPF_TRACE_ITER;
	int lfd = syscall(SYS_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	if (lfd < 0) {
		printf("\n  BPF_LINK_CREATE: %s\n", strerror(errno));
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.iter_create.link_fd = lfd;
	int ifd = syscall(SYS_bpf, BPF_ITER_CREATE, &a, sizeof(a));
	if (ifd < 0) {
		printf("\n  BPF_ITER_CREATE: %s\n", strerror(errno));
		return -1;
	}
	static char out[1 << 20];
	int n = 0, r;
	while ((r = read(ifd, out + n, sizeof(out) - n)) > 0)
		n += r;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	printf(" [load %.2f ms, link+iter+read %.2f ms]", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
	       (t2.tv_sec - t1.tv_sec) * 1e3 + (t2.tv_nsec - t1.tv_nsec) / 1e6);
	if (r < 0)
		printf(" read: %s", strerror(errno));
	printf(", %d bytes out\n", n);
	for (int i = 0; i + RECSZ <= n; i += RECSZ) {
		struct rec *rc = (void *)(out + i);
		if (rc->qid == 0xffff) {
			printf("  BPF: %u skbs%s\n", rc->idx, rc->idx >= MAXREC ? " (truncated)" : "");
			continue;
		}
		int peeked = (rc->flagbyte >> (peek_bits % 8)) & 1;
		printf("  BPF skb q%u #%u len=%u data_len=%u truesize=%u peeked=%d", rc->qid, rc->idx, rc->len,
		       rc->data_len, rc->truesize, peeked);
		if (!udp) {
			uint64_t pid, fp;
			uint32_t uid, gid;
			memcpy(&pid, rc->cb + o_cbpid, 8);
			memcpy(&uid, rc->cb + o_cbuid, 4);
			memcpy(&gid, rc->cb + off_of("unix_skb_parms", "gid"), 4);
			memcpy(&fp, rc->cb + o_cbfp, 8);
			printf(" cred: pid=%s", pid ? "" : "none");
			if (pid)
				printf("%u(level %u)", *(uint32_t *)(rc->x116 + 4), *(uint32_t *)rc->x116);
			printf(" uid=%d gid=%d fds=%u sender_addr_len=%u name=", (int)uid, (int)gid,
			       fp ? rc->fpcount : 0, rc->x72);
			for (unsigned j = 2; j < rc->x72 && j < 40; j++)
				putchar(rc->x76[j] >= 32 && rc->x76[j] < 127 ? rc->x76[j] : '@');
		} else {
			struct in_addr s;
			memcpy(&s, rc->x76 + 12, 4);
			printf(" src=%s:%u dst_port=%u", inet_ntoa(s), ntohs(*(uint16_t *)rc->x116),
			       ntohs(*(uint16_t *)(rc->x116 + 2)));
		}
		printf("\n");
	}
	close(ifd);
	close(lfd);
	close(pfd);
	return 0;
}

static void report(int r, int udp, const char *tag, int *senders, int ns)
{
	printf(" state %s\n", tag);
	meminfo(r, "receiver");
	for (int i = 0; i < ns; i++)
		meminfo(senders[i], "sender");
	if (udp)
		udp_diag(ino_of(r));
	else
		unix_diag(ino_of(r));
	fdinfo(r);
}

#include <sched.h>
#include <signal.h>
static int netns_test(void)
{
	int pp[2];
	unsigned long ino;
	pipe(pp);
	pid_t c = fork();
	if (!c) {
		int sp[2];
		unshare(CLONE_NEWNET);
		socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
		send(sp[0], "", 0, 0);
		send(sp[0], "q", 1, 0);
		char b[4];
		recv(sp[1], b, sizeof(b), MSG_PEEK); /* the task's own peek marks the empty head */
		ino = ino_of(sp[1]);
		write(pp[1], &ino, sizeof(ino));
		pause();
		_exit(0);
	}
	read(pp[0], &ino, sizeof(ino));
	printf("== socket in a child netns, iterator made in ours:\n");
	bpf_walk(0, ino);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", c);
	int ns = open(path, O_RDONLY), self = open("/proc/self/ns/net", O_RDONLY);
	setns(ns, CLONE_NEWNET);
	printf("== same, after setns() into the child's netns:\n");
	bpf_walk(0, ino);
	setns(self, CLONE_NEWNET);
	kill(c, SIGKILL);
	return 0;
}

int main(int argc, char **argv)
{
	if (btf_load()) {
		perror("btf");
		return 1;
	}
	if (argc > 1)
		return netns_test();
	/* ---------------- unix dgram ---------------- */
	printf("== unix SOCK_DGRAM: queue m0 'abc'(S1) m1 ''(S1) m2 ''+fd(S2) m3 'xy'(S2) m4 ''(S1)\n");
	int r = socket(AF_UNIX, SOCK_DGRAM, 0), s1 = socket(AF_UNIX, SOCK_DGRAM, 0), s2 = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un ra = { AF_UNIX, "\0zdg-R" }, s1a = { AF_UNIX, "\0zdg-S1" };
	socklen_t al = offsetof(struct sockaddr_un, sun_path) + 6;
	bind(r, (void *)&ra, al);
	bind(s1, (void *)&s1a, offsetof(struct sockaddr_un, sun_path) + 7);
	int snd[2] = { s1, s2 };
	report(r, 0, "empty queue", snd, 2);
	sendto(s1, "abc", 3, 0, (void *)&ra, al);
	report(r, 0, "after 'abc'", snd, 2);
	sendto(s1, "", 0, 0, (void *)&ra, al);
	report(r, 0, "after 1 empty", snd, 2);
	{
		int nfd = open("/dev/null", O_RDONLY);
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr a;
		} c;
		struct msghdr mh = { .msg_name = &ra, .msg_namelen = al, .msg_control = c.b, .msg_controllen = sizeof(c.b) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &nfd, sizeof(int));
		if (sendmsg(s2, &mh, 0) < 0)
			perror("sendmsg fd");
		close(nfd);
	}
	sendto(s2, "xy", 2, 0, (void *)&ra, al);
	sendto(s1, "", 0, 0, (void *)&ra, al);
	{	/* m5: '' from a sender with SO_PASSCRED, uid/gid changed via setresuid is not needed: pid shows */
		int s3 = socket(AF_UNIX, SOCK_DGRAM, 0), one = 1;
		setsockopt(s3, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
		sendto(s3, "", 0, 0, (void *)&ra, al);
		printf(" m5 '' from a SO_PASSCRED sender, our pid %d\n", getpid());
	}
	report(r, 0, "all 6 queued", snd, 2);
	peek_loop(r, "dump 1");
	peek_loop(r, "dump 2");
	peek_offsets(r);
	report(r, 0, "after peeks", snd, 2);
	bpf_walk(0, ino_of(r));

	/* ---------------- seqpacket (socketpair) ---------------- */
	printf("== unix SOCK_SEQPACKET pair: 'abc' '' 'xy' ''\n");
	int sp[2];
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
	send(sp[0], "abc", 3, 0);
	send(sp[0], "", 0, 0);
	send(sp[0], "xy", 2, 0);
	send(sp[0], "", 0, 0);
	report(sp[1], 0, "4 queued", sp, 1);
	peek_loop(sp[1], "dump 1");
	peek_loop(sp[1], "dump 2");
	bpf_walk(0, ino_of(sp[1]));

	/* ---------------- UDP ---------------- */
	printf("== UDP 127.0.0.1: 'abc' '' 'xy' ''\n");
	int u = socket(AF_INET, SOCK_DGRAM, 0), us = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = { AF_INET, 0, { htonl(INADDR_LOOPBACK) } };
	socklen_t ul = sizeof(ua);
	bind(u, (void *)&ua, sizeof(ua));
	getsockname(u, (void *)&ua, &ul);
	report(u, 1, "empty", &us, 1);
	sendto(us, "abc", 3, 0, (void *)&ua, sizeof(ua));
	report(u, 1, "after 'abc'", &us, 1);
	sendto(us, "", 0, 0, (void *)&ua, sizeof(ua));
	report(u, 1, "after 1 empty", &us, 1);
	sendto(us, "xy", 2, 0, (void *)&ua, sizeof(ua));
	sendto(us, "", 0, 0, (void *)&ua, sizeof(ua));
	report(u, 1, "4 queued", &us, 1);
	peek_loop(u, "dump 1");
	peek_loop(u, "dump 2");
	peek_offsets(u);
	bpf_walk(1, ino_of(u));
	/* a real recv moves skbs from sk_receive_queue to reader_queue: walk again */
	{
		char b[8];
		recv(u, b, sizeof(b), MSG_DONTWAIT);
		printf(" after one recv (took 'abc'):\n");
		peek_loop(u, "dump 3");
		peek_offsets(u);
		bpf_walk(1, ino_of(u));
	}
	/* big queue: 300 empty UDP datagrams */
	{
		int big = 8 << 20;
		struct timespec t0, t1;
		setsockopt(u, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
		for (int i = 0; i < 300; i++)
			sendto(us, "", 0, 0, (void *)&ua, sizeof(ua));
		printf("== UDP with 300 more empty datagrams, MAXREC=200 (144-byte records):\n");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		bpf_walk(1, ino_of(u));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("  (load+iterate+read: %.1f ms)\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
		MAXREC = 400;
		printf("== same, MAXREC=400 (output per socket 57 KB > the 32 KB seq buffer?):\n");
		bpf_walk(1, ino_of(u));
	}
	return 0;
}
