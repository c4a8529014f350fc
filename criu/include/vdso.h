#ifndef CR_VDSO_H
#define CR_VDSO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VDSO_MAX_SYMS	32
#define VDSO_NAME_LEN	40

struct vdso_symtab {
	struct {
		char name[VDSO_NAME_LEN];
		uint64_t off;
	} sym[VDSO_MAX_SYMS];
	int nr;
};

/* The functions a vDSO image (as mapped) exports. 0 or -1. */
int vdso_parse_symtab(const uint8_t *img, size_t len, struct vdso_symtab *t);
/* Read the vDSO of @pid at [start, end) and list its functions. 0 or -1. */
int vdso_read_task_syms(pid_t pid, uint64_t start, uint64_t end, struct vdso_symtab *t);

/* Bytes of one trampoline: movabs $target, %rax; jmp *%rax */
#define VDSO_TRAMP_SIZE	12
/*
 * Build a stand-in for an old vDSO of @len bytes: each of @old's functions
 * jumps to the same-named one of @new, which is mapped at @new_base.
 * Returns 0, or -1 naming a function the new vDSO lacks.
 */
int vdso_build_proxy(uint8_t *buf, size_t len, const struct vdso_symtab *old,
		     const struct vdso_symtab *new, uint64_t new_base);

#endif
