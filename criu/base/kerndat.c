/* What the running kernel offers, probed once at start-up, and `criu check`. */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <stdint.h>
#include <sys/types.h>
#include "crtools.h"
#include "log.h"
#include "lazy.h"
#include "namespaces.h"
#include "sk-iter.h"
#include "util.h"
#include "uffd-move.h"

struct kerndat kdat;

static int probe_pagemap_scan(uint64_t category)
{
	struct page_region r[4];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (unsigned long)&kdat & ~4095UL,
		.end = ((unsigned long)&kdat & ~4095UL) + 4096,
		.vec = (unsigned long)r,
		.vec_len = 4,
		.category_anyof_mask = category,
		.return_mask = category,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return 0;
	ret = ioctl(fd, PAGEMAP_SCAN, &arg);
	close(fd);
	return ret >= 0;
}

static int probe_clone3_set_tid(void)
{
	struct clone_args args;
	long ret;

	/* set_tid_size without set_tid is refused with EINVAL where clone3 exists. */
	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	args.set_tid_size = 1;
	ret = syscall(__NR_clone3, &args, sizeof(args));
	if (ret == 0)
		_exit(0);
	if (ret > 0)
		return 1;
	return errno != ENOSYS && errno != E2BIG;
}

static void probe_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return;
	kdat.has_uffd = 1;
	/* tracking needs both: PAGEMAP_SCAN write-protects anonymous memory only with WP_UNPOPULATED */
	if (ioctl(fd, UFFDIO_API, &api) == 0 && (api.features & UFFD_FEATURE_WP_ASYNC) &&
	    (api.features & UFFD_FEATURE_WP_UNPOPULATED))
		kdat.has_uffd_wp_async = 1;
	close(fd);
}

/* The restorer moves huge pages into place with UFFDIO_MOVE on a userfaultfd only it may use. */
static void probe_uffd_move(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MOVE };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (fd < 0)
		return;
	kdat.has_uffd_move = ioctl(fd, UFFDIO_API, &api) == 0 && (api.features & UFFD_FEATURE_MOVE);
	close(fd);
}

static int probe_pidfd(void)
{
	int fd = syscall(__NR_pidfd_open, getpid(), 0);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int read_pipe_max(void)
{
	long long v;

	return read_num_file("/proc/sys/fs/pipe-max-size", &v) || v <= 0 || v > INT_MAX ? 1 << 20 : (int)v;
}

/* An executable of that name on PATH (the network lock runs nft, iptables-restore). */
static int in_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	for (const char *p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"; *p;) {
		size_t len = strcspn(p, ":");

		if (len && len + strlen(name) + 2 < sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name);
			if (!access(buf, X_OK))
				return 1;
		}
		p += len + (p[len] == ':');
	}
	return 0;
}

int kerndat_init(void)
{
	unsigned int mm_map_size = 0;

	kdat.has_pagemap_scan = probe_pagemap_scan(PAGE_IS_PRESENT);
	kdat.has_pagemap_scan_guard = kdat.has_pagemap_scan && probe_pagemap_scan(PAGE_IS_GUARD);
	kdat.has_clone3_set_tid = probe_clone3_set_tid();
	kdat.has_map_files = access("/proc/self/map_files", R_OK) == 0;
	kdat.has_ptrace_sigmask = 1;	/* Linux 3.11 */
	kdat.has_prctl_mm_map = prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &mm_map_size, 0, 0) == 0;
	kdat.has_pidfd = probe_pidfd();
	kdat.pipe_max_size = read_pipe_max();
	probe_uffd();
	probe_uffd_move();
	kdat.has_nft = in_path("nft");
	kdat.has_mem_track = kdat.has_pagemap_scan && kdat.has_uffd_wp_async;
	/* 4-level paging; 5-level kernels still hand out only 47-bit addresses by default. */
	kdat.task_size = (1UL << 47) - 4096;
	pr_debug("kerndat: pagemap_scan %d/%d clone3_set_tid %d map_files %d mm_map %d uffd %d/%d/%d pidfd %d pipe_max %d\n",
		 kdat.has_pagemap_scan, kdat.has_pagemap_scan_guard, kdat.has_clone3_set_tid, kdat.has_map_files, kdat.has_prctl_mm_map,
		 kdat.has_uffd, kdat.has_uffd_wp_async, kdat.has_uffd_move, kdat.has_pidfd, kdat.pipe_max_size);
	return 0;
}

struct feature {
	const char *name;
	const char *what;
	int *have;
	int required;
};

/* Features criu offers to clients: the kernel having them is not enough; 0 until criu does them. */
static int not_yet, yes = 1, mntns, lazy;

static struct feature feats[] = {
	{ "clone3_set_tid", "clone3() with set_tid, to restore tasks with their PIDs", &kdat.has_clone3_set_tid, 1 },
	{ "map_files", "/proc/PID/map_files, to share memory with the parasite", &kdat.has_map_files, 1 },
	{ "prctl_mm_map", "prctl(PR_SET_MM_MAP), to restore mm fields", &kdat.has_prctl_mm_map, 1 },
	{ "ptrace_sigmask", "PTRACE_GETSIGMASK/SETSIGMASK", &kdat.has_ptrace_sigmask, 1 },
	{ "pagemap_scan", "PAGEMAP_SCAN ioctl, to find present pages quickly", &kdat.has_pagemap_scan, 0 },
	{ "pidfd", "pidfd_open()", &kdat.has_pidfd, 0 },
	{ "uffd", "userfaultfd()", &kdat.has_uffd, 0 },
	{ "uffd_wp_async", "userfaultfd asynchronous write-protect", &kdat.has_uffd_wp_async, 0 },
	{ "uffd-noncoop", "lazy restore: userfaultfd with the fork, remap, remove and unmap events, kernel faults",
	  &lazy, 0 },
	{ "lazy_pages", "lazy restore (restore --lazy-pages, criu lazy-pages)", &lazy, 0 },
	{ "mem_dirty_track", "dirty page tracking for pre-dump and incremental dumps (userfaultfd asynchronous "
	  "write-protect and PAGEMAP_SCAN)", &kdat.has_mem_track, 0 },
	{ "external_net_ns", "an external net namespace (--external net[INO]:KEY)", &yes, 0 },
	{ "external_pid_ns", "an external pid namespace (--external pid[INO]:KEY)", &yes, 0 },
	{ "mntns", "a tree in a mount namespace of its own (its mount tree)", &mntns, 0 },
	{ "pidfd_store", "pidfd store for pre-dumps (not implemented yet)", &not_yet, 0 },
	{ "network_lock_nftables", "network locking with nftables (the nft command)", &kdat.has_nft, 0 },
	{ "dgram_iter", "BPF socket iterators over datagram queues (without them a unix datagram/seqpacket or UDP "
	  "socket with datagrams queued is refused)", &kdat.has_dgram_iter, 0 },
};

static const char *dgram_iter_why;
static double dgram_iter_load[DGRAM_ITER_NR], dgram_iter_run[DGRAM_ITER_NR];

/* Not at start-up: a dump makes its passes when a queue needs one; this costs a few ms. */
static void probe_dgram_iter(void)
{
	kdat.has_dgram_iter = dgram_iter_probe(&dgram_iter_why, dgram_iter_load, dgram_iter_run);
}

/* 1: there, 0: not there, -1: no such feature */
int cr_feature_check(const char *name)
{
	mntns = mnt_ns_supported();
	lazy = lazy_pages_supported();
	if (!strcmp(name, "dgram_iter"))
		probe_dgram_iter();
	for (size_t i = 0; i < ARRAY_SIZE(feats); i++)
		if (!strcmp(feats[i].name, name))
			return *feats[i].have ? 1 : 0;
	return -1;
}

int cr_check(const char *feature)
{
	struct utsname u;
	int missing = 0;

	mntns = mnt_ns_supported();
	lazy = lazy_pages_supported();
	/* NAME[,NAME...] (--feature repeated): each is answered, and all must be there */
	if (feature) {
		char name[64];
		int ret = 0;

		for (const char *p = feature, *e; *p; p = *e ? e + 1 : e) {
			int have;

			e = strchrnul(p, ',');
			if (e == p || e - p >= (long)sizeof(name)) {
				fprintf(stderr, "bad feature name '%.*s'\n", (int)(e - p), p);
				ret = 1;
				continue;
			}
			memcpy(name, p, e - p);
			name[e - p] = '\0';
			have = cr_feature_check(name);
			if (have < 0) {
				fprintf(stderr, "unknown feature %s\n", name);
				ret = 1;
				continue;
			}
			printf("%s is %ssupported\n", name, have ? "" : "NOT ");
			if (!have && (!strcmp(name, "lazy_pages") || !strcmp(name, "uffd-noncoop")))
				printf("  %s\n", lazy_pages_why());
			if (!have && !strcmp(name, "dgram_iter"))
				printf("  %s\n", dgram_iter_why);
			if (!have)
				ret = 1;
		}
		return ret;
	}

	probe_dgram_iter();
	uname(&u);
	printf("Kernel %s %s\n", u.release, u.machine);
	for (size_t i = 0; i < ARRAY_SIZE(feats); i++) {
		printf("  %-22s %-4s %s%s\n", feats[i].name, *feats[i].have ? "yes" : "no", feats[i].what,
		       feats[i].required ? " (required)" : "");
		if (feats[i].have == &kdat.has_dgram_iter && !kdat.has_dgram_iter)
			printf("  %-22s      %s\n", "", dgram_iter_why);
		else if (feats[i].have == &kdat.has_dgram_iter)
			printf("  %-22s      a pass: unix load %.2f ms run %.2f ms, udp load %.2f ms run %.2f ms\n", "",
			       dgram_iter_load[0], dgram_iter_run[0], dgram_iter_load[1], dgram_iter_run[1]);
		if (feats[i].required && !*feats[i].have)
			missing++;
	}
	if (check_privileges())
		missing++;
	if (missing) {
		printf("%d required feature(s) missing: dump and restore will not work here\n", missing);
		return 1;
	}
	printf("Looks good.\n");
	return 0;
}
