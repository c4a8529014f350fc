// SPDX-License-Identifier: GPL-2.0-only
/*
 * A vDSO the program moved: [vvar], [vvar_vclock] and [vdso] are moved
 * together with mremap() to another address, as a program that manages
 * its own address space (or a checkpointer) would. After C/R they are at
 * the new addresses (the runner compares the maps), and the vDSO's
 * clock_gettime, found in the moved image, still gives sane times. libc's
 * own pointers into the old vDSO are stale, so only raw syscalls and the
 * looked-up function are used after the move.
 */
#include <elf.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "zdtmtst.h"

#define NR_PARTS	3

static const char *const names[NR_PARTS] = { "[vvar]", "[vvar_vclock]", "[vdso]" };

struct part {
	unsigned long start, end;
};

static int find_parts(struct part *p)
{
	char line[1024];
	unsigned long s, e;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	memset(p, 0, NR_PARTS * sizeof(*p));
	while (fgets(line, sizeof(line), f))
		for (int i = 0; i < NR_PARTS; i++) {
			char *n = strstr(line, names[i]);

			if (n && n[strlen(names[i])] == '\n' && sscanf(line, "%lx-%lx", &s, &e) == 2) {
				p[i].start = s;
				p[i].end = e;
			}
		}
	fclose(f);
	return p[2].start ? 0 : -1;
}

typedef int (*gettime_t)(clockid_t, struct timespec *);

/* __vdso_clock_gettime in the vDSO image at @base, from its section headers. */
static gettime_t vdso_sym(unsigned long base, const char *want)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)base;
	Elf64_Shdr *sh = (Elf64_Shdr *)(base + eh->e_shoff);

	for (int i = 0; i < eh->e_shnum; i++) {
		Elf64_Sym *sym;
		const char *str;

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		sym = (Elf64_Sym *)(base + sh[i].sh_offset);
		str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		for (size_t k = 0; k < sh[i].sh_size / sizeof(*sym); k++)
			if (!strcmp(str + sym[k].st_name, want))
				return (gettime_t)(base + sym[k].st_value);
	}
	return NULL;
}

static long long raw_ns(clockid_t c)
{
	struct timespec ts;

	syscall(SYS_clock_gettime, c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long vdso_ns(gettime_t f, clockid_t c)
{
	struct timespec ts;

	if (f(c, &ts))
		return -1;
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct part p[NR_PARTS], q[NR_PARTS];
	unsigned long lo = ~0UL, hi = 0;
	long long r0, v, r1;
	gettime_t gt;
	char *to;

	test_init(argc, argv);
	if (find_parts(p))
		test_bug("no vDSO");
	for (int i = 0; i < NR_PARTS; i++) {
		if (!p[i].start)
			continue;
		lo = p[i].start < lo ? p[i].start : lo;
		hi = p[i].end > hi ? p[i].end : hi;
	}
	/* a free spot well away from the old one */
	to = mmap(NULL, hi - lo + (64 << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED)
		test_bug("mmap");
	to += 32 << 20;
	for (int i = 0; i < NR_PARTS; i++) {
		unsigned long len = p[i].end - p[i].start;

		if (len && mremap((void *)p[i].start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
				  to + (p[i].start - lo)) == MAP_FAILED)
			test_bug("moving %s", names[i]);
	}
	if (find_parts(q) || q[2].start != (unsigned long)to + (p[2].start - lo))
		test_bug("the vDSO did not move");
	gt = vdso_sym(q[2].start, "__vdso_clock_gettime");
	if (!gt)
		test_bug("no __vdso_clock_gettime");
	r0 = raw_ns(CLOCK_MONOTONIC);
	v = vdso_ns(gt, CLOCK_MONOTONIC);
	if (v < r0)
		test_bug("the moved vDSO gives %lld before %lld", v, r0);

	test_daemon();
	test_waitsig();

	if (find_parts(p))
		failv("no vDSO after restore");
	for (int i = 0; i < NR_PARTS; i++)
		if (p[i].start != q[i].start || p[i].end != q[i].end)
			failv("%s at %lx-%lx, was %lx-%lx", names[i], p[i].start, p[i].end, q[i].start, q[i].end);
	if (test_failures)
		return 1;
	r0 = raw_ns(CLOCK_MONOTONIC);
	v = vdso_ns(gt, CLOCK_MONOTONIC);
	r1 = raw_ns(CLOCK_MONOTONIC);
	if (v < r0 || v > r1)
		failv("the vDSO's monotonic clock reads %lld, the kernel's %lld..%lld", v, r0, r1);
	r0 = raw_ns(CLOCK_REALTIME);
	v = vdso_ns(gt, CLOCK_REALTIME);
	r1 = raw_ns(CLOCK_REALTIME);
	if (v < r0 || v > r1)
		failv("the vDSO's realtime clock reads %lld, the kernel's %lld..%lld", v, r0, r1);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
