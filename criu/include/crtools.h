#ifndef CR_CRTOOLS_H
#define CR_CRTOOLS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pagemap_scan.h"

int cr_dump_tasks(pid_t pid);
int cr_pre_dump_tasks(pid_t pid);
int cr_restore_tasks(void);
int cr_check(const char *feature);
int cr_feature_check(const char *name);
extern pid_t cr_restored_pid;		/* the root of the last restore, once it runs */

/* crtools.c: options by their long name, from config files and swrk requests */
int cr_option_set(const char *name, const char *arg);
int cr_option_given(const char *name, const char *arg);
int cr_option_check_use(const char *action, const char *field);
int cr_option_exec_cmd(char *const *argv, size_t n);
void cr_exec_cmd(void);
int parse_config_file(const char *path, bool missing_ok);
int cr_setup_log(void);

/* Kernel features probed at start-up. */
struct kerndat {
	int has_pagemap_scan;
	int has_pagemap_scan_guard;	/* PAGE_IS_GUARD (6.16) */
	int has_clone3_set_tid;
	int has_map_files;
	int has_ptrace_sigmask;
	int has_prctl_mm_map;
	int has_uffd;
	int has_uffd_wp_async;
	int has_uffd_move;	/* UFFDIO_MOVE with a user-mode-only userfaultfd (anyone may make one) */
	int has_nft;		/* the nft command, for --network-lock nftables */
	int has_pidfd;
	int has_dgram_iter;	/* BPF socket iterators read datagram queues (sk-iter.c): probed by check only */
	int has_mem_track;	/* --track-mem works: PAGEMAP_SCAN and uffd WP_ASYNC + WP_UNPOPULATED */
	int pipe_max_size;
	unsigned long task_size;
};

extern struct kerndat kdat;
int kerndat_init(void);

/* stats.c */
struct dump_stats {
	uint64_t freezing_time, frozen_time, memdump_time, memwrite_time;
	uint64_t pages_scanned, pages_written, pages_zero;
	uint64_t pages_in_parent;	/* left out: still shared with the parent (cow.c) */
	uint64_t pages_in_prev;		/* left out: unchanged since the previous images (--track-mem) */
};
struct restore_stats {
	uint64_t forking_time, restore_time, pages_restored;
	uint64_t pages_cow;		/* shared with the parent again, not read (cow.c) */
};
int write_dump_stats(int dfd, const struct dump_stats *st);
int write_restore_stats(int dfd, const struct restore_stats *st);

#endif
