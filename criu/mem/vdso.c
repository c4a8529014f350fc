/*
 * The vDSO. On the same kernel the restorer just moves the restoring
 * process's vDSO to where the task had it. When the layouts differ (another
 * kernel), the task's vDSO address gets a proxy instead: one trampoline per
 * exported function, jumping into the new vDSO mapped elsewhere. Programs
 * keep the function pointers they resolved at start-up, so this is enough.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "vdso.h"

static const void *in_img(const uint8_t *img, size_t len, uint64_t off, uint64_t size)
{
	if (off > len || size > len - off)
		return NULL;
	return img + off;
}

/* The vDSO is linked at 0 (or a small base): addresses map to offsets via PT_LOAD. */
static int64_t vaddr_to_off(const Elf64_Phdr *ph, int n, uint64_t vaddr)
{
	for (int i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && vaddr >= ph[i].p_vaddr && vaddr < ph[i].p_vaddr + ph[i].p_memsz)
			return vaddr - ph[i].p_vaddr + ph[i].p_offset;
	return -1;
}

int vdso_parse_symtab(const uint8_t *img, size_t len, struct vdso_symtab *t)
{
	const Elf64_Ehdr *eh = in_img(img, len, 0, sizeof(*eh));
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	uint64_t symtab = 0, strtab = 0, strsz = 0, hash = 0;
	int64_t sym_off, str_off, hash_off;
	uint32_t nsyms;
	size_t ndyn = 0;

	memset(t, 0, sizeof(*t));
	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64) {
		pr_err("vDSO: not an ELF64 image\n");
		return -1;
	}
	ph = in_img(img, len, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(*ph));
	if (!ph) {
		pr_err("vDSO: bad program headers\n");
		return -1;
	}
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC) {
			dyn = in_img(img, len, ph[i].p_offset, ph[i].p_filesz);
			ndyn = ph[i].p_filesz / sizeof(*dyn);
		}
	if (!dyn) {
		pr_err("vDSO: no dynamic section\n");
		return -1;
	}
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		switch (dyn[i].d_tag) {
		case DT_SYMTAB: symtab = dyn[i].d_un.d_ptr; break;
		case DT_STRTAB: strtab = dyn[i].d_un.d_ptr; break;
		case DT_STRSZ: strsz = dyn[i].d_un.d_val; break;
		case DT_HASH: hash = dyn[i].d_un.d_ptr; break;
		}
	}
	sym_off = vaddr_to_off(ph, eh->e_phnum, symtab);
	str_off = vaddr_to_off(ph, eh->e_phnum, strtab);
	hash_off = vaddr_to_off(ph, eh->e_phnum, hash);
	if (sym_off < 0 || str_off < 0 || hash_off < 0 || !in_img(img, len, hash_off, 8) ||
	    !in_img(img, len, str_off, strsz)) {
		pr_err("vDSO: can't find its symbol table\n");
		return -1;
	}
	nsyms = ((const uint32_t *)(img + hash_off))[1];	/* nchain */
	if (!in_img(img, len, sym_off, (uint64_t)nsyms * sizeof(Elf64_Sym))) {
		pr_err("vDSO: symbol table out of bounds\n");
		return -1;
	}
	for (uint32_t i = 0; i < nsyms; i++) {
		const Elf64_Sym *s = (const Elf64_Sym *)(img + sym_off) + i;
		const char *name;
		int64_t off;

		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF || s->st_name >= strsz)
			continue;
		name = (const char *)img + str_off + s->st_name;
		if (strnlen(name, strsz - s->st_name) >= VDSO_NAME_LEN)
			continue;
		off = vaddr_to_off(ph, eh->e_phnum, s->st_value);
		if (off < 0 || t->nr == VDSO_MAX_SYMS)
			continue;
		strcpy(t->sym[t->nr].name, name);
		t->sym[t->nr].off = off;
		t->nr++;
	}
	return 0;
}

int vdso_read_task_syms(pid_t pid, uint64_t start, uint64_t end, struct vdso_symtab *t)
{
	size_t len = end - start;
	char path[64];
	uint8_t *buf;
	int fd, ret = -1;

	if (!len || len > (16 << 20))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	buf = malloc(len);
	if (fd < 0 || !buf) {
		pr_perror("can't read the vDSO of %d", pid);
		goto out;
	}
	if (pread(fd, buf, len, start) != (ssize_t)len) {
		pr_perror("can't read the vDSO of %d at %lx", pid, (unsigned long)start);
		goto out;
	}
	ret = vdso_parse_symtab(buf, len, t);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

int vdso_build_proxy(uint8_t *buf, size_t len, const struct vdso_symtab *old,
		     const struct vdso_symtab *new, uint64_t new_base)
{
	memset(buf, 0xcc, len);	/* int3 everywhere else */
	for (int i = 0; i < old->nr; i++) {
		uint64_t target = 0, off = old->sym[i].off;
		int j;

		for (j = 0; j < new->nr; j++)
			if (!strcmp(new->sym[j].name, old->sym[i].name))
				break;
		if (j == new->nr) {
			pr_err("this kernel's vDSO has no %s, which the dumped task's had\n", old->sym[i].name);
			return -1;
		}
		target = new_base + new->sym[j].off;
		if (off + VDSO_TRAMP_SIZE > len) {
			pr_err("vDSO function %s too close to the end for a trampoline\n", old->sym[i].name);
			return -1;
		}
		for (int k = 0; k < old->nr; k++)
			if (old->sym[k].off != off && old->sym[k].off > off && old->sym[k].off < off + VDSO_TRAMP_SIZE) {
				pr_err("vDSO functions %s and %s are too close for trampolines\n",
				       old->sym[i].name, old->sym[k].name);
				return -1;
			}
		buf[off] = 0x48;	/* movabs $target, %rax */
		buf[off + 1] = 0xb8;
		memcpy(buf + off + 2, &target, 8);
		buf[off + 10] = 0xff;	/* jmp *%rax */
		buf[off + 11] = 0xe0;
	}
	return 0;
}
