#ifndef CR_CLONE_VM_H
#define CR_CLONE_VM_H

#include <sys/types.h>

/*
 * A child sharing its parent's memory and signal handlers (pstree_entry.vm_from):
 * the parent's restore process clones it with its pid, CLONE_VM and CLONE_SIGHAND,
 * and waits while it runs fn(arg) on a stack of its own until its restorer,
 * once running from its own bootstrap area, sets *word to val and wakes it
 * (clone_vm_ready_word(); the two share criu's memory, so they must not run
 * criu's code at the same time). Returns its pid, or -1.
 */
pid_t clone_vm_child(pid_t pid, int flags, void (*fn)(void *), void *arg);
int32_t *clone_vm_ready_word(int32_t *val);

#endif
