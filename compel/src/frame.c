/*
 * The heal frame: an rt_sigframe on the task's own stack, written before
 * any register or mask of the task is changed, from which rt_sigreturn
 * gives the thread back its registers, FPU state and signal mask. Every
 * path compel sets a task on leads there if the tool is gone, so that a
 * dead tool (SIGKILL, OOM) leaves the task running as it was.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "compel/frame.h"
#include "internal.h"
#include "log.h"

#define UC_FP_XSTATE		0x1
#define UC_SIGCONTEXT_SS	0x2
#define UC_STRICT_RESTORE_SS	0x4
#define XSTATE_MAGIC1		0x46505853
#define XSTATE_MAGIC2		0x46505845
#define XSAVE_SW_BYTES		464
#define XSAVE_HDR_BV		512
#define XSAVE_HDR_END		576
#define XFEATURE_XTILEDATA	18
#define RED_ZONE		128

/*
 * rt_sigreturn takes an XSAVE image only up to the task's own user size
 * (else it falls back to the legacy part and ymm and up are lost); ptrace
 * hands out the biggest layout. Cut it after the last component in use.
 */
static uint32_t xstate_end(uint64_t features)
{
	unsigned int eax, ebx, ecx, edx;
	uint32_t end = XSAVE_HDR_END;

	for (int i = 2; i < 63; i++) {
		if (!(features & (1ULL << i)) || !__get_cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx))
			continue;
		if (ecx & 1)	/* supervisor state */
			continue;
		if (ebx + eax > end)
			end = ebx + eax;
	}
	return end;
}

/*
 * What the thread would run next if the kernel restarted its interrupted
 * syscall with no handler in the way: the frame carries that, as a signal
 * frame built after restart handling would. A restart block (nanosleep and
 * the like) can't survive rt_sigreturn, so such a syscall is entered again
 * from its start, with its arguments, which are still in place. How it was
 * to end goes along (frame.h): a caught signal blocked while we worked
 * must make it return -EINTR where the kernel would have (the blob's heal
 * code, or the tool while no blob is there: infect.c, signal_stop()).
 */
static void after_restart(struct parasite_ctl *ctl, const struct user_regs_struct *r,
			  struct compel_sigframe *f)
{
	struct compel_sigcontext *mc = &f->uc.mc;

	mc->rax = r->rax;
	mc->rip = r->rip;
	f->restart.magic = COMPEL_HEAL_MAGIC;
	/* the heal code's syscalls: killed in strict mode, maybe by a filter */
	f->restart.flags = ctl->strict_seccomp || ctl->seccomp_filter ? 0 : COMPEL_HEAL_CHECK;
	ctl->restart_code = 0;
	ctl->frame_eintr = 0;
	if ((long)r->orig_rax < 0)
		return;
	switch ((long)r->rax) {
	case -512:	/* ERESTARTSYS */
	case -513:	/* ERESTARTNOINTR */
	case -514:	/* ERESTARTNOHAND */
	case -516:	/* ERESTART_RESTARTBLOCK */
		f->restart.code = ctl->restart_code = (long)r->rax;
		f->restart.rip = r->rip;
		mc->rax = r->orig_rax;
		mc->rip = r->rip - 2;
		break;
	}
}

int compel_write_frame(struct parasite_ctl *ctl, unsigned long pretcode)
{
	const struct compel_thread_state *st = &ctl->orig;
	const struct user_regs_struct *r = &st->regs;
	uint64_t features = st->xfeatures, bv;
	unsigned long top, xaddr, faddr;
	uint32_t xsize;
	struct compel_sigframe *f;
	struct iovec local, remote;
	size_t len;
	uint8_t *buf;

	if (st->xsave_size < XSAVE_HDR_END) {
		cpr_err("task %d: its XSAVE area is too small (%zu)\n", ctl->pid, st->xsave_size);
		return -1;
	}
	memcpy(&bv, st->xsave + XSAVE_HDR_BV, 8);
	if (!(bv & (1ULL << XFEATURE_XTILEDATA)))
		features &= ~(1ULL << XFEATURE_XTILEDATA);
	xsize = xstate_end(features);
	if (xsize > st->xsave_size)
		xsize = st->xsave_size;

	/* where the kernel would put a signal frame: below the red zone */
	top = r->rsp - RED_ZONE;
	xaddr = (top - xsize - 4) & ~63UL;
	faddr = (xaddr - sizeof(*f)) & ~15UL;
	len = top - faddr;
	buf = calloc(1, len);
	if (!buf) {
		cpr_err("out of memory\n");
		return -1;
	}
	f = (struct compel_sigframe *)buf;
	f->pretcode = pretcode;
	f->uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	/* an invalid mode: rt_sigreturn then leaves the sigaltstack as it is */
	f->uc.uc_stack.flags = 3;
	f->uc.sigmask = st->sigmask;
	f->uc.mc = (struct compel_sigcontext){
		.r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11, .r12 = r->r12, .r13 = r->r13,
		.r14 = r->r14, .r15 = r->r15, .rdi = r->rdi, .rsi = r->rsi, .rbp = r->rbp, .rbx = r->rbx,
		.rdx = r->rdx, .rcx = r->rcx, .rsp = r->rsp, .eflags = r->eflags,
		.cs = r->cs, .ss = r->ss, .fpstate = xaddr,
	};
	after_restart(ctl, r, f);

	uint8_t *x = buf + (xaddr - faddr);
	uint32_t sw[5] = { XSTATE_MAGIC1, xsize + 4, 0, 0, xsize };
	uint32_t magic2 = XSTATE_MAGIC2;

	memcpy(x, st->xsave, xsize);
	bv &= features;
	memcpy(x + XSAVE_HDR_BV, &bv, 8);
	memset(x + XSAVE_SW_BYTES, 0, 48);
	memcpy(&sw[2], &features, 8);
	memcpy(x + XSAVE_SW_BYTES, sw, sizeof(sw));
	memcpy(x + xsize, &magic2, 4);

	local.iov_base = buf;
	local.iov_len = len;
	remote.iov_base = (void *)faddr;
	remote.iov_len = len;
	if (process_vm_writev(ctl->pid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
		cpr_perror("task %d: can't write its heal frame below its stack pointer 0x%llx", ctl->pid,
			   (unsigned long long)r->rsp);
		free(buf);
		return -1;
	}
	free(buf);
	ctl->frame = faddr;
	return 0;
}
