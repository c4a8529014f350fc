/*
 * Detector: ONE BPF iterator pass over all unix (or UDP) sockets of the
 * current netns. For each socket with a non-empty queue it emits a summary
 * (inode, socket cookie, number of skbs, bytes) and one record per
 * zero-length skb already marked peeked (its index and the byte offset
 * before it): exactly those a SO_PEEK_OFF peek loop cannot return.
 * bpf_loop() walks the queue, so verification cost does not grow with the bound.
 * Raw bpf() syscalls, no libbpf. Build: gcc -O1 -Wall -o detect detect.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "btf.h"

static struct bpf_insn prog[4096];
static int pc;
#define I(c, d, s, o, i) (prog[pc++] = (struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define MOV(d, s) I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOVI(d, i) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADDI(d, i) I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define ADD(d, s) I(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define RSHI(d, i) I(BPF_ALU64 | BPF_RSH | BPF_K, d, 0, 0, i)
#define ANDI(d, i) I(BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, i)
#define LDX(sz, d, s, o) I(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, s, o) I(BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define STI(sz, d, o, i) I(BPF_ST | BPF_MEM | (sz), d, 0, o, i)
#define CALL(f) I(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
static int fix_at[256], fix_lab[256], nfix, lab_pc[64];
#define JI(op, d, i, L) (fix_at[nfix] = pc, fix_lab[nfix++] = L, I(BPF_JMP | (op) | BPF_K, d, 0, 0, i))
#define JR(op, d, s, L) (fix_at[nfix] = pc, fix_lab[nfix++] = L, I(BPF_JMP | (op) | BPF_X, d, s, 0, 0))
#define JA(L) (fix_at[nfix] = pc, fix_lab[nfix++] = L, I(BPF_JMP | BPF_JA, 0, 0, 0, 0))
#define LABEL(L) (lab_pc[L] = pc)
enum { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP };

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

/* caller's loop context, on the main program's stack at C */
#define C (-80)
enum { C_SEQ = 0, C_HEAD = 8, C_CUR = 16, C_INO = 24, C_IDX = 32, C_NPE = 36, C_BYTES = 40, C_OVF = 48, C_COOKIE = 56 };
#define REC (-120) /* main's record */
struct rec {
	uint64_t ino, cookie;
	uint32_t type, idx;	/* type 1: peeked empty skb (idx: its index); 2: summary (idx: skb count) */
	uint64_t bytes;		/* 1: bytes before it; 2: bytes queued */
	uint32_t x, ovf;	/* 1: has fds (unix); 2: peeked empties */
};
enum { L_EXIT, L_NOSOCK, L_Q0END, L_Q1END, L_NOSUM, L_CB, L_RET1, L_NEXT, L_CNT, L_NOOVF0, L_NOOVF1 };

static int build(int udp, int maxn)
{
	long o_socket = off_of("sock", "sk_socket"), o_vfs = off_of("socket_alloc", "vfs_inode"),
	     o_ino = off_of("inode", "i_ino"), o_rq = off_of("sock", "sk_receive_queue"),
	     o_cookie = off_of("sock_common", "skc_cookie"), o_next = off_of("sk_buff", "next"),
	     o_len = off_of("sk_buff", "len"), o_cb = off_of("sk_buff", "cb"),
	     o_fp = udp ? 0 : off_of("unix_skb_parms", "fp"), o_reader = udp ? off_of("udp_sock", "reader_queue") : 0;
	int bs, sid = btf_find("sk_buff", BTF_KIND_STRUCT);
	long pbit = btf_member_bits(sid, "peeked", &bs);

	pc = nfix = 0;
	/* ---- main ---- */
	MOV(R6, R1);
	LDX(BPF_DW, R7, R6, 8);
	JI(BPF_JEQ, R7, 0, L_EXIT);
	for (int i = -120; i < 0; i += 8)
		STI(BPF_DW, FP, i, 0);
	LDX(BPF_DW, R1, R6, 0);
	LDX(BPF_DW, R1, R1, 0);
	STX(BPF_DW, FP, R1, C + C_SEQ);
	PR(C + C_COOKIE, 8, R7, o_cookie);
	PR(C + C_INO, 8, R7, o_socket);
	LDX(BPF_DW, R3, FP, C + C_INO);
	JI(BPF_JEQ, R3, 0, L_NOSOCK);
	ADDI(R3, o_vfs + o_ino);
	MOV(R1, FP); ADDI(R1, C + C_INO); MOVI(R2, 8); CALL(BPF_FUNC_probe_read_kernel);
	LABEL(L_NOSOCK);
	for (int q = 0; q < (udp ? 2 : 1); q++) {
		long qoff = (udp && q == 0) ? o_reader : o_rq;
		MOV(R1, R7); ADDI(R1, qoff);
		STX(BPF_DW, FP, R1, C + C_HEAD);
		PR(C + C_CUR, 8, R7, qoff + o_next);
		MOVI(R1, maxn);
		fix_at[nfix] = pc, fix_lab[nfix++] = L_CB;	/* ld_imm64 r2 = &callback */
		I(BPF_LD | BPF_DW | BPF_IMM, R2, BPF_PSEUDO_FUNC, 0, 0);
		I(0, 0, 0, 0, 0);
		MOV(R3, FP); ADDI(R3, C);
		MOVI(R4, 0);
		CALL(BPF_FUNC_loop);
		/* bound reached before the end: overflow */
		LDX(BPF_DW, R1, FP, C + C_CUR);
		LDX(BPF_DW, R2, FP, C + C_HEAD);
		JR(BPF_JEQ, R1, R2, q ? L_NOOVF1 : L_NOOVF0);
		STI(BPF_W, FP, C + C_OVF, 2);
		LABEL(q ? L_NOOVF1 : L_NOOVF0);
	}
	/* summary for a non-empty queue */
	LDX(BPF_W, R1, FP, C + C_IDX);
	JI(BPF_JEQ, R1, 0, L_NOSUM);
	STX(BPF_W, FP, R1, REC + 20);
	LDX(BPF_DW, R1, FP, C + C_INO);
	STX(BPF_DW, FP, R1, REC + 0);
	LDX(BPF_DW, R1, FP, C + C_COOKIE);
	STX(BPF_DW, FP, R1, REC + 8);
	STI(BPF_W, FP, REC + 16, 2);
	LDX(BPF_DW, R1, FP, C + C_BYTES);
	STX(BPF_DW, FP, R1, REC + 24);
	LDX(BPF_W, R1, FP, C + C_NPE);
	STX(BPF_W, FP, R1, REC + 32);
	LDX(BPF_W, R1, FP, C + C_OVF);
	STX(BPF_W, FP, R1, REC + 36);
	LDX(BPF_DW, R1, FP, C + C_SEQ);
	MOV(R2, FP); ADDI(R2, REC);
	MOVI(R3, sizeof(struct rec));
	CALL(BPF_FUNC_seq_write);
	LABEL(L_NOSUM);
	LABEL(L_EXIT);
	MOVI(R0, 0);
	EXIT();

	/* ---- callback(index, ctx) ---- */
	LABEL(L_CB);
	MOV(R6, R2);
	LDX(BPF_DW, R8, R6, C_CUR);
	LDX(BPF_DW, R1, R6, C_HEAD);
	JR(BPF_JEQ, R8, R1, L_RET1);
	JI(BPF_JEQ, R8, 0, L_RET1);
	STI(BPF_DW, FP, -8, 0);
	STI(BPF_DW, FP, -16, 0);
	PR(-8, 4, R8, o_len);
	PR(-16, 1, R8, pbit / 8);
	LDX(BPF_W, R2, FP, -8);
	JI(BPF_JNE, R2, 0, L_NEXT);
	LDX(BPF_B, R3, FP, -16);
	RSHI(R3, pbit % 8);
	ANDI(R3, 1);
	JI(BPF_JEQ, R3, 0, L_NEXT);
	/* a peeked empty skb: record it */
	for (int i = -56; i < -16; i += 8)
		STI(BPF_DW, FP, i, 0);
	LDX(BPF_DW, R1, R6, C_INO);
	STX(BPF_DW, FP, R1, -56);
	LDX(BPF_DW, R1, R6, C_COOKIE);
	STX(BPF_DW, FP, R1, -48);
	STI(BPF_W, FP, -40, 1);
	LDX(BPF_W, R1, R6, C_IDX);
	STX(BPF_W, FP, R1, -36);
	LDX(BPF_DW, R1, R6, C_BYTES);
	STX(BPF_DW, FP, R1, -32);
	if (!udp)
		PR(-24, 8, R8, o_cb + o_fp);	/* nonzero: carries fds */
	LDX(BPF_DW, R1, R6, C_SEQ);
	MOV(R2, FP); ADDI(R2, -56);
	MOVI(R3, sizeof(struct rec));
	CALL(BPF_FUNC_seq_write);
	JI(BPF_JEQ, R0, 0, L_CNT);
	STI(BPF_W, R6, C_OVF, 1);
	LABEL(L_CNT);
	LDX(BPF_W, R1, R6, C_NPE);
	ADDI(R1, 1);
	STX(BPF_W, R6, R1, C_NPE);
	LABEL(L_NEXT);
	LDX(BPF_W, R1, R6, C_IDX);
	ADDI(R1, 1);
	STX(BPF_W, R6, R1, C_IDX);
	LDX(BPF_DW, R1, R6, C_BYTES);
	LDX(BPF_W, R2, FP, -8);
	ADD(R1, R2);
	STX(BPF_DW, R6, R1, C_BYTES);
	PR(-8, 8, R8, o_next);
	LDX(BPF_DW, R1, FP, -8);
	STX(BPF_DW, R6, R1, C_CUR);
	MOVI(R0, 0);
	EXIT();
	LABEL(L_RET1);
	MOVI(R0, 1);
	EXIT();

	for (int i = 0; i < nfix; i++) {
		int rel = lab_pc[fix_lab[i]] - fix_at[i] - 1;
		if (prog[fix_at[i]].code == (BPF_LD | BPF_DW | BPF_IMM))
			prog[fix_at[i]].imm = rel;
		else
			prog[fix_at[i]].off = rel;
	}
	/* bpf_loop() callbacks need BTF func_info: a tiny program BTF (main and callback prototypes) */
	static const char strs[] = "\0int\0long\0cb\0main\0idx\0ctx";
	enum { S_INT = 1, S_LONG = 5, S_CB = 10, S_MAIN = 13, S_IDX = 18, S_CTX = 22 };
	uint32_t types[] = {
		/* 1 int */ S_INT, BTF_KIND_INT << 24, 4, (1u << 24) | 32,
		/* 2 long */ S_LONG, BTF_KIND_INT << 24, 8, 64,
		/* 3 void * */ 0, BTF_KIND_PTR << 24, 0,
		/* 4 int (long idx, void *ctx) */ 0, (BTF_KIND_FUNC_PROTO << 24) | 2, 1, S_IDX, 2, S_CTX, 3,
		/* 5 cb, static */ S_CB, BTF_KIND_FUNC << 24 | 0, 4,
		/* 6 int (void *ctx) */ 0, (BTF_KIND_FUNC_PROTO << 24) | 1, 1, S_CTX, 3,
		/* 7 main, global */ S_MAIN, BTF_KIND_FUNC << 24 | 1, 6,
	};
	static char blob[4096];
	struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(h),
				.type_off = 0, .type_len = sizeof(types), .str_off = sizeof(types), .str_len = sizeof(strs) };
	memcpy(blob, &h, sizeof(h));
	memcpy(blob + sizeof(h), types, sizeof(types));
	memcpy(blob + sizeof(h) + sizeof(types), strs, sizeof(strs));
	static char log[1 << 22];
	union bpf_attr a = { 0 };
	a.btf = (uintptr_t)blob;
	a.btf_size = sizeof(h) + sizeof(types) + sizeof(strs);
	a.btf_log_buf = (uintptr_t)log;
	a.btf_log_size = 65536;
	a.btf_log_level = 1;
	int btf_fd = syscall(SYS_bpf, BPF_BTF_LOAD, &a, sizeof(a));
	if (btf_fd < 0) {
		printf("BPF_BTF_LOAD: %s\n%s\n", strerror(errno), log);
		return -1;
	}
	struct bpf_func_info fi[2] = { { 0, 7 }, { lab_pc[L_CB], 5 } };
	memset(&a, 0, sizeof(a));
	a.prog_btf_fd = btf_fd;
	a.func_info = (uintptr_t)fi;
	a.func_info_cnt = 2;
	a.func_info_rec_size = sizeof(fi[0]);
	a.prog_type = BPF_PROG_TYPE_TRACING;
	a.expected_attach_type = BPF_TRACE_ITER;
	a.insns = (uintptr_t)prog;
	a.insn_cnt = pc;
	a.license = (uintptr_t) "GPL";
	a.attach_btf_id = btf_find(udp ? "bpf_iter_udp" : "bpf_iter_unix", BTF_KIND_FUNC);
	int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0) {
		int e = errno;
		a.log_buf = (uintptr_t)log;
		a.log_size = sizeof(log);
		a.log_level = 1;
		syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
		printf("BPF_PROG_LOAD: %s\n%s\n", strerror(e), log + (strlen(log) > 3000 ? strlen(log) - 3000 : 0));
		return -1;
	}
	return fd;
}

static int run(int udp, int maxn)
{
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int pfd = build(udp, maxn);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (pfd < 0)
		return -1;
	union bpf_attr a = { 0 };
	a.link_create.prog_fd = pfd;
	a.link_create.attach_type = BPF_TRACE_ITER;
	int lfd = syscall(SYS_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	memset(&a, 0, sizeof(a));
	a.iter_create.link_fd = lfd;
	int ifd = syscall(SYS_bpf, BPF_ITER_CREATE, &a, sizeof(a));
	static char out[1 << 22];
	int n = 0, r;
	while ((r = read(ifd, out + n, sizeof(out) - n)) > 0)
		n += r;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	printf(" %s pass: prog %d insns, load %.2f ms, iterate+read %.2f ms, %d bytes%s%s\n", udp ? "udp" : "unix", pc,
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
	       (t2.tv_sec - t1.tv_sec) * 1e3 + (t2.tv_nsec - t1.tv_nsec) / 1e6, n, r < 0 ? " read error: " : "",
	       r < 0 ? strerror(errno) : "");
	for (int i = 0; i + (int)sizeof(struct rec) <= n; i += sizeof(struct rec)) {
		struct rec *rc = (void *)(out + i);
		if (rc->type == 2)
			printf("   ino %lu cookie %lu: %u skbs, %lu bytes, %u peeked empty (unreadable by SO_PEEK_OFF)%s\n",
			       (unsigned long)rc->ino, (unsigned long)rc->cookie, rc->idx, (unsigned long)rc->bytes, rc->x,
			       rc->ovf ? " OVERFLOW" : "");
		else
			printf("   ino %lu: peeked empty skb #%u after %lu bytes%s\n", (unsigned long)rc->ino, rc->idx,
			       (unsigned long)rc->bytes, rc->x ? " (carries fds)" : "");
	}
	close(ifd);
	close(lfd);
	close(pfd);
	return 0;
}

static void peek_loop(int sk)
{
	char buf[64];
	int off = 0;
	for (;;) {
		setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
		ssize_t n = recv(sk, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			break;
		off += n;
	}
	off = -1;
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
}

static unsigned long ino(int fd)
{
	struct stat st;
	fstat(fd, &st);
	return st.st_ino;
}

int main(int argc, char **argv)
{
	int maxn = 1 << 20;
	btf_load();
	if (argc > 1) {	/* restore side: re-mark exactly the 2nd empty of 'a' '' 'b' '' by one peek at offset 2 */
		int s[2], off = 2;
		char b[4];
		socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
		send(s[0], "a", 1, 0);
		send(s[0], "", 0, 0);
		send(s[0], "b", 1, 0);
		send(s[0], "", 0, 0);
		setsockopt(s[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
		printf("remark: peek at offset 2 -> %zd; queue ino %lu:\n", recv(s[1], b, 4, MSG_PEEK | MSG_DONTWAIT), ino(s[1]));
		return run(0, maxn);
	}
	int a[2], b[2], u = socket(AF_INET, SOCK_DGRAM, 0), us = socket(AF_INET, SOCK_DGRAM, 0);
	char c;
	socketpair(AF_UNIX, SOCK_DGRAM, 0, a);
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, b);
	send(a[0], "", 0, 0);
	send(a[0], "a", 1, 0);
	send(a[0], "", 0, 0);
	send(a[0], "bb", 2, 0);
	send(a[0], "", 0, 0);
	recv(a[1], &c, 1, MSG_PEEK);	/* the task's own peek of the head */
	send(b[0], "xyz", 3, 0);
	send(b[0], "", 0, 0);		/* never peeked: fine */
	for (int i = 0; i < 240; i++)	/* a long queue: the peer is connected back, so no qlen limit */
		send(a[1], i % 2 ? "" : "z", i % 2 ? 0 : 1, MSG_DONTWAIT);
	peek_loop(a[0]);		/* a first dump of a[0]: marks its empties */
	struct sockaddr_in ua = { AF_INET, 0, { htonl(INADDR_LOOPBACK) } };
	socklen_t ul = sizeof(ua);
	bind(u, (void *)&ua, sizeof(ua));
	getsockname(u, (void *)&ua, &ul);
	sendto(us, "abc", 3, 0, (void *)&ua, ul);
	sendto(us, "", 0, 0, (void *)&ua, ul);
	sendto(us, "xy", 2, 0, (void *)&ua, ul);
	peek_loop(u);			/* a first dump */
	sendto(us, "", 0, 0, (void *)&ua, ul);	/* arrives after it: not peeked */
	printf("unix dgram a[1] ino %lu: '' 'a' '' 'bb' '', head peeked by the task\n", ino(a[1]));
	printf("unix dgram a[0] ino %lu: 240 alternating (as many as sndbuf allows) 'z'/'' , all peeked by a first dump\n", ino(a[0]));
	printf("seqpacket b[1] ino %lu: 'xyz' '' never peeked\n", ino(b[1]));
	printf("udp ino %lu: 'abc' '' 'xy' peeked by a first dump, then '' arrived\n", ino(u));
	run(0, maxn);
	run(1, maxn);
	return 0;
}
