/*
 * Dirty-page tracking between dumps, without soft-dirty: each tracked
 * process's private anonymous areas are registered with a userfaultfd in
 * asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC). A write to a
 * protected page just clears its protection, which PAGEMAP_SCAN reports
 * as PAGE_IS_WRITTEN and, with PM_SCAN_WP_MATCHING, sets again as it
 * reports. The registration lasts while some fd of the userfaultfd is
 * open: between two criu commands a tracker process criu leaves behind
 * holds them (track.img in the images dir says where). See
 * Documentation/incremental.md.
 */
#ifndef CR_TRACK_H
#define CR_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pagerange.h"

struct parasite_ctl;
struct mm_dump;

/* A dump's view of one process's tracking. */
struct track_task {
	pid_t pid;
	uint64_t start_time;
	int uffd;		/* ours (the tracker's, or made now in the task), -1 if none */
	bool since_prev;	/* its WRITTEN bits count from the round the parent images were taken at */
	struct page_list cover;	/* pages the parent images hold for it (pagechain.c) */
};

/* The tracking state a dump found and leaves. */
struct track_state {
	int prev_dfd;		/* parent images dir, or -1 */
	bool valid;		/* a live tracker whose round is the parent images' */
	pid_t tracker_pid;	/* the tracker found, 0 if none */
	int tracker_pidfd;
	int state_fd;		/* our copy of the tracker's generation memfd, or -1 */
	uint64_t generation;
	void *entry;		/* the parent's TrackEntry */
	struct track_task *tasks;
	int nr_tasks;
};

/*
 * Find the tracker the parent images (@prev_dfd, or -1) name, and whether
 * its WRITTEN bits are relative to those images. Never fails for a lost
 * tracking: it says so in the log and the dump is a full one.
 */
int track_open(struct track_state *ts, int prev_dfd);
/*
 * The tracking of process @pid (seized, @ctl prepared): the tracker's
 * userfaultfd for it, or with @make a new one made in the task. With
 * @reg, private anonymous areas not registered yet are registered now
 * (md->wp records which are). 0 or -1.
 */
int track_task(struct track_state *ts, struct parasite_ctl *ctl, pid_t pid, uint64_t start_time,
	       struct mm_dump *md, bool make, bool reg, struct track_task **out);
/* Before write-protecting again: the tracker's round no longer matches any images. */
int track_invalidate(struct track_state *ts);
/*
 * After a successful dump that goes on tracking: a tracker holding every
 * tracked process's userfaultfd, the round recorded in @dfd/track.img;
 * the old tracker goes. 0 or -1.
 */
int track_commit(struct track_state *ts, int dfd);
/*
 * After a dump that ends the tracking (the tree was killed): the tracker
 * goes. Either way our copies are closed.
 */
void track_close(struct track_state *ts, bool end_tracker);

/*
 * A new tracker (in criu's pid namespace): a socket to it, its pid and
 * start time; -1 if it can't be had. A pidfd of the tracker @pid started
 * at @start, or -1 (errno ESRCH: gone). Called from a dump agent through
 * criu outside it (namespaces.h).
 */
int tracker_fork(pid_t *pid, uint64_t *start);
int tracker_pidfd(pid_t pid, uint64_t start);

/* Is the area [start, end) of @pid registered for asynchronous write-protect? 1, 0, or -1. */
int track_area_async(pid_t pid, uint64_t start, uint64_t end);

#endif
