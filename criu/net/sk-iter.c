/*
 * The datagram queues as the kernel holds them, seen by a BPF socket
 * iterator (bpf_iter_unix, bpf_iter_udp).
 *
 * Why: criu copies a datagram queue by peeking at a moving offset
 * (SO_PEEK_OFF). The kernel gets past a zero-length datagram at an offset
 * only by marking it peeked, and a peek at an offset skips one already
 * marked. So a zero-length datagram the task peeked at itself, or that an
 * earlier dump left running (-R) read, is invisible to the peeks. No
 * counter the kernel exposes counts a datagram queue (SIOCINQ, diag and
 * meminfo give bytes or memory); an iterator walks the queue itself.
 *
 * One pass per family over every socket of criu's network namespace,
 * made when the first queue needs it and kept for the dump: for each
 * socket a summary (its datagrams, bytes, how many empty ones are already
 * peeked) and one record per such datagram (its place, and what a peek
 * would have told: unix credentials, fds in flight, the sender's address;
 * UDP addresses from its headers).
 *
 * The program is built here in raw instructions (no libbpf, no compiler):
 * offsets come from the running kernel's BTF (/sys/kernel/btf/vmlinux).
 * bpf_loop() walks a queue, so verifying costs the same whatever its
 * length. The queues are read without their lock: the tree is frozen, so
 * nothing takes from them, and bpf_probe_read_kernel() survives whatever
 * changes at the tail.
 *
 * Needs CAP_BPF and CAP_PERFMON (in the initial user namespace), BTF, and
 * no lockdown of kernel reads; sees only the namespace criu is in.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sk-iter.h"
#include "util.h"

/* realloc() that frees the old block when it fails */
static void *xrealloc_free(void *p, size_t size)
{
	void *n = realloc(p, size);

	if (!n)
		free(p);
	return n;
}

/* ---- the kernel's BTF: struct member offsets and function ids ---- */

struct btf_index {
	char *raw;
	const struct btf_header *hdr;
	const struct btf_type **types;
	int nr;
};

static const char *btf_name(const struct btf_index *b, uint32_t off)
{
	return b->raw + b->hdr->hdr_len + b->hdr->str_off + off;
}

static void btf_free(struct btf_index *b)
{
	free(b->raw);
	free(b->types);
	memset(b, 0, sizeof(*b));
}

static int btf_open(struct btf_index *b, const char **why)
{
	size_t cap = 8 << 20, len = 0, tcap = 1 << 17;
	int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);
	const char *p, *end;
	ssize_t n;

	memset(b, 0, sizeof(*b));
	if (fd < 0) {
		*why = "no kernel BTF (/sys/kernel/btf/vmlinux)";
		return -1;
	}
	b->raw = malloc(cap);
	while (b->raw && (n = read(fd, b->raw + len, cap - len)) > 0) {
		len += n;
		if (len == cap)
			b->raw = xrealloc_free(b->raw, cap *= 2);
	}
	close(fd);
	b->types = malloc(tcap * sizeof(*b->types));
	if (!b->raw || !b->types || len < sizeof(*b->hdr))
		goto bad;
	b->hdr = (const void *)b->raw;
	if (b->hdr->magic != BTF_MAGIC || b->hdr->hdr_len + b->hdr->type_off + b->hdr->type_len > len ||
	    b->hdr->hdr_len + b->hdr->str_off + b->hdr->str_len > len)
		goto bad;
	p = b->raw + b->hdr->hdr_len + b->hdr->type_off;
	end = p + b->hdr->type_len;
	b->nr = 1;	/* id 0 is void */
	while (p + sizeof(struct btf_type) <= end) {
		const struct btf_type *t = (const void *)p;
		int vlen = BTF_INFO_VLEN(t->info);

		if (b->nr == (int)tcap) {
			b->types = xrealloc_free(b->types, (tcap *= 2) * sizeof(*b->types));
			if (!b->types)
				goto bad;
		}
		b->types[b->nr++] = t;
		p += sizeof(*t);
		switch (BTF_INFO_KIND(t->info)) {
		case BTF_KIND_INT: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG:
			p += 4;
			break;
		case BTF_KIND_ARRAY:
			p += sizeof(struct btf_array);
			break;
		case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_DATASEC: case BTF_KIND_ENUM64:
			p += vlen * 12;
			break;
		case BTF_KIND_ENUM: case BTF_KIND_FUNC_PROTO:
			p += vlen * 8;
			break;
		default:
			break;
		}
	}
	return 0;
bad:
	*why = "can't read the kernel BTF";
	btf_free(b);
	return -1;
}

static int btf_find(const struct btf_index *b, const char *name, int kind)
{
	for (int i = 1; i < b->nr; i++)
		if (BTF_INFO_KIND(b->types[i]->info) == kind && !strcmp(btf_name(b, b->types[i]->name_off), name))
			return i;
	return -1;
}

static int btf_strip(const struct btf_index *b, int id)
{
	for (int i = 0; i < 16 && id > 0 && id < b->nr; i++) {
		int k = BTF_INFO_KIND(b->types[id]->info);

		if (k != BTF_KIND_TYPEDEF && k != BTF_KIND_CONST && k != BTF_KIND_VOLATILE &&
		    k != BTF_KIND_RESTRICT && k != BTF_KIND_TYPE_TAG)
			break;
		id = b->types[id]->type;
	}
	return id;
}

/* The bit offset of member @m of struct/union @sid, through anonymous members; -1: none. */
static long btf_member_bits(const struct btf_index *b, int sid, const char *m, int depth)
{
	const struct btf_type *t = b->types[sid];
	const struct btf_member *mb = (const void *)(t + 1);
	int kflag = BTF_INFO_KFLAG(t->info);

	for (int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		long off = kflag ? BTF_MEMBER_BIT_OFFSET(mb[i].offset) : mb[i].offset;

		if (mb[i].name_off && !strcmp(btf_name(b, mb[i].name_off), m))
			return off;
		if (!mb[i].name_off && depth < 8) {
			int sub = btf_strip(b, mb[i].type), k;
			long r;

			if (sub <= 0 || sub >= b->nr)
				continue;
			k = BTF_INFO_KIND(b->types[sub]->info);
			if (k != BTF_KIND_STRUCT && k != BTF_KIND_UNION)
				continue;
			r = btf_member_bits(b, sub, m, depth + 1);
			if (r >= 0)
				return off + r;
		}
	}
	return -1;
}

/* Byte offset of @st.@m; -1 (and *@ok = 0) if this kernel has none. */
static long btf_off(const struct btf_index *b, const char *st, const char *m, int *ok)
{
	int sid = btf_find(b, st, BTF_KIND_STRUCT);
	long bits = sid < 0 ? -1 : btf_member_bits(b, sid, m, 0);

	if (bits < 0) {
		pr_debug("BTF: no %s.%s\n", st, m);
		*ok = 0;
		return 0;
	}
	return bits / 8;
}

/* ---- the program ---- */

static const char *iter_func[DGRAM_ITER_NR] = { "bpf_iter_unix", "bpf_iter_udp" };

enum { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP };

#define MAX_INSNS	512
#define MAX_LABELS	16

struct prog {
	struct bpf_insn insn[MAX_INSNS];
	int pc, fix_pc[64], fix_label[64], nr_fix, label[MAX_LABELS];
};

static void emit(struct prog *p, uint8_t code, int dst, int src, int16_t off, int32_t imm)
{
	if (p->pc < MAX_INSNS)
		p->insn[p->pc] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
	p->pc++;
}

#define MOV(d, s)		emit(p, BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOVI(d, i)		emit(p, BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADDI(d, i)		emit(p, BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define ADD(d, s)		emit(p, BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define ORI(d, i)		emit(p, BPF_ALU64 | BPF_OR | BPF_K, d, 0, 0, i)
#define MULI(d, i)		emit(p, BPF_ALU64 | BPF_MUL | BPF_K, d, 0, 0, i)
#define RSHI(d, i)		emit(p, BPF_ALU64 | BPF_RSH | BPF_K, d, 0, 0, i)
#define ANDI(d, i)		emit(p, BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, i)
#define LDX(sz, d, s, o)	emit(p, BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, s, o)	emit(p, BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define STI(sz, d, o, i)	emit(p, BPF_ST | BPF_MEM | (sz), d, 0, o, i)
#define CALL(f)			emit(p, BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT()			emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LABEL(l)		(p->label[l] = p->pc)

static void jump(struct prog *p, uint8_t code, int dst, int src, int32_t imm, int label)
{
	if (p->nr_fix == (int)ARRAY_SIZE(p->fix_pc))
		p->pc = MAX_INSNS;	/* too long: refused below */
	else {
		p->fix_pc[p->nr_fix] = p->pc;
		p->fix_label[p->nr_fix++] = label;
	}
	emit(p, code, dst, src, 0, imm);
}

#define JEQI(d, i, l)	jump(p, BPF_JMP | BPF_JEQ | BPF_K, d, 0, i, l)
#define JNEI(d, i, l)	jump(p, BPF_JMP | BPF_JNE | BPF_K, d, 0, i, l)
#define JLTI(d, i, l)	jump(p, BPF_JMP | BPF_JLT | BPF_K, d, 0, i, l)
#define JA(l)		jump(p, BPF_JMP | BPF_JA, 0, 0, 0, l)
#define JGEI(d, i, l)	jump(p, BPF_JMP | BPF_JGE | BPF_K, d, 0, i, l)
#define JEQ(d, s, l)	jump(p, BPF_JMP | BPF_JEQ | BPF_X, d, s, 0, l)
#define JNE(d, s, l)	jump(p, BPF_JMP | BPF_JNE | BPF_X, d, s, 0, l)
#define JGT(d, s, l)	jump(p, BPF_JMP | BPF_JGT | BPF_X, d, s, 0, l)

/* bpf_probe_read_kernel(fp + @dst, @size, @reg + @off) */
static void probe_read(struct prog *p, int dst, int size, int reg, long off)
{
	MOV(R3, reg);
	if (off)
		ADDI(R3, off);
	MOV(R1, FP);
	ADDI(R1, dst);
	MOVI(R2, size);
	CALL(BPF_FUNC_probe_read_kernel);
}

/*
 * What the program writes (bpf_seq_write), in host order. A summary per
 * socket, after the records of its empty datagrams already peeked.
 */
#define REC_EMPTY	1
#define REC_QUEUE	2
struct iter_rec {
	uint64_t ino;
	uint32_t type;
	uint32_t idx;		/* EMPTY: its place; QUEUE: datagrams */
	uint64_t bytes;		/* EMPTY: bytes before it; QUEUE: bytes queued */
	uint32_t nr_empty;	/* QUEUE */
	uint32_t overflow;	/* QUEUE: records not written, or the walk's bound reached */
	/* EMPTY only from here */
	uint64_t fp;		/* unix: its scm_fp_list (fds in flight) */
	uint64_t pid;		/* unix: its struct pid, 0: no credentials */
	uint32_t pid_level, pid_nr;	/* pid->level; its number in our pid namespace, 0: none */
	uint32_t uid, gid;
	uint16_t addr_len, nh;	/* unix: sender's address length; UDP: network header offset */
	uint16_t th, pad;	/* UDP: transport header offset */
	uint8_t addr[112];	/* unix: struct sockaddr_un; UDP: 40 bytes of IP header, 4 of UDP header at 40 */
};
#define QUEUE_REC_SIZE	32
#define OFF(f)		((int)offsetof(struct iter_rec, f))

/* overflow: a write failed, the walk's bound reached, empty ones past the window not written */
#define OVF_WRITE	1
#define OVF_BOUND	2
#define OVF_WINDOW	4
#define MAX_EMPTY_RECS	128		/* per socket: the iterator's buffer holds one socket's output whole */
#define MAX_SKBS	(1 << 20)	/* a queue walked no further: refused */

/* The main frame: the loop's context at CTX, the summary at SUM; the callback's record at REC. */
#define CTX	(-80)
enum { C_SEQ = 0, C_HEAD = 8, C_CUR = 16, C_INO = 24, C_IDX = 32, C_NPE = 36, C_BYTES = 40, C_OVF = 48 };
#define SUM	(-112)
#define REC	(-200)

enum { L_EXIT, L_CB, L_RET1, L_NEXT, L_CNT, L_WRITE, L_NOPID, L_NOADDR, L_OK0, L_OK1 };

struct offsets {
	long socket, vfs_inode, i_ino, rq, next, len, cb, peeked_bits, reader, head, nh, th, sk;
	long fp, cb_pid, cb_uid, cb_gid, pid_level, numbers, upid_nr, upid_ns, upid_size, thread_pid;
	long uaddr, ua_len, ua_name;
};

static int get_offsets(const struct btf_index *b, int kind, struct offsets *o)
{
	int ok = 1, sid = btf_find(b, "sk_buff", BTF_KIND_STRUCT);

	o->socket = btf_off(b, "sock", "sk_socket", &ok);
	o->vfs_inode = btf_off(b, "socket_alloc", "vfs_inode", &ok);
	o->i_ino = btf_off(b, "inode", "i_ino", &ok);
	o->rq = btf_off(b, "sock", "sk_receive_queue", &ok);
	o->next = btf_off(b, "sk_buff", "next", &ok);
	o->len = btf_off(b, "sk_buff", "len", &ok);
	o->cb = btf_off(b, "sk_buff", "cb", &ok);
	o->peeked_bits = sid < 0 ? -1 : btf_member_bits(b, sid, "peeked", 0);
	if (o->peeked_bits < 0)
		ok = 0;
	if (kind == DGRAM_ITER_UDP) {
		o->reader = btf_off(b, "udp_sock", "reader_queue", &ok);
		o->head = btf_off(b, "sk_buff", "head", &ok);
		o->nh = btf_off(b, "sk_buff", "network_header", &ok);
		o->th = btf_off(b, "sk_buff", "transport_header", &ok);
	} else {
		o->sk = btf_off(b, "sk_buff", "sk", &ok);
		o->fp = btf_off(b, "unix_skb_parms", "fp", &ok);
		o->cb_pid = btf_off(b, "unix_skb_parms", "pid", &ok);
		o->cb_uid = btf_off(b, "unix_skb_parms", "uid", &ok);
		o->cb_gid = btf_off(b, "unix_skb_parms", "gid", &ok);
		o->pid_level = btf_off(b, "pid", "level", &ok);
		o->numbers = btf_off(b, "pid", "numbers", &ok);
		o->upid_nr = btf_off(b, "upid", "nr", &ok);
		o->upid_ns = btf_off(b, "upid", "ns", &ok);
		o->thread_pid = btf_off(b, "task_struct", "thread_pid", &ok);
		sid = btf_find(b, "upid", BTF_KIND_STRUCT);
		o->upid_size = sid < 0 ? 0 : b->types[sid]->size;
		if (!o->upid_size)
			ok = 0;
		o->uaddr = btf_off(b, "unix_sock", "addr", &ok);
		o->ua_len = btf_off(b, "unix_address", "len", &ok);
		o->ua_name = btf_off(b, "unix_address", "name", &ok);
	}
	return ok ? 0 : -1;
}

/*
 * @only_ino: that socket only (0: all); @skip: its first @skip empty ones
 * already peeked are counted but not written (a socket's output has to fit
 * the iterator's buffer: MAX_EMPTY_RECS per pass).
 */
static void build(struct prog *p, int kind, const struct offsets *o, uint64_t only_ino, uint32_t skip)
{
	int udp = kind == DGRAM_ITER_UDP;

	memset(p, 0, sizeof(*p));
	/* main(ctx): ctx->meta at 0, ctx->sk at 8 (bpf_iter__unix, bpf_iter__udp) */
	MOV(R6, R1);
	LDX(BPF_DW, R7, R6, 8);
	JEQI(R7, 0, L_EXIT);	/* the end of the walk */
	for (int i = SUM; i < 0; i += 8)
		STI(BPF_DW, FP, i, 0);
	LDX(BPF_DW, R1, R6, 0);
	LDX(BPF_DW, R1, R1, 0);
	STX(BPF_DW, FP, R1, CTX + C_SEQ);
	probe_read(p, CTX + C_INO, 8, R7, o->socket);
	LDX(BPF_DW, R3, FP, CTX + C_INO);
	JEQI(R3, 0, L_EXIT);	/* no file: no task holds it */
	ADDI(R3, o->vfs_inode + o->i_ino);
	MOV(R1, FP);
	ADDI(R1, CTX + C_INO);
	MOVI(R2, 8);
	CALL(BPF_FUNC_probe_read_kernel);
	if (only_ino) {
		emit(p, BPF_LD | BPF_DW | BPF_IMM, R2, 0, 0, (uint32_t)only_ino);
		emit(p, 0, 0, 0, 0, (uint32_t)(only_ino >> 32));
		LDX(BPF_DW, R1, FP, CTX + C_INO);
		JNE(R1, R2, L_EXIT);
	}
	/* UDP reads its reader queue first, then what arrived since */
	for (int q = 0; q < (udp ? 2 : 1); q++) {
		long qoff = udp && q == 0 ? o->reader : o->rq;

		MOV(R1, R7);
		ADDI(R1, qoff);
		STX(BPF_DW, FP, R1, CTX + C_HEAD);
		probe_read(p, CTX + C_CUR, 8, R7, qoff + o->next);
		MOVI(R1, MAX_SKBS);
		p->fix_pc[p->nr_fix] = p->pc;	/* ld_imm64 r2 = the callback */
		p->fix_label[p->nr_fix++] = L_CB;
		emit(p, BPF_LD | BPF_DW | BPF_IMM, R2, BPF_PSEUDO_FUNC, 0, 0);
		emit(p, 0, 0, 0, 0, 0);
		MOV(R3, FP);
		ADDI(R3, CTX);
		MOVI(R4, 0);
		CALL(BPF_FUNC_loop);
		LDX(BPF_DW, R1, FP, CTX + C_CUR);
		LDX(BPF_DW, R2, FP, CTX + C_HEAD);
		JEQ(R1, R2, q ? L_OK1 : L_OK0);
		STI(BPF_W, FP, CTX + C_OVF, OVF_BOUND);	/* the bound, before the end of the queue */
		LABEL(q ? L_OK1 : L_OK0);
	}
	/* the summary, for every socket (one missing: not in this namespace's table) */
	LDX(BPF_DW, R1, FP, CTX + C_INO);
	STX(BPF_DW, FP, R1, SUM + OFF(ino));
	STI(BPF_W, FP, SUM + OFF(type), REC_QUEUE);
	LDX(BPF_W, R1, FP, CTX + C_IDX);
	STX(BPF_W, FP, R1, SUM + OFF(idx));
	LDX(BPF_DW, R1, FP, CTX + C_BYTES);
	STX(BPF_DW, FP, R1, SUM + OFF(bytes));
	LDX(BPF_W, R1, FP, CTX + C_NPE);
	STX(BPF_W, FP, R1, SUM + OFF(nr_empty));
	LDX(BPF_W, R1, FP, CTX + C_OVF);
	STX(BPF_W, FP, R1, SUM + OFF(overflow));
	LDX(BPF_DW, R1, FP, CTX + C_SEQ);
	MOV(R2, FP);
	ADDI(R2, SUM);
	MOVI(R3, QUEUE_REC_SIZE);
	CALL(BPF_FUNC_seq_write);
	LABEL(L_EXIT);
	MOVI(R0, 0);
	EXIT();

	/* callback(index, ctx): one skb; 1 ends the walk */
	LABEL(L_CB);
	MOV(R6, R2);
	LDX(BPF_DW, R8, R6, C_CUR);
	LDX(BPF_DW, R1, R6, C_HEAD);
	JEQ(R8, R1, L_RET1);
	JEQI(R8, 0, L_RET1);
	STI(BPF_DW, FP, -8, 0);
	STI(BPF_DW, FP, -16, 0);
	probe_read(p, -8, 4, R8, o->len);
	probe_read(p, -16, 1, R8, o->peeked_bits / 8);
	LDX(BPF_W, R2, FP, -8);
	JNEI(R2, 0, L_NEXT);
	LDX(BPF_B, R3, FP, -16);
	RSHI(R3, o->peeked_bits % 8);
	ANDI(R3, 1);
	JEQI(R3, 0, L_NEXT);
	/* empty and already peeked: a record of it */
	LDX(BPF_W, R1, R6, C_NPE);
	if (skip)
		JLTI(R1, skip, L_CNT);
	JGEI(R1, skip + MAX_EMPTY_RECS, L_WRITE);
	for (int i = REC; i < -16; i += 8)
		STI(BPF_DW, FP, i, 0);
	LDX(BPF_DW, R1, R6, C_INO);
	STX(BPF_DW, FP, R1, REC + OFF(ino));
	STI(BPF_W, FP, REC + OFF(type), REC_EMPTY);
	LDX(BPF_W, R1, R6, C_IDX);
	STX(BPF_W, FP, R1, REC + OFF(idx));
	LDX(BPF_DW, R1, R6, C_BYTES);
	STX(BPF_DW, FP, R1, REC + OFF(bytes));
	if (!udp) {
		probe_read(p, REC + OFF(fp), 8, R8, o->cb + o->fp);
		probe_read(p, REC + OFF(pid), 8, R8, o->cb + o->cb_pid);
		probe_read(p, REC + OFF(uid), 4, R8, o->cb + o->cb_uid);
		probe_read(p, REC + OFF(gid), 4, R8, o->cb + o->cb_gid);
		/*
		 * The sender's pid as the dump's peeks would get it (pid_vnr()):
		 * its number at the level of our pid namespace (criu dumps from
		 * inside the tree's), 0 if it isn't in ours. Temporaries in addr.
		 */
		LDX(BPF_DW, R9, FP, REC + OFF(pid));
		JEQI(R9, 0, L_NOPID);
		CALL(BPF_FUNC_get_current_task);
		probe_read(p, REC + OFF(addr), 8, R0, o->thread_pid);
		LDX(BPF_DW, R3, FP, REC + OFF(addr));
		probe_read(p, REC + OFF(addr) + 8, 4, R3, o->pid_level);
		LDX(BPF_DW, R3, FP, REC + OFF(addr));
		LDX(BPF_W, R1, FP, REC + OFF(addr) + 8);
		MULI(R1, o->upid_size);
		ADD(R3, R1);
		probe_read(p, REC + OFF(addr) + 16, 8, R3, o->numbers + o->upid_ns);	/* our pid namespace */
		probe_read(p, REC + OFF(pid_level), 4, R9, o->pid_level);
		LDX(BPF_W, R1, FP, REC + OFF(pid_level));
		LDX(BPF_W, R2, FP, REC + OFF(addr) + 8);
		JGT(R2, R1, L_NOPID);	/* deeper than the sender's */
		MOV(R3, R9);
		MULI(R2, o->upid_size);
		ADD(R3, R2);
		probe_read(p, REC + OFF(addr) + 24, 8, R3, o->numbers + o->upid_ns);
		LDX(BPF_DW, R1, FP, REC + OFF(addr) + 16);
		LDX(BPF_DW, R2, FP, REC + OFF(addr) + 24);
		JNE(R1, R2, L_NOPID);	/* a pid of another namespace at that level */
		LDX(BPF_W, R2, FP, REC + OFF(addr) + 8);
		MOV(R3, R9);
		MULI(R2, o->upid_size);
		ADD(R3, R2);
		probe_read(p, REC + OFF(pid_nr), 4, R3, o->numbers + o->upid_nr);
		LABEL(L_NOPID);
		for (int i = 0; i < 32; i += 8)
			STI(BPF_DW, FP, REC + OFF(addr) + i, 0);
		/* the sender's address: the sending socket's (skb->sk), as unix_copy_addr() reads it */
		probe_read(p, REC + OFF(addr), 8, R8, o->sk);
		LDX(BPF_DW, R9, FP, REC + OFF(addr));
		STI(BPF_DW, FP, REC + OFF(addr), 0);
		JEQI(R9, 0, L_NOADDR);
		probe_read(p, REC + OFF(addr), 8, R9, o->uaddr);
		LDX(BPF_DW, R9, FP, REC + OFF(addr));
		STI(BPF_DW, FP, REC + OFF(addr), 0);
		JEQI(R9, 0, L_NOADDR);
		probe_read(p, REC + OFF(addr_len), 2, R9, o->ua_len);
		probe_read(p, REC + OFF(addr), sizeof(struct sockaddr_un), R9, o->ua_name);
	} else {
		probe_read(p, REC + OFF(nh), 2, R8, o->nh);
		probe_read(p, REC + OFF(th), 2, R8, o->th);
		probe_read(p, REC + OFF(addr), 8, R8, o->head);
		LDX(BPF_DW, R9, FP, REC + OFF(addr));
		STI(BPF_DW, FP, REC + OFF(addr), 0);
		JEQI(R9, 0, L_NOADDR);
		LDX(BPF_H, R1, FP, REC + OFF(nh));
		ADD(R1, R9);
		probe_read(p, REC + OFF(addr), 40, R1, 0);
		LDX(BPF_H, R1, FP, REC + OFF(th));
		ADD(R1, R9);
		probe_read(p, REC + OFF(addr) + 40, 4, R1, 0);
		STI(BPF_H, FP, REC + OFF(addr_len), 1);	/* headers read */
	}
	LABEL(L_NOADDR);
	LDX(BPF_DW, R1, R6, C_SEQ);
	MOV(R2, FP);
	ADDI(R2, REC);
	MOVI(R3, sizeof(struct iter_rec));
	CALL(BPF_FUNC_seq_write);
	JEQI(R0, 0, L_CNT);
	STI(BPF_W, R6, C_OVF, OVF_WRITE);
	JA(L_CNT);
	LABEL(L_WRITE);
	LDX(BPF_W, R1, R6, C_OVF);
	ORI(R1, OVF_WINDOW);
	STX(BPF_W, R6, R1, C_OVF);
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
	probe_read(p, -8, 8, R8, o->next);
	LDX(BPF_DW, R1, FP, -8);
	STX(BPF_DW, R6, R1, C_CUR);
	MOVI(R0, 0);
	EXIT();
	LABEL(L_RET1);
	MOVI(R0, 1);
	EXIT();

	for (int i = 0; i < p->nr_fix; i++) {
		struct bpf_insn *in = &p->insn[p->fix_pc[i]];
		int rel = p->label[p->fix_label[i]] - p->fix_pc[i] - 1;

		if (in->code == (BPF_LD | BPF_DW | BPF_IMM))
			in->imm = rel;
		else
			in->off = rel;
	}
}

static long bpf_sys(int cmd, union bpf_attr *a)
{
	return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

/*
 * bpf_loop() wants the callback described (BTF func_info): a program BTF
 * of two functions, main(void *ctx) global and cb(long, void *) static.
 */
static int load_prog_btf(void)
{
	static const char strs[] = "\0int\0long\0cb\0main\0idx\0ctx";
	enum { S_INT = 1, S_LONG = 5, S_CB = 10, S_MAIN = 13, S_IDX = 18, S_CTX = 22 };
	static const uint32_t types[] = {
		/* 1 */ S_INT, BTF_KIND_INT << 24, 4, (1u << 24) | 32,
		/* 2 */ S_LONG, BTF_KIND_INT << 24, 8, 64,
		/* 3 void * */ 0, BTF_KIND_PTR << 24, 0,
		/* 4 int (long idx, void *ctx) */ 0, (BTF_KIND_FUNC_PROTO << 24) | 2, 1, S_IDX, 2, S_CTX, 3,
		/* 5 cb, static */ S_CB, BTF_KIND_FUNC << 24, 4,
		/* 6 int (void *ctx) */ 0, (BTF_KIND_FUNC_PROTO << 24) | 1, 1, S_CTX, 3,
		/* 7 main, global */ S_MAIN, BTF_KIND_FUNC << 24, 6,
	};
	struct btf_header h = { .magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(h),
				.type_len = sizeof(types), .str_off = sizeof(types), .str_len = sizeof(strs) };
	char blob[sizeof(h) + sizeof(types) + sizeof(strs)];
	union bpf_attr a;

	memcpy(blob, &h, sizeof(h));
	memcpy(blob + sizeof(h), types, sizeof(types));
	memcpy(blob + sizeof(h) + sizeof(types), strs, sizeof(strs));
	memset(&a, 0, sizeof(a));
	a.btf = (uintptr_t)blob;
	a.btf_size = sizeof(blob);
	return bpf_sys(BPF_BTF_LOAD, &a);
}

/* ---- a pass, and what it found ---- */

struct pass {
	uint64_t netns;
	uint64_t only_ino;		/* a pass for that socket only, */
	uint32_t skip;			/* its empty ones already peeked from this one */
	int state;			/* 0: not made; 1: done; -1: failed (@why) */
	const char *why;
	struct dgram_queue *q;		/* by inode */
	size_t nr;
};

static struct pass passes[DGRAM_ITER_NR];
static int no_iter_said;


static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static const char *errno_why(int e)
{
	if (e == EPERM)
		return "not allowed to load a BPF iterator (CAP_BPF and CAP_PERFMON in the initial user namespace "
		       "are needed; lockdown forbids it too)";
	if (e == ENOSYS)
		return "no bpf() in this kernel";
	return "the kernel refused criu's BPF socket iterator";
}

/*
 * What the programs need of the kernel's BTF, read once per process (the
 * kernel doesn't change meanwhile): parsing it is most of a pass's cost.
 */
static struct {
	int ready;
	struct offsets o[DGRAM_ITER_NR];
	int attach[DGRAM_ITER_NR], bad[DGRAM_ITER_NR];
	const char *why;
} kbtf;

static int kernel_offsets(const char **why)
{
	struct btf_index b;

	if (kbtf.ready) {
		*why = kbtf.why;
		return kbtf.ready < 0 ? -1 : 0;
	}
	if (btf_open(&b, &kbtf.why)) {
		kbtf.ready = -1;
		*why = kbtf.why;
		return -1;
	}
	for (int kind = 0; kind < DGRAM_ITER_NR; kind++) {
		kbtf.attach[kind] = btf_find(&b, iter_func[kind], BTF_KIND_FUNC);
		kbtf.bad[kind] = get_offsets(&b, kind, &kbtf.o[kind]);
	}
	btf_free(&b);
	kbtf.ready = 1;
	return 0;
}

/* Load the program of @kind; its fd, or -1 with @why. */
static int load(int kind, uint64_t only_ino, uint32_t skip, const char **why, double *load_ms)
{
	static char log[1 << 16];
	struct offsets o;
	struct prog *p;
	union bpf_attr a;
	struct bpf_func_info fi[2];
	struct timespec t0;
	int btf_fd, fd, attach, e;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (kernel_offsets(why))
		return -1;
	p = calloc(1, sizeof(*p));
	if (!p || kbtf.attach[kind] < 0 || kbtf.bad[kind]) {
		*why = p ? "the kernel has no socket iterator of that kind, or its structures are not as criu reads them"
			 : "out of memory";
		free(p);
		return -1;
	}
	o = kbtf.o[kind];
	attach = kbtf.attach[kind];
	build(p, kind, &o, only_ino, skip);
	if (p->pc > MAX_INSNS) {
		*why = "criu's iterator program is too long (a bug)";
		free(p);
		return -1;
	}
	btf_fd = load_prog_btf();
	if (btf_fd < 0) {
		*why = errno_why(errno);
		free(p);
		return -1;
	}
	fi[0] = (struct bpf_func_info){ 0, 7 };
	fi[1] = (struct bpf_func_info){ p->label[L_CB], 5 };
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_TRACING;
	a.expected_attach_type = BPF_TRACE_ITER;
	a.attach_btf_id = attach;
	a.insns = (uintptr_t)p->insn;
	a.insn_cnt = p->pc;
	a.license = (uintptr_t)"GPL";
	a.prog_btf_fd = btf_fd;
	a.func_info = (uintptr_t)fi;
	a.func_info_cnt = 2;
	a.func_info_rec_size = sizeof(fi[0]);
	fd = bpf_sys(BPF_PROG_LOAD, &a);
	e = errno;
	if (fd < 0 && e != EPERM) {
		/* again, for the verifier's reasons in our log */
		a.log_buf = (uintptr_t)log;
		a.log_size = sizeof(log);
		a.log_level = 1;
		log[0] = '\0';
		bpf_sys(BPF_PROG_LOAD, &a);
		pr_debug("%s program refused: %s\n%s\n", iter_func[kind], strerror(e),
			 log + (strlen(log) > 2000 ? strlen(log) - 2000 : 0));
	}
	close(btf_fd);
	free(p);
	if (fd < 0) {
		*why = errno_why(e);
		return -1;
	}
	if (load_ms)
		*load_ms = ms_since(&t0);
	return fd;
}

/* Run it: the whole output in @*out (@*len bytes); 0 or -1 with @why. */
static int run(int prog, char **out, size_t *len, const char **why)
{
	union bpf_attr a;
	size_t cap = 1 << 16;
	int link, it = -1, ret = -1;
	ssize_t n;

	*len = 0;
	*out = NULL;
	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = prog;
	a.link_create.attach_type = BPF_TRACE_ITER;
	link = bpf_sys(BPF_LINK_CREATE, &a);
	if (link >= 0) {
		memset(&a, 0, sizeof(a));
		a.iter_create.link_fd = link;
		it = bpf_sys(BPF_ITER_CREATE, &a);
	}
	if (it < 0) {
		*why = errno_why(errno);
		goto out;
	}
	*out = malloc(cap);
	while (*out) {
		n = read(it, *out + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why = "reading criu's BPF socket iterator failed";
			pr_perror("reading the socket iterator");
			goto out;
		}
		if (n == 0) {
			ret = 0;
			break;
		}
		*len += n;
		if (cap - *len < 65536)
			*out = xrealloc_free(*out, cap *= 2);
	}
	if (!*out)
		*why = "out of memory";
out:
	if (ret) {
		free(*out);
		*out = NULL;
	}
	if (it >= 0)
		close(it);
	if (link >= 0)
		close(link);
	return ret;
}

static void fill_empty(int kind, const struct iter_rec *r, struct dgram_empty *d)
{
	memset(d, 0, sizeof(*d));
	d->idx = r->idx;
	d->before = r->bytes;
	if (kind == DGRAM_ITER_UNIX) {
		d->nr_fds = r->fp ? 1 : 0;
		/* as a peek: a sender outside our pid namespace reads as pid 0, taken for no credentials */
		d->has_cred = r->pid && r->pid_nr;
		d->pid = r->pid_nr;
		d->uid = r->uid;
		d->gid = r->gid;
		if (r->addr_len >= offsetof(struct sockaddr_un, sun_path) && r->addr_len <= sizeof(d->src)) {
			memcpy(&d->src, r->addr, r->addr_len);
			d->srclen = r->addr_len;
		}
		return;
	}
	if (!r->addr_len)
		return;
	if ((r->addr[0] >> 4) == 4) {
		d->v4 = 1;
		memcpy(d->saddr, r->addr + 12, 4);
		memcpy(d->daddr, r->addr + 16, 4);
	} else if ((r->addr[0] >> 4) == 6) {
		memcpy(d->saddr, r->addr + 8, 16);
		memcpy(d->daddr, r->addr + 24, 16);
	} else {
		return;
	}
	memcpy(&d->sport, r->addr + 40, 2);
	d->sport = ntohs(d->sport);
	d->has_addr = 1;
}

static int cmp_queue(const void *a, const void *b)
{
	const struct dgram_queue *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void pass_free(struct pass *ps)
{
	for (size_t i = 0; i < ps->nr; i++)
		free(ps->q[i].empty);
	free(ps->q);
	memset(ps, 0, sizeof(*ps));
}

/* The output, records of empty datagrams first and a socket's summary after them. */
static int parse(int kind, struct pass *ps, const char *out, size_t len)
{
	struct dgram_empty *pend = NULL;
	size_t nr_pend = 0, cap = 0, want;

	for (size_t i = 0; i + QUEUE_REC_SIZE <= len;) {
		struct iter_rec r;

		memset(&r, 0, sizeof(r));
		memcpy(&r, out + i, QUEUE_REC_SIZE);
		if (r.type == REC_EMPTY) {
			if (i + sizeof(r) > len)
				break;
			memcpy(&r, out + i, sizeof(r));
			i += sizeof(r);
			pend = xrealloc_free(pend, (nr_pend + 1) * sizeof(*pend));
			if (!pend)
				return -1;
			fill_empty(kind, &r, &pend[nr_pend++]);
			continue;
		}
		i += QUEUE_REC_SIZE;
		if (r.type != REC_QUEUE)
			return -1;
		if (ps->nr == cap) {
			ps->q = xrealloc_free(ps->q, (cap = cap ? cap * 2 : 256) * sizeof(*ps->q));
			if (!ps->q) {
				free(pend);
				return -1;
			}
		}
		/* the records of a pass: its window's (all, but MAX_EMPTY_RECS at most, past @skip) */
		want = r.nr_empty > ps->skip ? r.nr_empty - ps->skip : 0;
		if (want > MAX_EMPTY_RECS)
			want = MAX_EMPTY_RECS;
		/* nr_empty: all of them; only nr_pend in @empty while overflow is set (callers refuse it) */
		ps->q[ps->nr] = (struct dgram_queue){ .ino = r.ino, .nr_skbs = r.idx, .bytes = r.bytes,
						      .nr_empty = r.nr_empty,
						      .overflow = r.overflow | (nr_pend != want ? OVF_WRITE : 0) |
								  (nr_pend != r.nr_empty ? OVF_WINDOW : 0),
						      .empty = pend };
		ps->nr++;
		pend = NULL;
		nr_pend = 0;
	}
	free(pend);
	if (ps->nr)
		qsort(ps->q, ps->nr, sizeof(*ps->q), cmp_queue);
	return 0;
}

static uint64_t our_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : st.st_ino;
}

static int make_pass(int kind, struct pass *ps, double *load_ms, double *run_ms)
{
	struct timespec t0;
	char *out;
	size_t len;
	int prog;

	ps->netns = our_netns();
	prog = load(kind, ps->only_ino, ps->skip, &ps->why, load_ms);
	if (prog < 0)
		return ps->state = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (run(prog, &out, &len, &ps->why)) {
		close(prog);
		return ps->state = -1;
	}
	close(prog);
	if (parse(kind, ps, out, len)) {
		free(out);
		pass_free(ps);
		ps->why = "criu's BPF socket iterator wrote something criu can't read (a bug)";
		return ps->state = -1;
	}
	free(out);
	if (run_ms)
		*run_ms = ms_since(&t0);
	return ps->state = 1;
}

/*
 * More empty datagrams already peeked than a pass writes of a socket (the
 * iterator's buffer holds one socket's output whole): the rest by passes
 * of that socket alone, MAX_EMPTY_RECS more each. 0, or -1 (left as it is).
 */
static int more_empties(int kind, struct dgram_queue *q)
{
	struct dgram_empty *all = NULL;
	uint32_t n = q->nr_empty;

	if (q->overflow != OVF_WINDOW || n > (1U << 16))
		return -1;
	all = malloc(n * sizeof(*all));
	if (!all)
		return -1;
	memcpy(all, q->empty, MAX_EMPTY_RECS * sizeof(*all));
	for (uint32_t done = MAX_EMPTY_RECS; done < n;) {
		struct pass ps = { .only_ino = q->ino, .skip = done };
		struct dgram_queue *w;
		uint32_t got;

		if (make_pass(kind, &ps, NULL, NULL) < 0 || ps.nr != 1)
			goto fail;
		w = &ps.q[0];
		got = n - done < MAX_EMPTY_RECS ? n - done : MAX_EMPTY_RECS;
		/* the same queue (the tree is frozen): its count and these empty ones */
		if (w->nr_empty != n || (w->overflow & ~OVF_WINDOW) || w->nr_skbs < q->nr_skbs || !w->empty) {
			pass_free(&ps);
			goto fail;
		}
		memcpy(all + done, w->empty, got * sizeof(*all));
		done += got;
		pass_free(&ps);
	}
	free(q->empty);
	q->empty = all;
	q->overflow = 0;
	return 0;
fail:
	free(all);
	return -1;
}

int dgram_iter_queue(int kind, uint64_t ino, const struct dgram_queue **q, const char **why)
{
	struct pass *ps = &passes[kind];
	struct dgram_queue key = { .ino = ino };
	double load_ms = 0, run_ms = 0;

	if (ps->state && ps->netns != our_netns())
		pass_free(ps);
	if (!ps->state) {
		if (make_pass(kind, ps, &load_ms, &run_ms) > 0)
			pr_info("%s pass: %zu sockets, load %.2f ms, run %.2f ms\n", iter_func[kind], ps->nr, load_ms,
				run_ms);
	}
	if (ps->state < 0) {
		*why = ps->why;
		if (!no_iter_said) {
			/* once: every datagram queue is refused for it */
			print_on_level(LOG_ERROR, "No datagram queue iterator (%s): a socket with datagrams queued "
				       "can't be dumped (it could hold an empty one already peeked)\n", ps->why);
			no_iter_said = 1;
		}
		return -1;
	}
	*q = ps->nr ? bsearch(&key, ps->q, ps->nr, sizeof(key), cmp_queue) : NULL;
	if (*q && (*q)->overflow == OVF_WINDOW && more_empties(kind, (struct dgram_queue *)*q) == 0)
		pr_info("%s: %u empty datagrams already peeked on socket %lu, by %u passes\n", iter_func[kind],
			(*q)->nr_empty, (unsigned long)ino, ((*q)->nr_empty + MAX_EMPTY_RECS - 1) / MAX_EMPTY_RECS);
	return *q ? 1 : 0;
}

void dgram_iter_reset(void)
{
	for (int i = 0; i < DGRAM_ITER_NR; i++)
		pass_free(&passes[i]);
	no_iter_said = 0;
}

int dgram_iter_probe(const char **why, double *load_ms, double *run_ms)
{
	struct pass ps;
	int ret = 1;

	for (int kind = 0; kind < DGRAM_ITER_NR && ret > 0; kind++) {
		memset(&ps, 0, sizeof(ps));
		if (make_pass(kind, &ps, load_ms ? &load_ms[kind] : NULL, run_ms ? &run_ms[kind] : NULL) < 0) {
			*why = ps.why;
			ret = 0;
		}
		pass_free(&ps);
	}
	return ret;
}
