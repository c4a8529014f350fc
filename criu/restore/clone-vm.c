// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cloning a restore process that shares its parent's memory (CLONE_VM |
 * CLONE_SIGHAND, see pstree_entry.vm_from). It runs criu's restore code
 * (fds, fs, session) in the parent's address space, on a stack of its own,
 * while the parent waits: the two share the heap, errno and every global,
 * so only one of them may be in criu's code at a time. The child says so
 * when it is about to enter its restorer, which runs from its own
 * bootstrap area; the parent's restorer leaves that area in place.
 */
#include <errno.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clone-vm.h"
#include "clone3-stack.h"
#include "log.h"

#define VM_CHILD_STACK	(8 << 20)

enum { VM_GONE, VM_RUNNING, VM_READY };

/* Cleared by the kernel (CLONE_CHILD_CLEARTID) if the child dies before it is ready. */
static volatile int32_t vm_state;

pid_t clone_vm_child(pid_t pid, int flags, void (*fn)(void *), void *arg)
{
	struct clone_args ca;
	void *stack;
	long ret;

	/* left behind: the parent's restorer unmaps it with the rest of our memory */
	stack = mmap(NULL, VM_CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		     -1, 0);
	if (stack == MAP_FAILED) {
		pr_perror("can't map a stack for %d", pid);
		return -1;
	}
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_VM | CLONE_SIGHAND | CLONE_CHILD_CLEARTID | flags;
	ca.child_tid = (uintptr_t)&vm_state;
	ca.exit_signal = SIGCHLD;
	ca.stack = (uintptr_t)stack;
	ca.stack_size = VM_CHILD_STACK;
	ca.set_tid = (uintptr_t)&pid;
	ca.set_tid_size = 1;
	vm_state = VM_RUNNING;
	ret = clone3_into(&ca, sizeof(ca), fn, arg);
	if (ret < 0) {
		if (ret == -EEXIST)
			pr_err("can't restore: pid %d is in use by another process\n", pid);
		else
			pr_err("clone3 of %d sharing our memory: %s\n", pid, strerror(-ret));
		munmap(stack, VM_CHILD_STACK);
		return -1;
	}
	while (vm_state == VM_RUNNING)
		syscall(SYS_futex, &vm_state, FUTEX_WAIT, VM_RUNNING, NULL, NULL, 0);
	if (vm_state != VM_READY) {
		pr_err("restore of %d, which shares our memory, failed before its restorer\n", pid);
		return -1;
	}
	return ret;
}

/* Set by the child's restorer: the child may not touch our stack or libc once it has. */
int32_t *clone_vm_ready_word(int32_t *val)
{
	*val = VM_READY;
	return (int32_t *)&vm_state;
}
