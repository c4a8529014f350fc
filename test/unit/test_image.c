/*
 * Unit tests for the image layer (criu/image/image.c, image-desc.c) and
 * "criu show" (criu/image/show.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "csum.h"
#include "image.h"
#include "log.h"
#include "sparse.h"

#include "core.pb-c.h"
#include "files.pb-c.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"
#include "stats.pb-c.h"

struct fixture {
	char dir[64];
	char log[128];
	int dfd;
};

/* ---- helpers ---- */

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/test_image.XXXXXX");
	if (!mkdtemp(fx->dir))
		goto err;
	fx->dfd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fx->dfd < 0)
		goto err;
	snprintf(fx->log, sizeof(fx->log), "%s/test.log", fx->dir);
	if (log_init(fx->log, LOG_DEBUG))
		goto err;
	*state = fx;
	return 0;
err:
	perror(fx->dir);
	free(fx);
	return -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	log_fini();
	d = fdopendir(fx->dfd);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0))
			perror(de->d_name);
	}
	closedir(d);
	if (rmdir(fx->dir))
		perror(fx->dir);
	free(fx);
	return 0;
}

static void path_of(struct fixture *fx, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", fx->dir, name);
}

static void write_file(struct fixture *fx, const char *name, const void *buf, size_t len)
{
	int fd = openat(fx->dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Reads a whole file (up to @size bytes) and returns its length. */
static size_t read_file(struct fixture *fx, const char *name, void *buf, size_t size)
{
	int fd = openat(fx->dfd, name, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size);
	assert_true(n >= 0);
	close(fd);
	return n;
}

static bool log_has(struct fixture *fx, const char *needle)
{
	static char buf[65536];
	size_t n;

	n = read_file(fx, "test.log", buf, sizeof(buf) - 1);
	buf[n] = '\0';
	if (strstr(buf, needle))
		return true;
	fprintf(stderr, "log lacks \"%s\"; log is:\n%s", needle, buf);
	return false;
}

static size_t put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
	return 4;
}

static void put64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* Header of a @type image into @p; returns its size. */
static size_t put_hdr(unsigned char *p, int type)
{
	put32(p, img_common_magic(type));
	put32(p + 4, img_descs[type].magic);
	return 8;
}

/* Writes a pstree.img with a good header followed by @len bytes of @tail (no checks, no trailer). */
static void write_pstree_raw(struct fixture *fx, const void *tail, size_t len)
{
	unsigned char buf[256];
	size_t off;

	assert_true(len + 8 <= sizeof(buf));
	off = put_hdr(buf, CR_FD_PSTREE);
	memcpy(buf + off, tail, len);
	write_file(fx, "pstree.img", buf, off + len);
}

/*
 * Writes image @name of @type from @tail, entries in the old way (length
 * word, message), adding each entry's check word and the trailer: a well
 * sealed image whatever the messages hold.
 */
static void write_sealed(struct fixture *fx, const char *name, int type, const unsigned char *tail, size_t len)
{
	unsigned char buf[1024];
	size_t off = put_hdr(buf, type), in = 0;
	uint32_t nr = 0;

	while (in < len) {
		uint32_t n = get32(tail + in);

		assert_true(in + 4 + n <= len && off + 4 + n + 4 + IMG_TRAILER_SIZE <= sizeof(buf));
		memcpy(buf + off, tail + in, 4 + n);
		put32(buf + off + 4 + n, (uint32_t)csum_buf(buf + off, 4 + n));
		off += 4 + n + 4;
		in += 4 + n;
		nr++;
	}
	put32(buf + off, IMG_TRAILER_MARK);
	put32(buf + off + 4, nr);
	put64(buf + off + 8, img_get_dump_id());
	put64(buf + off + 16, csum_buf(name, strlen(name)));
	put64(buf + off + 24, csum_buf(buf, off + 24));
	write_file(fx, name, buf, off + IMG_TRAILER_SIZE);
}

static void write_pstree_sealed(struct fixture *fx, const void *tail, size_t len)
{
	write_sealed(fx, "pstree.img", CR_FD_PSTREE, tail, len);
}

/* Finish writing @img; the image must come out sealed. */
static void finish(struct cr_img *img)
{
	assert_int_equal(finish_image(img, 0), 0);
}

static struct cr_img *open_pstree(struct fixture *fx)
{
	struct cr_img *img = open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY);

	assert_non_null(img);
	return img;
}

/* Runs show_image on @name; returns its result and the output in *out. */
static int show(struct fixture *fx, const char *name, char **out)
{
	char path[256];
	size_t size;
	FILE *f;
	int ret;

	path_of(fx, name, path, sizeof(path));
	f = open_memstream(out, &size);
	assert_non_null(f);
	ret = show_image(path, f);
	assert_int_equal(fclose(f), 0);
	return ret;
}

/* ---- round trips ---- */

static void test_inventory_roundtrip(void **state)
{
	struct fixture *fx = *state;
	InventoryEntry e = INVENTORY_ENTRY__INIT, *r;
	char *opts[] = { "--tcp-established", "-v4" };
	unsigned char raw[512];
	struct cr_img *img;
	size_t n;

	e.img_version = IMG_FORMAT_VERSION;
	e.tool_version = "4.0";
	e.kernel_release = "6.18.0-test";
	e.root_pid = 1234;
	e.has_shell_job = true;
	e.shell_job = true;
	e.n_options = 2;
	e.options = opts;
	e.has_dump_time_us = true;
	e.dump_time_us = 1700000000123456ULL;

	img = open_image_at(fx->dfd, CR_FD_INVENTORY, O_DUMP);
	assert_non_null(img);
	assert_int_equal(pb_write_one(img, &e), 0);
	finish(img);

	/* Header words on disk, little-endian, the entry length, the entry, its check, the trailer. */
	n = read_file(fx, "inventory.img", raw, sizeof(raw));
	assert_true(n > 12);
	assert_int_equal(get32(raw), IMG_COMMON_MAGIC);
	assert_int_equal(get32(raw + 4), img_descs[CR_FD_INVENTORY].magic);
	assert_int_equal(get32(raw + 8), inventory_entry__get_packed_size(&e));
	assert_int_equal(n, 12 + get32(raw + 8) + 4 + IMG_TRAILER_SIZE);
	assert_int_equal(get32(raw + 12 + get32(raw + 8)), (uint32_t)csum_buf(raw + 8, 4 + get32(raw + 8)));
	assert_int_equal(get32(raw + n - 32), IMG_TRAILER_MARK);
	assert_int_equal(get32(raw + n - 28), 1);

	img = open_image_at(fx->dfd, CR_FD_INVENTORY, O_RDONLY);
	assert_non_null(img);
	assert_int_equal(pb_read_one(img, (void **)&r), 1);
	assert_int_equal(r->img_version, IMG_FORMAT_VERSION);
	assert_string_equal(r->tool_version, "4.0");
	assert_string_equal(r->kernel_release, "6.18.0-test");
	assert_int_equal(r->root_pid, 1234);
	assert_true(r->has_shell_job && r->shell_job);
	assert_false(r->has_leave_running);
	assert_false(r->has_page_size);
	assert_int_equal(r->n_options, 2);
	assert_string_equal(r->options[0], "--tcp-established");
	assert_string_equal(r->options[1], "-v4");
	assert_true(r->has_dump_time_us);
	assert_true(r->dump_time_us == 1700000000123456ULL);
	pb_free(img, r);

	r = (void *)1;
	assert_int_equal(pb_read_one(img, (void **)&r), 0);
	assert_null(r);
	close_image(img);
}

#define NR_PSTREE 5

static void test_pstree_roundtrip(void **state)
{
	struct fixture *fx = *state;
	int32_t threads[NR_PSTREE + 1];
	PstreeEntry *r;
	struct cr_img *img;
	int i, j;

	img = open_image_at(fx->dfd, CR_FD_PSTREE, O_DUMP);
	assert_non_null(img);
	for (i = 0; i < NR_PSTREE; i++) {
		PstreeEntry e = PSTREE_ENTRY__INIT;

		e.pid = 100 + i;
		e.ppid = i ? 100 : 1;
		e.pgid = 100;
		e.sid = -i;
		for (j = 0; j <= i; j++)
			threads[j] = 100 + i * 10 + j;
		e.n_threads = i + 1;
		e.threads = threads;
		assert_int_equal(pb_write_one(img, &e), 0);
	}
	finish(img);

	img = open_pstree(fx);
	for (i = 0; i < NR_PSTREE; i++) {
		assert_int_equal(pb_read_one(img, (void **)&r), 1);
		assert_int_equal(r->pid, 100 + i);
		assert_int_equal(r->ppid, i ? 100 : 1);
		assert_int_equal(r->pgid, 100);
		assert_int_equal(r->sid, -i);
		assert_int_equal(r->n_threads, i + 1);
		for (j = 0; j <= i; j++)
			assert_int_equal(r->threads[j], 100 + i * 10 + j);
		pb_free(img, r);
	}
	assert_int_equal(img->nr_read, NR_PSTREE);
	assert_int_equal(pb_read_one(img, (void **)&r), 0);
	close_image(img);
}

/* A fully populated core entry; pointers refer to static storage. */
static void fill_core(CoreEntry *ce)
{
	static TaskCoreEntry tc = TASK_CORE_ENTRY__INIT;
	static ThreadCoreEntry th = THREAD_CORE_ENTRY__INIT;
	static CredsEntry creds = CREDS_ENTRY__INIT;
	static UserRegsX86Entry regs = USER_REGS_X86_ENTRY__INIT;
	static UserFpregsX86Entry fpregs = USER_FPREGS_X86_ENTRY__INIT;
	static SigaltstackEntry alt = SIGALTSTACK_ENTRY__INIT;
	static SigactionEntry sa[2] = { SIGACTION_ENTRY__INIT, SIGACTION_ENTRY__INIT };
	static SigactionEntry *sap[2] = { &sa[0], &sa[1] };
	static SiginfoEntry si = SIGINFO_ENTRY__INIT;
	static SiginfoEntry *sip[1] = { &si };
	static uint32_t groups[3] = { 10, 20, 30 };
	static uint8_t xsave[64], siginfo[128];
	int i;

	for (i = 0; i < 64; i++)
		xsave[i] = i * 3;
	for (i = 0; i < 128; i++)
		siginfo[i] = 255 - i;

	creds.uid = 1000;
	creds.gid = 1001;
	creds.n_groups = 3;
	creds.groups = groups;
	creds.cap_eff = 0x1ffffffffffULL;
	creds.has_cap_amb = true;
	creds.cap_amb = 0;
	creds.secbits = 4;

	sa[0].sig = 2;
	sa[0].handler = 0x401136;
	sa[0].restorer = 0x7f0000001000ULL;
	sa[0].mask = 1 << 1;
	sa[1].sig = 15;
	sa[1].handler = 1;	/* SIG_IGN */

	tc.comm = "te\"st\\x\n";
	tc.personality = 0;
	tc.umask = 022;
	tc.n_sigactions = 2;
	tc.sigactions = sap;
	tc.creds = &creds;
	tc.dumpable = 1;

	regs.ip = 0x401000;
	regs.sp = 0x7ffdeadbe000ULL;
	regs.ax = 0xffffffffffffffdaULL;
	regs.orig_ax = 230;
	regs.fs_base = 0x7f1234567740ULL;
	fpregs.xsave.len = sizeof(xsave);
	fpregs.xsave.data = xsave;
	fpregs.xfeatures = 0x2e7;
	alt.sp = 0;
	alt.flags = 2;	/* SS_DISABLE */
	si.siginfo.len = sizeof(siginfo);
	si.siginfo.data = siginfo;

	th.tid = 4242;
	th.gpregs = &regs;
	th.fpregs = &fpregs;
	th.blk_sigset = 0x4000;
	th.altstack = &alt;
	th.n_pending = 1;
	th.pending = sip;
	th.has_in_syscall = true;
	th.in_syscall = -1;

	core_entry__init(ce);
	ce->tc = &tc;
	ce->thread = &th;
}

static void test_core_roundtrip(void **state)
{
	struct fixture *fx = *state;
	CoreEntry ce, *r;
	struct cr_img *img;
	int i;

	fill_core(&ce);
	img = open_image_at(fx->dfd, CR_FD_CORE, O_DUMP, 4242);
	assert_non_null(img);
	assert_int_equal(pb_write_one(img, &ce), 0);
	finish(img);

	img = open_image_at(fx->dfd, CR_FD_CORE, O_RDONLY, 4242);
	assert_non_null(img);
	assert_int_equal(pb_read_one_required(img, (void **)&r), 0);
	assert_string_equal(r->tc->comm, "te\"st\\x\n");
	assert_int_equal(r->tc->umask, 022);
	assert_int_equal(r->tc->n_sigactions, 2);
	assert_int_equal(r->tc->sigactions[0]->handler, 0x401136);
	assert_true(r->tc->sigactions[0]->restorer == 0x7f0000001000ULL);
	assert_int_equal(r->tc->sigactions[1]->sig, 15);
	assert_int_equal(r->tc->creds->n_groups, 3);
	assert_int_equal(r->tc->creds->groups[2], 30);
	assert_true(r->tc->creds->cap_eff == 0x1ffffffffffULL);
	assert_true(r->tc->creds->has_cap_amb);
	assert_false(r->tc->has_exit_signal);
	assert_int_equal(r->thread->tid, 4242);
	assert_true(r->thread->gpregs->sp == 0x7ffdeadbe000ULL);
	assert_true(r->thread->gpregs->ax == 0xffffffffffffffdaULL);
	assert_int_equal(r->thread->fpregs->xsave.len, 64);
	for (i = 0; i < 64; i++)
		assert_int_equal(r->thread->fpregs->xsave.data[i], (uint8_t)(i * 3));
	assert_int_equal(r->thread->n_pending, 1);
	assert_int_equal(r->thread->pending[0]->siginfo.len, 128);
	assert_int_equal(r->thread->pending[0]->siginfo.data[5], 250);
	assert_int_equal(r->thread->in_syscall, -1);
	assert_null(r->thread->comm);
	pb_free(img, r);

	assert_int_equal(pb_read_one_required(img, (void **)&r), -1);
	assert_true(log_has(fx, "unexpected end of file"));
	close_image(img);
}

static void test_pagemap_roundtrip(void **state)
{
	struct fixture *fx = *state;
	PagemapHead h = PAGEMAP_HEAD__INIT, *rh;
	PagemapEntry *re;
	struct cr_img *img;
	int i;

	img = open_image_at(fx->dfd, CR_FD_PAGEMAP, O_DUMP, 77);
	assert_non_null(img);
	assert_ptr_equal(img_next_desc(img), &pagemap_head__descriptor);
	h.pages_id = 9;
	assert_int_equal(pb_write_one(img, &h), 0);
	assert_ptr_equal(img_next_desc(img), &pagemap_entry__descriptor);
	for (i = 0; i < 3; i++) {
		PagemapEntry e = PAGEMAP_ENTRY__INIT;

		e.vaddr = 0x7f0000000000ULL + i * 0x10000;
		e.nr_pages = i + 1;
		e.off = i * 4096;
		assert_int_equal(pb_write_one(img, &e), 0);
	}
	/* A second head is the wrong type now. */
	assert_int_equal(pb_write_one(img, &h), -1);
	assert_true(log_has(fx, "can't write a pagemap_head"));
	finish(img);

	img = open_image_at(fx->dfd, CR_FD_PAGEMAP, O_RDONLY, 77);
	assert_non_null(img);
	assert_ptr_equal(img_next_desc(img), &pagemap_head__descriptor);
	assert_int_equal(pb_read_one(img, (void **)&rh), 1);
	assert_ptr_equal(rh->base.descriptor, &pagemap_head__descriptor);
	assert_int_equal(rh->pages_id, 9);
	pb_free(img, rh);
	for (i = 0; i < 3; i++) {
		assert_ptr_equal(img_next_desc(img), &pagemap_entry__descriptor);
		assert_int_equal(pb_read_one(img, (void **)&re), 1);
		assert_ptr_equal(re->base.descriptor, &pagemap_entry__descriptor);
		assert_true(re->vaddr == 0x7f0000000000ULL + i * 0x10000);
		assert_int_equal(re->nr_pages, i + 1);
		assert_int_equal(re->off, i * 4096);
		pb_free(img, re);
	}
	assert_int_equal(pb_read_one(img, (void **)&re), 0);
	close_image(img);
}

/* podman reads: u32 0x55105940, u32 0x57093306, u32 size, stats_entry. */
static void test_stats_layout(void **state)
{
	struct fixture *fx = *state;
	StatsEntry s = STATS_ENTRY__INIT, *r;
	DumpStatsEntry d = DUMP_STATS_ENTRY__INIT;
	unsigned char raw[256];
	struct cr_img *img;
	size_t n;

	d.freezing_time = 1234;
	d.frozen_time = 5678;
	d.memdump_time = 90;
	d.pages_written = 321;
	s.dump = &d;

	img = open_image_at(fx->dfd, CR_FD_STATS_DUMP, O_DUMP);
	assert_non_null(img);
	assert_int_equal(pb_write_one(img, &s), 0);
	finish(img);

	/* the check word and the trailer come after what podman reads */
	n = read_file(fx, "stats-dump", raw, sizeof(raw));
	assert_true(n > 12);
	assert_int_equal(get32(raw), 0x55105940);
	assert_int_equal(get32(raw + 4), 0x57093306);
	assert_int_equal(get32(raw + 8), n - 12 - 4 - IMG_TRAILER_SIZE);
	r = stats_entry__unpack(NULL, get32(raw + 8), raw + 12);
	assert_non_null(r);
	assert_non_null(r->dump);
	assert_null(r->restore);
	assert_int_equal(r->dump->freezing_time, 1234);
	assert_int_equal(r->dump->pages_written, 321);
	stats_entry__free_unpacked(r, NULL);

	img = open_image_at(fx->dfd, CR_FD_STATS_DUMP, O_RDONLY);
	assert_non_null(img);
	assert_int_equal(pb_read_one(img, (void **)&r), 1);
	assert_int_equal(r->dump->frozen_time, 5678);
	pb_free(img, r);
	close_image(img);

	/* The restore file has the same header and no .img suffix either. */
	img = open_image_at(fx->dfd, CR_FD_STATS_RESTORE, O_DUMP);
	assert_non_null(img);
	finish(img);
	n = read_file(fx, "stats-restore", raw, sizeof(raw));
	assert_int_equal(n, 8 + IMG_TRAILER_SIZE);
	assert_int_equal(get32(raw), 0x55105940);
	assert_int_equal(get32(raw + 4), 0x57093306);
}

static void test_names_and_exists(void **state)
{
	struct fixture *fx = *state;
	static const struct { int type; unsigned id; const char *name; } cases[] = {
		{ CR_FD_CORE, 42, "core-42.img" },
		{ CR_FD_MM, 42, "mm-42.img" },
		{ CR_FD_PAGEMAP, 42, "pagemap-42.img" },
		{ CR_FD_FDINFO, 42, "fdinfo-42.img" },
		{ CR_FD_FS, 42, "fs-42.img" },
		{ CR_FD_PAGES, 3, "pages-3.img" },
		{ CR_FD_PAGES_1, 3, "pages-3.1.img" },
		{ CR_FD_FILES, 0, "files.img" },
		{ CR_FD_PSTREE, 0, "pstree.img" },
	};
	struct stat st;
	size_t i;
	int t, u;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cr_img *img;

		assert_false(image_exists(fx->dfd, cases[i].type, cases[i].id));
		img = open_image_at(fx->dfd, cases[i].type, O_DUMP, cases[i].id);
		assert_non_null(img);
		finish(img);
		assert_int_equal(fstatat(fx->dfd, cases[i].name, &st, 0), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		/* Raw pages files have no header at all; an empty image is a header and a trailer. */
		assert_int_equal(st.st_size, img_descs[cases[i].type].magic ? 8 + IMG_TRAILER_SIZE : 0);
		assert_true(image_exists(fx->dfd, cases[i].type, cases[i].id));
	}
	assert_false(image_exists(fx->dfd, CR_FD_CORE, 43));
	assert_null(img_descs[CR_FD_PAGES].pb);

	/* Header type magics are all distinct, except the two stats files. */
	/* raw images (page data, unlinked files' bytes, tmpfs contents) have neither a header nor a schema */
#define IS_RAW(t)	((t) == CR_FD_PAGES || (t) == CR_FD_PAGES_1 || (t) == CR_FD_SHMEM_PAGES || (t) == CR_FD_SYSVSHM_PAGES || \
		 (t) == CR_FD_GHOST || (t) == CR_FD_TMPFS_DATA)
	for (t = 0; t < CR_FD_MAX; t++) {
		assert_non_null(img_descs[t].name_fmt);
		if (IS_RAW(t)) {
			assert_null(img_descs[t].pb);
			assert_int_equal(img_descs[t].magic, 0);
			continue;
		}
		assert_non_null(img_descs[t].pb);
		for (u = t + 1; u < CR_FD_MAX; u++) {
			if (IS_RAW(u) || (t == CR_FD_STATS_DUMP && u == CR_FD_STATS_RESTORE))
				continue;
			assert_int_not_equal(img_descs[t].magic, img_descs[u].magic);
		}
	}
}

static void test_write_checks(void **state)
{
	struct fixture *fx = *state;
	FsEntry fs = FS_ENTRY__INIT, *r;
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	struct cr_img *img;

	img = open_image_at(fx->dfd, CR_FD_FS, O_DUMP, 1);
	assert_non_null(img);
	fs.root = "/";
	assert_int_equal(pb_write_one(img, &fs), -1);	/* cwd unset */
	assert_true(log_has(fx, "required field cwd is not set"));
	assert_int_equal(pb_write_one(img, &pe), -1);	/* wrong type */
	assert_true(log_has(fx, "can't write a pstree_entry"));
	fs.cwd = "/home";
	assert_int_equal(pb_write_one(img, &fs), 0);
	/* Reading from an image open for writing is refused. */
	assert_int_equal(pb_read_one(img, (void **)&r), -1);
	finish(img);

	img = open_image_at(fx->dfd, CR_FD_FS, O_RDONLY, 1);
	assert_non_null(img);
	assert_int_equal(pb_read_one(img, (void **)&r), 1);
	assert_string_equal(r->cwd, "/home");
	assert_string_equal(r->root, "/");
	pb_free(img, r);
	assert_int_equal(pb_read_one(img, (void **)&r), 0);
	close_image(img);

	/* Raw images hold no entries. */
	img = open_image_at(fx->dfd, CR_FD_PAGES, O_DUMP, 1);
	assert_non_null(img);
	assert_null(img_next_desc(img));
	assert_int_equal(pb_write_one(img, &fs), -1);
	assert_true(log_has(fx, "raw image"));
	close_image(img);
}

/* ---- corrupt input ---- */

static void test_missing_file(void **state)
{
	struct fixture *fx = *state;
	char want[256];

	assert_null(open_image_at(fx->dfd, CR_FD_CORE, O_RDONLY, 7));
	snprintf(want, sizeof(want), "%s/core-7.img: No such file or directory", fx->dir);
	assert_true(log_has(fx, want));
}

static void test_empty_file(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "pstree.img", "", 0);
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "pstree.img: file too short to hold a header (0 of 8 bytes)"));
}

static void test_one_magic_word(void **state)
{
	struct fixture *fx = *state;
	unsigned char buf[4];

	put32(buf, IMG_COMMON_MAGIC);
	write_file(fx, "pstree.img", buf, sizeof(buf));
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "file too short to hold a header (4 of 8 bytes)"));
}

static void test_wrong_common_magic(void **state)
{
	struct fixture *fx = *state;
	unsigned char buf[8];
	char want[128];

	put32(buf, 0xdeadbeef);
	put32(buf + 4, img_descs[CR_FD_PSTREE].magic);
	write_file(fx, "pstree.img", buf, sizeof(buf));
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	snprintf(want, sizeof(want), "wrong magic 0xdeadbeef (expected 0x%08x for PSTREE image)",
		 IMG_COMMON_MAGIC);
	assert_true(log_has(fx, want));
}

static void test_wrong_type_magic(void **state)
{
	struct fixture *fx = *state;
	struct cr_img *img;
	char want[128];

	/* An mm image under a core image's name. */
	img = open_image_at(fx->dfd, CR_FD_MM, O_DUMP, 1);
	assert_non_null(img);
	finish(img);
	assert_int_equal(renameat(fx->dfd, "mm-1.img", fx->dfd, "core-1.img"), 0);

	assert_null(open_image_at(fx->dfd, CR_FD_CORE, O_RDONLY, 1));
	snprintf(want, sizeof(want), "wrong magic 0x%08x (expected 0x%08x for CORE image; this is a MM image)",
		 img_descs[CR_FD_MM].magic, img_descs[CR_FD_CORE].magic);
	assert_true(log_has(fx, want));
}

/* Damage to the container is found when the image is opened, before any entry is used. */
static void test_truncated_length(void **state)
{
	struct fixture *fx = *state;

	write_pstree_raw(fx, "\x05\x00", 2);
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "entry #0 at offset 8: truncated length word (2 of 4 bytes)"));
}

static void test_length_beyond_file(void **state)
{
	struct fixture *fx = *state;
	unsigned char tail[14] = { 0 };

	put32(tail, 100);
	write_pstree_raw(fx, tail, sizeof(tail));
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "entry #0 at offset 8: length 100 runs past the end of the file (10 bytes left)"));
}

static void test_length_too_big(void **state)
{
	struct fixture *fx = *state;
	unsigned char tail[8] = { 0 };
	char want[128];

	put32(tail, IMG_MAX_ENTRY_SIZE + 1);
	write_pstree_raw(fx, tail, sizeof(tail));
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	snprintf(want, sizeof(want), "offset 8: length %u exceeds", IMG_MAX_ENTRY_SIZE + 1);
	assert_true(log_has(fx, want));
}

static void test_garbage_payload(void **state)
{
	struct fixture *fx = *state;
	unsigned char tail[4 + 11];
	struct cr_img *img;
	void *msg;

	/* sealed: the checks pass, the message does not decode */
	put32(tail, 11);
	memset(tail + 4, 0xff, 11);	/* an over-long varint tag */
	write_pstree_sealed(fx, tail, sizeof(tail));
	img = open_pstree(fx);
	assert_int_equal(pb_read_one(img, &msg), -1);
	assert_null(msg);
	close_image(img);
	assert_true(log_has(fx, "offset 8: can't decode 11 bytes as pstree_entry"));
}

static void test_missing_required(void **state)
{
	struct fixture *fx = *state;
	/* pid=5, ppid=1, pgid=5, sid=5 as varint fields 1..4 */
	static const unsigned char full[] = { 0x08, 5, 0x10, 1, 0x18, 5, 0x20, 5 };
	unsigned char tail[4 + sizeof(full)];
	struct cr_img *img;
	PstreeEntry *r;

	/* The whole message decodes... */
	put32(tail, sizeof(full));
	memcpy(tail + 4, full, sizeof(full));
	write_pstree_sealed(fx, tail, sizeof(tail));
	img = open_pstree(fx);
	assert_int_equal(pb_read_one(img, (void **)&r), 1);
	assert_int_equal(r->pid, 5);
	assert_int_equal(r->ppid, 1);
	pb_free(img, r);
	close_image(img);

	/* ...but without sid (field 4) it must be rejected. */
	put32(tail, sizeof(full) - 2);
	write_pstree_sealed(fx, tail, sizeof(tail) - 2);
	img = open_pstree(fx);
	assert_int_equal(pb_read_one(img, (void **)&r), -1);
	assert_null(r);
	close_image(img);
	assert_true(log_has(fx, "can't decode 6 bytes as pstree_entry (corrupt data or a required field missing)"));
}

/* Two good entries then a bad one: the offset names the third entry. */
static void test_bad_entry_after_good(void **state)
{
	struct fixture *fx = *state;
	PstreeEntry e = PSTREE_ENTRY__INIT, *r;
	struct cr_img *img;
	size_t len;
	char want[128];

	img = open_image_at(fx->dfd, CR_FD_PSTREE, O_DUMP);
	assert_non_null(img);
	e.pid = 1;
	assert_int_equal(pb_write_one(img, &e), 0);
	e.pid = 2;
	assert_int_equal(pb_write_one(img, &e), 0);
	len = pstree_entry__get_packed_size(&e);
	/* Append a length word promising more than follows, and leave it unsealed. */
	assert_int_equal(write(img->fd, "\x40\x00\x00\x00\x08", 5), 5);
	close_image(img);

	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	snprintf(want, sizeof(want), "entry #2 at offset %zu: length 64 runs past the end of the file (1 bytes left)",
		 8 + 2 * (4 + len + 4));
	assert_true(log_has(fx, want));

	/* A sealed header-only image is valid and empty; unsealed, it is truncated. */
	write_pstree_sealed(fx, NULL, 0);
	img = open_pstree(fx);
	assert_int_equal(pb_read_one(img, (void **)&r), 0);
	close_image(img);
	write_pstree_raw(fx, "", 0);
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "ends at offset 8, after entry #0, without a trailer"));
}

static void test_open_image_path(void **state)
{
	struct fixture *fx = *state;
	static const struct { int type; const char *name; } cases[] = {
		{ CR_FD_MM, "mm-3.img" },
		{ CR_FD_PAGEMAP, "pagemap-3.img" },
		{ CR_FD_INVENTORY, "inventory.img" },
		{ CR_FD_STATS_DUMP, "stats-dump" },
		{ CR_FD_STATS_RESTORE, "stats-restore" },
		{ CR_FD_PAGES, "pages-3.img" },
	};
	unsigned char buf[8];
	char path[256];
	struct cr_img *img;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		img = open_image_at(fx->dfd, cases[i].type, O_DUMP, 3);
		assert_non_null(img);
		finish(img);
		path_of(fx, cases[i].name, path, sizeof(path));
		img = open_image_path(path);
		assert_non_null(img);
		assert_int_equal(img->type, cases[i].type);
		close_image(img);
	}

	put32(buf, IMG_COMMON_MAGIC);
	put32(buf + 4, 0x12345678);
	write_file(fx, "odd.img", buf, sizeof(buf));
	path_of(fx, "odd.img", path, sizeof(path));
	assert_null(open_image_path(path));
	snprintf(path, sizeof(path), "unknown magic 0x%08x 0x12345678", IMG_COMMON_MAGIC);
	assert_true(log_has(fx, path));
}

/* ---- show ---- */

static void test_show_pstree(void **state)
{
	struct fixture *fx = *state;
	int32_t threads[] = { 10, 11 };
	PstreeEntry e = PSTREE_ENTRY__INIT;
	struct cr_img *img;
	char *out = NULL;

	img = open_image_at(fx->dfd, CR_FD_PSTREE, O_DUMP);
	assert_non_null(img);
	e.pid = 10;
	e.ppid = 1;
	e.pgid = 10;
	e.sid = -3;
	e.n_threads = 2;
	e.threads = threads;
	assert_int_equal(pb_write_one(img, &e), 0);
	e.pid = 12;
	e.n_threads = 0;
	assert_int_equal(pb_write_one(img, &e), 0);
	finish(img);

	assert_int_equal(show(fx, "pstree.img", &out), 0);
	assert_string_equal(out,
		"{\n"
		"    \"magic\": \"PSTREE\",\n"
		"    \"entries\": [\n"
		"        {\n"
		"            \"pid\": 10,\n"
		"            \"ppid\": 1,\n"
		"            \"pgid\": 10,\n"
		"            \"sid\": -3,\n"
		"            \"threads\": [10, 11]\n"
		"        },\n"
		"        {\n"
		"            \"pid\": 12,\n"
		"            \"ppid\": 1,\n"
		"            \"pgid\": 10,\n"
		"            \"sid\": -3\n"
		"        }\n"
		"    ]\n"
		"}\n");
	free(out);
}

static void test_show_mm(void **state)
{
	struct fixture *fx = *state;
	MmEntry mm = MM_ENTRY__INIT;
	VmaEntry v = VMA_ENTRY__INIT, *vp[1] = { &v };
	uint64_t auxv[] = { 6, 4096 };
	struct cr_img *img;
	char *out = NULL;

	mm.start_code = 0x400000;
	mm.end_code = 0x401000;
	mm.brk = 0x1234000;
	mm.exe_file_id = 3;
	mm.n_auxv = 2;
	mm.auxv = auxv;
	mm.n_vmas = 1;
	mm.vmas = vp;
	v.start = 0x1230000;
	v.end = 0x1234000;
	v.pgoff = 8192;
	v.prot = 3;
	v.kind = VMA_KIND__VMA_HEAP;
	v.has_madv = true;
	v.madv = 0;

	img = open_image_at(fx->dfd, CR_FD_MM, O_DUMP, 5);
	assert_non_null(img);
	assert_int_equal(pb_write_one(img, &mm), 0);
	finish(img);

	assert_int_equal(show(fx, "mm-5.img", &out), 0);
	assert_non_null(strstr(out, "\"magic\": \"MM\""));
	assert_non_null(strstr(out, "\"start_code\": \"0x400000\""));
	assert_non_null(strstr(out, "\"end_code\": \"0x401000\""));
	assert_non_null(strstr(out, "\"brk\": \"0x1234000\""));
	assert_non_null(strstr(out, "\"start_data\": \"0x0\""));
	assert_non_null(strstr(out, "\"exe_file_id\": 3"));
	assert_non_null(strstr(out, "\"auxv\": [6, 4096]"));
	assert_non_null(strstr(out, "\"start\": \"0x1230000\""));
	assert_non_null(strstr(out, "\"pgoff\": 8192,"));
	assert_non_null(strstr(out, "\"kind\": \"VMA_HEAP\""));
	assert_non_null(strstr(out, "\"madv\": 0\n"));
	assert_null(strstr(out, "\"file_id\""));	/* optional, unset */
	free(out);
}

static void test_show_core(void **state)
{
	struct fixture *fx = *state;
	struct cr_img *img;
	char *out = NULL;
	CoreEntry ce;

	fill_core(&ce);
	img = open_image_at(fx->dfd, CR_FD_CORE, O_DUMP, 1);
	assert_non_null(img);
	assert_int_equal(pb_write_one(img, &ce), 0);
	finish(img);

	assert_int_equal(show(fx, "core-1.img", &out), 0);
	assert_non_null(strstr(out, "\"magic\": \"CORE\""));
	assert_non_null(strstr(out, "\"comm\": \"te\\\"st\\\\x\\n\""));
	assert_non_null(strstr(out, "\"ip\": \"0x401000\""));
	assert_non_null(strstr(out, "\"sp\": \"0x7ffdeadbe000\""));
	assert_non_null(strstr(out, "\"fs_base\": \"0x7f1234567740\""));
	assert_non_null(strstr(out, "\"ax\": 18446744073709551578,"));
	assert_non_null(strstr(out, "\"handler\": \"0x401136\""));
	assert_non_null(strstr(out, "\"groups\": [10, 20, 30]"));
	assert_non_null(strstr(out, "\"xsave\": \"000306090c0f"));
	assert_non_null(strstr(out, "\"siginfo\": \"fffefdfc"));
	assert_non_null(strstr(out, "\"in_syscall\": -1"));
	assert_non_null(strstr(out, "\"cap_amb\": 0"));
	assert_null(strstr(out, "exit_signal"));
	free(out);
}

static void test_show_stats_and_empty(void **state)
{
	struct fixture *fx = *state;
	StatsEntry s = STATS_ENTRY__INIT;
	RestoreStatsEntry rs = RESTORE_STATS_ENTRY__INIT;
	struct cr_img *img;
	char *out = NULL;

	rs.pages_compared = 7;
	rs.restore_time = 99;
	s.restore = &rs;
	img = open_image_at(fx->dfd, CR_FD_STATS_RESTORE, O_DUMP);
	assert_non_null(img);
	assert_int_equal(pb_write_one(img, &s), 0);
	finish(img);
	assert_int_equal(show(fx, "stats-restore", &out), 0);
	assert_non_null(strstr(out, "\"magic\": \"STATS\""));
	assert_non_null(strstr(out, "\"restore\": {"));
	assert_non_null(strstr(out, "\"pages_compared\": 7,"));
	assert_non_null(strstr(out, "\"restore_time\": 99\n"));
	assert_null(strstr(out, "\"dump\""));
	free(out);

	img = open_image_at(fx->dfd, CR_FD_FILES, O_DUMP);
	assert_non_null(img);
	finish(img);
	out = NULL;
	assert_int_equal(show(fx, "files.img", &out), 0);
	assert_string_equal(out, "{\n    \"magic\": \"FILES\",\n    \"entries\": []\n}\n");
	free(out);
}

static void test_show_pages(void **state)
{
	struct fixture *fx = *state;
	long ps = sysconf(_SC_PAGESIZE);
	char *buf = calloc(2, ps);
	char *out = NULL;
	char want[128];

	assert_non_null(buf);
	write_file(fx, "pages-1.img", buf, 2 * ps);
	assert_int_equal(show(fx, "pages-1.img", &out), 0);
	snprintf(want, sizeof(want), "{\"magic\": \"PAGES\", \"size\": %ld, \"pages\": 2}\n", 2 * ps);
	assert_string_equal(out, want);
	free(out);

	write_file(fx, "pages-2.img", buf, 100);
	out = NULL;
	assert_int_equal(show(fx, "pages-2.img", &out), -1);
	assert_int_equal(strlen(out), 0);
	assert_true(log_has(fx, "is not a whole number"));
	free(out);
	free(buf);
}

/* Segment bytes (shmem, SysV) are raw too, sparse and of any size. */
static void test_show_raw_segments(void **state)
{
	struct fixture *fx = *state;
	char buf[100] = { 1 };
	char *out = NULL;

	write_file(fx, "shmem-4.img", buf, sizeof(buf));
	assert_int_equal(show(fx, "shmem-4.img", &out), 0);
	assert_string_equal(out, "{\"magic\": \"SHMEM_PAGES\", \"size\": 100}\n");
	free(out);

	out = NULL;
	write_file(fx, "sysvshm-32768.img", buf, sizeof(buf));
	assert_int_equal(show(fx, "sysvshm-32768.img", &out), 0);
	assert_string_equal(out, "{\"magic\": \"SYSVSHM_PAGES\", \"size\": 100}\n");
	free(out);

	/* not a raw name: read as an image, and refused for its magic */
	out = NULL;
	write_file(fx, "shmem-4x.img", buf, sizeof(buf));
	assert_int_equal(show(fx, "shmem-4x.img", &out), -1);
	free(out);
}

static void test_show_corrupt(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char tail[] = {
		8, 0, 0, 0, 0x08, 5, 0x10, 1, 0x18, 5, 0x20, 5,	/* good entry */
		4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,		/* bad payload */
	};
	char *out = NULL;

	write_pstree_sealed(fx, tail, sizeof(tail));
	assert_int_equal(show(fx, "pstree.img", &out), -1);
	assert_int_equal(strlen(out), 0);	/* no half-printed JSON */
	free(out);
	assert_true(log_has(fx, "entry #1 at offset 24: can't decode 4 bytes as pstree_entry"));

	/* Bad header and missing file fail cleanly too. */
	write_file(fx, "core-1.img", "\x19\x43\x56", 3);
	out = NULL;
	assert_int_equal(show(fx, "core-1.img", &out), -1);
	assert_int_equal(strlen(out), 0);
	free(out);
	out = NULL;
	assert_int_equal(show(fx, "nonexistent.img", &out), -1);
	free(out);
	assert_true(log_has(fx, "nonexistent.img: No such file or directory"));
}

/* ---- checksums ---- */

/* The three builds agree, and agree with XXH3 itself. */
static void test_csum_builds(void **state)
{
	static unsigned char buf[3 * CSUM_PAGE + 77];
	uint64_t a[3], b[3], c[3];

	(void)state;
	assert_true(csum_buf_scalar("", 0) == 0x2d06800538d394c2ULL);	/* XXH3-64 of nothing */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = i * 7 + (i >> 8);
	csum_pages_scalar(buf, 3, a);
	csum_pages(buf, 3, b);
	assert_memory_equal(a, b, sizeof(a));
	assert_true(csum_buf(buf, sizeof(buf)) == csum_buf_scalar(buf, sizeof(buf)));
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2")) {
		csum_pages_avx2(buf, 3, c);
		assert_memory_equal(a, c, sizeof(a));
		assert_true(csum_buf_avx2(buf, 77) == csum_buf_scalar(buf, 77));
	}
	if (__builtin_cpu_supports("avx512f")) {
		csum_pages_avx512(buf, 3, c);
		assert_memory_equal(a, c, sizeof(a));
		assert_true(csum_buf_avx512(buf, sizeof(buf)) == csum_buf_scalar(buf, sizeof(buf)));
	}
	assert_int_equal(csum_check_pages(buf, 3, a), 3);
	buf[CSUM_PAGE + 5] ^= 1;
	assert_int_equal(csum_check_pages(buf, 3, a), 1);
}

/* A pstree.img of three entries, written the normal way; returns its size. */
static size_t write_three(struct fixture *fx, unsigned char *raw, size_t size)
{
	struct cr_img *img = open_image_at(fx->dfd, CR_FD_PSTREE, O_DUMP);
	int32_t threads[2] = { 0, 0 };

	assert_non_null(img);
	for (int i = 0; i < 3; i++) {
		PstreeEntry e = PSTREE_ENTRY__INIT;

		e.pid = threads[0] = 100 + i;
		threads[1] = 200 + i;
		e.ppid = 1;
		e.n_threads = 2;
		e.threads = threads;
		assert_int_equal(pb_write_one(img, &e), 0);
	}
	finish(img);
	return read_file(fx, "pstree.img", raw, size);
}

/* Every single changed bit and every cut is refused when the image is opened. */
static void test_damage_anywhere(void **state)
{
	struct fixture *fx = *state;
	unsigned char raw[512], bad[512];
	size_t n = write_three(fx, raw, sizeof(raw));
	struct cr_img *img;

	img = open_pstree(fx);
	close_image(img);
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, raw, n);
			bad[i] ^= 1 << bit;
			write_file(fx, "pstree.img", bad, n);
			img = open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY);
			if (img)
				fail_msg("bit %d of byte %zu changed and the image still opened", bit, i);
		}
	for (size_t len = 0; len < n; len++) {
		write_file(fx, "pstree.img", raw, len);
		img = open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY);
		if (img)
			fail_msg("the image cut to %zu of %zu bytes still opened", len, n);
	}
	/* a changed byte names its entry; a cut names what is missing */
	assert_int_equal(truncate(fx->log, 0), 0);
	memcpy(bad, raw, n);
	bad[8 + 6] ^= 0x10;
	write_file(fx, "pstree.img", bad, n);
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "entry #0 at offset 8"));
	assert_true(log_has(fx, "checksum mismatch: damaged image"));
	write_file(fx, "pstree.img", raw, n - IMG_TRAILER_SIZE);
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "after entry #3, without a trailer"));
}

/* Intact files in the wrong place: under another name, or from another dump. */
static void test_swapped_and_foreign(void **state)
{
	struct fixture *fx = *state;
	FsEntry fs = FS_ENTRY__INIT;
	struct cr_img *img;

	fs.cwd = fs.root = "/";
	img_set_dump_id(0x1111);
	for (int pid = 1; pid <= 2; pid++) {
		img = open_image_at(fx->dfd, CR_FD_FS, O_DUMP, pid);
		assert_non_null(img);
		assert_int_equal(pb_write_one(img, &fs), 0);
		finish(img);
	}
	img = open_image_at(fx->dfd, CR_FD_FS, O_RDONLY, 1);
	assert_non_null(img);
	assert_true(img->dump_id == 0x1111);
	close_image(img);

	/* fs-2.img renamed to fs-3.img */
	assert_int_equal(renameat(fx->dfd, "fs-2.img", fx->dfd, "fs-3.img"), 0);
	assert_null(open_image_at(fx->dfd, CR_FD_FS, O_RDONLY, 3));
	assert_true(log_has(fx, "fs-3.img: written as another image file, not as fs-3.img (files swapped or renamed?)"));

	/* read as part of another dump */
	img_set_dump_id(0x2222);
	assert_null(open_image_at(fx->dfd, CR_FD_FS, O_RDONLY, 1));
	assert_true(log_has(fx, "written by another dump (id 0000000000001111, not 0000000000002222"));
	img_set_dump_id(0);
	img = open_image_at(fx->dfd, CR_FD_FS, O_RDONLY, 1);
	assert_non_null(img);
	close_image(img);
}

/*
 * A chain (pagechain.h): the images of a parent dir are another dump's,
 * read with that dump's id (open_image_of()) while the dump being read or
 * written has its own; with any other id, or with the global one, they
 * are refused.
 */
static void test_parent_dump_id(void **state)
{
	struct fixture *fx = *state;
	FsEntry fs = FS_ENTRY__INIT;
	struct cr_img *img;

	fs.cwd = fs.root = "/";
	img_set_dump_id(0x1111);	/* the parent dump */
	img = open_image_at(fx->dfd, CR_FD_FS, O_DUMP, 1);
	assert_non_null(img);
	assert_int_equal(pb_write_one(img, &fs), 0);
	finish(img);

	img_set_dump_id(0x2222);	/* the child, which reads its parent */
	assert_null(open_image_at(fx->dfd, CR_FD_FS, O_RDONLY, 1));
	img = open_image_of(fx->dfd, 0x1111, CR_FD_FS, 1);
	assert_non_null(img);
	assert_true(img->dump_id == 0x1111);
	close_image(img);
	assert_null(open_image_of(fx->dfd, 0x3333, CR_FD_FS, 1));
	assert_true(log_has(fx, "written by another dump (id 0000000000001111, not 0000000000003333"));
	/* id 0: any (how a parent's inventory is read, to learn its id) */
	img = open_image_of(fx->dfd, 0, CR_FD_FS, 1);
	assert_non_null(img);
	close_image(img);
	/* and the global id is the child's still */
	assert_true(img_get_dump_id() == 0x2222);
	img_set_dump_id(0);
}

/* The last entry taken out, trailer kept: the count (and checksum) say so. */
static void test_entry_missing(void **state)
{
	struct fixture *fx = *state;
	unsigned char raw[512], cut[512];
	size_t n = write_three(fx, raw, sizeof(raw)), off = 8, last = 0;

	while (get32(raw + off) != IMG_TRAILER_MARK) {
		last = off;
		off += 4 + get32(raw + off) + 4;
	}
	memcpy(cut, raw, last);
	memcpy(cut + last, raw + off, IMG_TRAILER_SIZE);
	write_file(fx, "pstree.img", cut, last + IMG_TRAILER_SIZE);
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "counts 3 entries, the file holds 2: damaged image"));
	(void)n;
}

/* Bytes after the trailer, and an image in the format before checksums. */
static void test_trailer_and_old_format(void **state)
{
	struct fixture *fx = *state;
	unsigned char raw[512], buf[8];
	size_t n = write_three(fx, raw, sizeof(raw));

	raw[n] = 0;
	write_file(fx, "pstree.img", raw, n + 1);
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "1 stray bytes after the trailer"));

	put32(buf, IMG_COMMON_MAGIC_V2);
	put32(buf + 4, img_descs[CR_FD_PSTREE].magic);
	write_file(fx, "pstree.img", buf, 8);
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "format version 2 or older, without checksums"));
}

/* A write given up on stays unsealed: nobody reads it as complete. */
static void test_finish_failed(void **state)
{
	struct fixture *fx = *state;
	PstreeEntry e = PSTREE_ENTRY__INIT;
	struct cr_img *img;

	img = open_image_at(fx->dfd, CR_FD_PSTREE, O_DUMP);
	assert_non_null(img);
	e.pid = 7;
	assert_int_equal(pb_write_one(img, &e), 0);
	assert_int_equal(finish_image(img, -1), -1);
	assert_null(open_image_at(fx->dfd, CR_FD_PSTREE, O_RDONLY));
	assert_true(log_has(fx, "without a trailer: truncated image"));
	assert_int_equal(finish_image(NULL, 0), -1);
}

static void alarm_fail(int sig)
{
	(void)sig;
	fail_msg("opening an image blocked");
}

/* A FIFO, a directory, a symlink or a device where an image belongs: refused at once. */
static void test_not_regular(void **state)
{
	struct fixture *fx = *state;
	char path[256], want[256];
	struct cr_img *img;

	signal(SIGALRM, alarm_fail);
	alarm(10);
	img = open_image_at(fx->dfd, CR_FD_FS, O_DUMP, 1);
	assert_non_null(img);
	finish(img);

	assert_int_equal(mkfifoat(fx->dfd, "core-1.img", 0600), 0);
	assert_null(open_image_at(fx->dfd, CR_FD_CORE, O_RDONLY, 1));
	assert_true(log_has(fx, "core-1.img is a FIFO, not a regular file"));
	assert_null(open_image_at(fx->dfd, CR_FD_CORE, O_DUMP, 1));
	path_of(fx, "core-1.img", path, sizeof(path));
	assert_null(open_image_path(path));
	assert_int_equal(open_image_file(fx->dfd, "core-1.img", O_RDONLY), -1);

	assert_int_equal(mkdirat(fx->dfd, "mm-1.img", 0700), 0);
	assert_null(open_image_at(fx->dfd, CR_FD_MM, O_RDONLY, 1));
	assert_true(log_has(fx, "mm-1.img is a directory, not a regular file"));
	assert_null(open_image_at(fx->dfd, CR_FD_MM, O_DUMP, 1));

	/* even a link to a good image */
	assert_int_equal(symlinkat("fs-1.img", fx->dfd, "fs-2.img"), 0);
	assert_null(open_image_at(fx->dfd, CR_FD_FS, O_RDONLY, 2));
	assert_true(log_has(fx, "fs-2.img is a symbolic link, not a regular file"));
	assert_null(open_image_at(fx->dfd, CR_FD_FS, O_DUMP, 2));
	assert_int_equal(symlinkat("/dev/zero", fx->dfd, "pages-1.img"), 0);
	assert_null(open_image_at(fx->dfd, CR_FD_PAGES, O_RDONLY, 1));

	if (mknodat(fx->dfd, "pagemap-1.img", S_IFCHR | 0600, makedev(1, 3)) == 0) {
		assert_null(open_image_at(fx->dfd, CR_FD_PAGEMAP, O_RDONLY, 1));
		assert_true(log_has(fx, "pagemap-1.img is a character device"));
		assert_null(open_image_at(fx->dfd, CR_FD_PAGEMAP, O_DUMP, 1));
	}
	alarm(0);
	snprintf(want, sizeof(want), "fs-1.img");
	img = open_image_at(fx->dfd, CR_FD_FS, O_RDONLY, 1);
	assert_non_null(img);
	close_image(img);
	(void)want;
}

/* Sparse object bytes: holes stay holes, every piece is checked, damage is named. */
static void test_sparse(void **state)
{
	struct fixture *fx = *state;
	size_t size = 5 * CSUM_CHUNK + 3 * CSUM_PAGE + 100, nr = sparse_nr_csum(size);
	uint64_t *csum = calloc(nr, sizeof(*csum));
	char *obj = calloc(1, size), *back = calloc(1, size);
	int src, dst;
	struct cr_img *img;
	struct stat st;

	assert_true(csum && obj && back);
	assert_int_equal(nr, 6);
	memset(obj + CSUM_CHUNK + 10, 0x5a, 3 * CSUM_PAGE);	/* data in piece 1 */
	memset(obj + size - 50, 0xa5, 50);			/* and at the very end */
	src = openat(fx->dfd, "obj", O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(src >= 0);
	assert_int_equal(ftruncate(src, size), 0);
	assert_int_equal(pwrite(src, obj + CSUM_CHUNK, 4 * CSUM_PAGE, CSUM_CHUNK), 4 * CSUM_PAGE);
	assert_int_equal(pwrite(src, obj + size - CSUM_PAGE, CSUM_PAGE, size - CSUM_PAGE), CSUM_PAGE);

	img = open_image_at(fx->dfd, CR_FD_SHMEM_PAGES, O_DUMP, 1);
	assert_non_null(img);
	dst = img->fd;
	assert_int_equal(save_sparse(src, dst, size, csum, img->path), 0);
	finish(img);
	close(src);
	assert_int_equal(fstatat(fx->dfd, "shmem-1.img", &st, 0), 0);
	assert_int_equal(st.st_size, size);
	assert_true(st.st_blocks * 512 < size / 2);	/* holes kept */
	assert_true(csum[0] == csum_zero(CSUM_CHUNK));

	img = open_image_at(fx->dfd, CR_FD_SHMEM_PAGES, O_RDONLY, 1);
	assert_non_null(img);
	assert_int_equal(load_sparse(img, size, back, csum, nr), 0);
	assert_memory_equal(obj, back, size);
	assert_int_equal(load_sparse(img, size, NULL, csum, nr - 1), -1);
	assert_true(log_has(fx, "5 checksums recorded for"));
	close_image(img);

	/* a byte changed in a hole of piece 3, and one in the data */
	dst = openat(fx->dfd, "shmem-1.img", O_RDWR);
	assert_int_equal(pwrite(dst, "x", 1, 3 * CSUM_CHUNK + 7), 1);
	img = open_image_at(fx->dfd, CR_FD_SHMEM_PAGES, O_RDONLY, 1);
	assert_int_equal(load_sparse(img, size, NULL, csum, nr), -1);
	close_image(img);
	assert_true(log_has(fx, "bytes 196608-262143 are damaged (checksum mismatch)"));
	assert_int_equal(pwrite(dst, "\0", 1, 3 * CSUM_CHUNK + 7), 1);
	assert_int_equal(pwrite(dst, "y", 1, CSUM_CHUNK + 100), 1);
	close(dst);
	img = open_image_at(fx->dfd, CR_FD_SHMEM_PAGES, O_RDONLY, 1);
	assert_int_equal(load_sparse(img, size, back, csum, nr), -1);
	close_image(img);
	assert_true(log_has(fx, "bytes 65536-131071 are damaged"));
	free(csum);
	free(obj);
	free(back);
}

/* show checks a pages file against the pagemap next to it. */
static void test_show_pages_checked(void **state)
{
	struct fixture *fx = *state;
	PagemapHead h = PAGEMAP_HEAD__INIT;
	PagemapEntry e = PAGEMAP_ENTRY__INIT;
	static char pages[3 * CSUM_PAGE];
	uint64_t csum[3];
	struct cr_img *img;
	char *out = NULL;
	int fd;

	for (size_t i = 0; i < sizeof(pages); i++)
		pages[i] = i * 13;
	write_file(fx, "pages-5.img", pages, sizeof(pages));
	csum_pages(pages, 3, csum);
	img = open_image_at(fx->dfd, CR_FD_PAGEMAP, O_DUMP, 40);
	assert_non_null(img);
	h.pages_id = 5;
	assert_int_equal(pb_write_one(img, &h), 0);
	e.vaddr = 0x10000;
	e.nr_pages = 3;
	e.n_csum = 3;
	e.csum = csum;
	assert_int_equal(pb_write_one(img, &e), 0);
	finish(img);

	assert_int_equal(show(fx, "pages-5.img", &out), 0);
	assert_string_equal(out, "{\"magic\": \"PAGES\", \"size\": 12288, \"pages\": 3, "
				 "\"checked_with\": \"pagemap-40.img\"}\n");
	free(out);

	fd = openat(fx->dfd, "pages-5.img", O_WRONLY);
	assert_int_equal(pwrite(fd, "!", 1, 2 * CSUM_PAGE + 9), 1);
	close(fd);
	out = NULL;
	assert_int_equal(show(fx, "pages-5.img", &out), -1);
	free(out);
	assert_true(log_has(fx, "pages-5.img: the page at offset 8192 (address 12000, pagemap-40.img entry #1) "
				"is damaged (checksum mismatch)"));
}

/* Two pages files (nr_files 2): each is checked against the entries of its own index. */
static void test_show_second_pages_file(void **state)
{
	struct fixture *fx = *state;
	PagemapHead h = PAGEMAP_HEAD__INIT;
	PagemapEntry e = PAGEMAP_ENTRY__INIT;
	static char pages[2][2 * CSUM_PAGE];
	uint64_t csum[2][2];
	struct cr_img *img;
	char *out = NULL;
	int fd;

	for (size_t i = 0; i < sizeof(pages[0]); i++) {
		pages[0][i] = i * 7;
		pages[1][i] = i * 11 + 1;
	}
	write_file(fx, "pages-6.img", pages[0], sizeof(pages[0]));
	write_file(fx, "pages-6.1.img", pages[1], sizeof(pages[1]));
	csum_pages(pages[0], 2, csum[0]);
	csum_pages(pages[1], 2, csum[1]);
	img = open_image_at(fx->dfd, CR_FD_PAGEMAP, O_DUMP, 41);
	assert_non_null(img);
	h.pages_id = 6;
	h.has_nr_files = true;
	h.nr_files = 2;
	assert_int_equal(pb_write_one(img, &h), 0);
	for (int f = 0; f < 2; f++) {
		e.vaddr = 0x10000 + f * 0x10000;
		e.nr_pages = 2;
		e.n_csum = 2;
		e.csum = csum[f];
		e.has_file = f;
		e.file = f;
		assert_int_equal(pb_write_one(img, &e), 0);
	}
	finish(img);

	for (int f = 0; f < 2; f++) {
		out = NULL;
		assert_int_equal(show(fx, f ? "pages-6.1.img" : "pages-6.img", &out), 0);
		assert_string_equal(out, "{\"magic\": \"PAGES\", \"size\": 8192, \"pages\": 2, "
					 "\"checked_with\": \"pagemap-41.img\"}\n");
		free(out);
	}
	fd = openat(fx->dfd, "pages-6.1.img", O_WRONLY);
	assert_int_equal(pwrite(fd, "!", 1, CSUM_PAGE + 9), 1);
	close(fd);
	out = NULL;
	assert_int_equal(show(fx, "pages-6.1.img", &out), -1);
	free(out);
	assert_true(log_has(fx, "pages-6.1.img: the page at offset 4096 (address 21000, pagemap-41.img entry #2) "
				"is damaged (checksum mismatch)"));
	out = NULL;
	assert_int_equal(show(fx, "pages-6.img", &out), 0);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_show_second_pages_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pstree_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_core_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pagemap_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_and_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_magic_word, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_common_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_type_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_beyond_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_entry_after_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_image_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_dump_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_pstree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_mm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_core, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_stats_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_raw_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_corrupt, setup, teardown),
		cmocka_unit_test(test_csum_builds),
		cmocka_unit_test_setup_teardown(test_damage_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapped_and_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trailer_and_old_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finish_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_pages_checked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
