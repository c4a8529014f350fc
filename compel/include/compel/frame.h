/*
 * The heal frame as the kernel's x86-64 rt_sigreturn reads it (at %rsp - 8),
 * shared by the tool that writes it (compel/src/frame.c) and the blob code
 * that may adjust it before the rt_sigreturn (compel/blob/std.c).
 */
#ifndef COMPEL_FRAME_H
#define COMPEL_FRAME_H

#include <stdint.h>

struct compel_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

/*
 * How the thread's interrupted syscall was to end, kept in the frame's
 * siginfo room (rt_sigreturn does not read it). The frame re-enters the
 * syscall; a handled signal that is delivered at the rt_sigreturn would
 * have made the kernel return -EINTR instead (ERESTARTNOHAND, a restart
 * block, ERESTARTSYS without SA_RESTART): the heal code then makes the
 * frame return that, at @rip, as the kernel's own restart logic would.
 */
#define COMPEL_HEAL_MAGIC	0x6c61656863657270ULL
#define COMPEL_HEAL_CHECK	0x1	/* signals may be looked at (no strict mode, no filter) */

struct compel_heal_restart {
	uint64_t magic;
	int64_t code;		/* -ERESTART* the syscall returned, 0 if none */
	uint64_t rip;		/* just past its syscall insn */
	uint64_t flags;
};

struct compel_sigframe {
	uint64_t pretcode;
	struct {
		uint64_t uc_flags;
		uint64_t uc_link;
		struct {
			uint64_t sp;
			int32_t flags;
			int32_t pad;
			uint64_t size;
		} uc_stack;
		struct compel_sigcontext mc;
		uint64_t sigmask;
	} uc;
	union {
		uint8_t info[128];
		struct compel_heal_restart restart;
	};
};

#endif
