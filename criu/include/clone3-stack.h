/*
 * clone3 into a function on the child's new stack, for criu (clone-vm.c)
 * and the restorer blob alike: a child that shares our memory must not
 * return into our stack frames, so it calls @fn(@arg) straight from the
 * syscall and never returns (ud2 if it does).
 */
#ifndef CR_CLONE3_STACK_H
#define CR_CLONE3_STACK_H

#include <asm/unistd.h>

/* @ca: a struct clone_args of @size bytes. The child's id in the caller, or -errno. */
static inline long clone3_into(void *ca, unsigned long size, void (*fn)(void *), void *arg)
{
	register void (*r12)(void *) asm("r12") = fn;
	register void *r13 asm("r13") = arg;
	long ret;

	asm volatile("syscall\n"
		     "testq %%rax, %%rax\n"
		     "jnz 1f\n"
		     "movq %%r13, %%rdi\n"
		     "andq $-16, %%rsp\n"
		     "callq *%%r12\n"
		     "ud2\n"
		     "1:\n"
		     : "=a"(ret)
		     : "0"((long)__NR_clone3), "D"(ca), "S"(size), "r"(r12), "r"(r13)
		     : "rcx", "r11", "rdx", "memory");
	return ret;
}

#endif
