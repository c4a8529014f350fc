/*
 * criu pre-dump: the memory of a tree, taken while it runs. The tree is
 * frozen only to find its pages and (with --track-mem) start tracking the
 * ones it writes: each process makes a userfaultfd (an injected syscall),
 * its private anonymous areas are registered for asynchronous
 * write-protect, and PAGEMAP_SCAN reports the pages while protecting them.
 * Then the tree runs again and the pages are copied from /proc/PID/mem. A
 * page written after the scan is copied in whatever state it is in, and
 * is taken again by the next dump of the chain, which sees it written.
 * Only pagemap and pages images, track.img and an inventory marked
 * pre_dump are written: the images are a parent for later dumps
 * (--prev-images-dir), not a restorable dump.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"
#include "namespaces.h"
#include "pagechain.h"
#include "page-server.h"
#include "track.pb-c.h"

static int find_pages(struct dump_tree *t, struct dump_ctx *dc, struct predump_pages **out)
{
	struct page_opts po = { .protect = opts.track_mem };
	struct parasite_ctl *ctl;
	int ret = -1;

	if (parse_pid_stat(dc->pid, &dc->stat))
		return -1;
	if (preread_take(&t->preread, dc))
		pr_debug("task %d: %d memory areas as read before the freeze (no syscall since, maps the same)\n",
			 dc->pid, dc->nr_pvmas);
	else if (parse_smaps(dc->pid, &dc->pvmas, &dc->nr_pvmas, &dc->smaps))
		return -1;
	if (collect_vmas(dc->pid, dc->pvmas, dc->nr_pvmas, dc->files, &dc->md))
		return -1;
	ctl = compel_prepare(dc->pid);
	if (!ctl)
		return -1;
	if (track_process(t, dc, ctl, po.protect))
		goto cure;
	po.tt = dc->tt;
	*out = predump_find(dc->pid, &dc->md, dc->st, &po);
	ret = *out ? 0 : -1;
cure:
	if (compel_cure(ctl)) {
		pr_err("failed to put %d back cleanly\n", dc->pid);
		ret = -1;
	}
	return ret;
}

static int pre_dump(pid_t pid, bool hooks)
{
	struct dump_tree t = { .dfd = -1, .prev_dfd = -1,
			       .track = { .prev_dfd = -1, .tracker_pidfd = -1, .state_fd = -1 } };
	struct dump_ctx probe = { .pid = pid };
	struct predump_pages **pp = NULL;
	uint64_t t_start, t_frozen = 0;
	int ret = -1, frozen = 0;
	bool copied = false;	/* --pre-dump-mode splice: before the tree ran again */

	t.dfd = open(opts.imgs_dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (t.dfd < 0) {
		pr_perror("can't open images dir %s", opts.imgs_dir);
		return -1;
	}
	if (faccessat(t.dfd, ".", W_OK, AT_EACCESS)) {
		pr_perror("images dir %s is not writable", opts.imgs_dir);
		goto out_close;
	}
	if (opts.track_mem && (!kdat.has_pagemap_scan || !kdat.has_uffd_wp_async)) {
		pr_err("--track-mem needs PAGEMAP_SCAN and userfaultfd asynchronous write-protect (Linux 6.7)\n");
		goto out_close;
	}
	if (check_task(&probe)) {
		free_pid_status(&probe.status);
		goto out_close;
	}
	free_pid_status(&probe.status);
	if ((hooks && run_hook(HOOK_PRE_DUMP, 0, -1)) || cgroup_dump_init())
		goto out_close;
	preload_covers(&t);
	preread_tree(&t.preread, pid);

	t_start = now_us();
	/* --freeze-cgroup as dump does it: a frozen cgroup's tasks are seized frozen */
	if (freeze_all(&t, pid))
		goto out_release;
	t_frozen = now_us();
	frozen = 1;
	t.st.freezing_time = t_frozen - t_start;
	unlinkat(t.dfd, "inventory.img", 0);
	unlinkat(t.dfd, "track.img", 0);
	/* a pre-dump is a dump of its own in the chain: its images carry its own id (pagechain.h) */
	img_set_dump_id(new_dump_id());
	if (check_ipc(&t) || check_mntns(&t) || open_prev_images(&t) || (opts.track_mem && track_invalidate(&t.track)) ||
	    mark_vm_children(&t))
		goto out_release;
	preread_verify(&t.preread, &t);
	pp = calloc(t.nr, sizeof(*pp));
	if (!pp)
		goto out_release;
	for (int i = 0; i < t.nr; i++)
		if (!t.p[i].zombie && !t.p[i].vm_from && find_pages(&t, &t.p[i], &pp[i]))
			goto out_release;
	/*
	 * --pre-dump-mode splice (the original tool's default, where the
	 * pages go into pipes before the tree runs again): the pages are
	 * copied now, with the tree frozen, so the images hold its memory as
	 * of the freeze, for a longer freeze. read (ours): after it runs again.
	 */
	if (opts.pre_dump_mode == PRE_DUMP_SPLICE) {
		pr_info("--pre-dump-mode splice: the pages are copied with the tree frozen\n");
		for (int i = 0; i < t.nr; i++)
			if (pp[i] && predump_copy(pp[i], t.p[i].pid, t.dfd, t.p[i].pages_id, &t.st))
				goto out_release;
		copied = true;
	}
	ret = 0;
out_release:
	/* the tree runs again from here; what it writes now is tracked */
	if (frozen) {
		cgfreeze_refreeze();
		if (finish_tree(&t, 0, t_frozen))
			ret = -1;
	}
	/* the syscall counters go before the copy: the tree runs again */
	preread_free(&t.preread);
	cgfreeze_end();
	for (int i = 0; i < t.nr && !ret && !copied; i++)
		if (pp[i] && predump_copy(pp[i], t.p[i].pid, t.dfd, t.p[i].pages_id, &t.st))
			ret = -1;
	/* the inventory goes to the page server too (a parent there): before the end of the pages */
	if (!ret)
		ret = write_inventory(t.dfd, pid, true, NULL);
	if (!ret && ps_finish())
		ret = -1;
	if (!ret && opts.track_mem) {
		if (track_commit(&t.track, t.dfd))
			pr_warn("memory tracking could not start: the next dump will be a full one\n");
		track_close(&t.track, true);
	} else {
		/* a failed pre-dump takes back the tracking it started */
		track_close(&t.track, false);
	}
	if (ret == 0) {
		dedup_chain(&t);
		write_dump_stats(t.dfd, &t.st);
		pr_info("pre-dump of %d done: %d processes, %lu pages written (%lu unchanged since the previous "
			"images), frozen for %lu us\n", pid, t.nr, (unsigned long)t.st.pages_written,
			(unsigned long)t.st.pages_in_prev, (unsigned long)t.st.frozen_time);
	} else {
		/* what was written is of no use: give the room back (a full disk is one way to get here) */
		unlinkat(t.dfd, "inventory.img", 0);
		for (int i = 0; i < t.nr; i++) {
			char name[64];

			snprintf(name, sizeof(name), "pagemap-%d.img", t.p[i].pid);
			unlinkat(t.dfd, name, 0);
			snprintf(name, sizeof(name), "pages-%u.img", t.p[i].pages_id);
			unlinkat(t.dfd, name, 0);
			snprintf(name, sizeof(name), "pages-%u.1.img", t.p[i].pages_id);
			unlinkat(t.dfd, name, 0);
		}
		pr_err("pre-dump of %d failed; the tree was left running\n", pid);
	}
out_close:
	for (int i = 0; pp && i < t.nr; i++)
		predump_free(pp[i]);
	free(pp);
	for (int i = 0; i < t.nr; i++)
		free_ctx(&t.p[i]);
	free(t.p);
	pidmap_free(&t.idx);
	free_covers(&t);
	preread_free(&t.preread);
	file_table_free(&t.files);
	cgroup_dump_fini();
	mntns_dump_fini();
	if (t.prev_dfd >= 0)
		close(t.prev_dfd);
	ps_close();
	close(t.dfd);
	return ret;
}

static int pre_dump_tree_of(pid_t pid)
{
	if (opts.lazy_pages) {
		pr_err("--lazy-pages is not supported yet for pre-dump\n");
		return -1;
	}
	return pre_dump(pid, true);
}

/*
 * As a dump: from inside the tree's pid namespace if it is not criu's, so
 * that the images name the tasks by the pids the final dump and the
 * restore use. Only memory is taken: the namespaces are the final dump's.
 */
int cr_pre_dump_tasks(pid_t pid)
{
	if (check_privileges())
		return -1;
	if (ns_init_self())
		return -1;
	return ns_dump_run(pid, pre_dump_tree_of);
}

/* ---- live rounds of a dump ---- */

#define LIVE_ROUNDS	2
#define LIVE_MIN_PAGES	2048	/* 8 MiB: below that the frozen dump writes them faster than a round */

/*
 * Pages of @pid written since the last round (all present pages of areas
 * not tracked), area by area: PAGE_IS_FILE (a look at each page's struct
 * page) only where it tells something, in private file mappings. Before
 * a --snapshot dump only the tracked areas' count (PAGE_IS_WPALLOWED: an
 * asynchronous write-protect registration, the tracking's): their pages
 * written since are read while the tree is frozen, those of other areas
 * are write-protected by the snapshot and copied while it runs.
 */
static int64_t written_in(pid_t pid)
{
	uint64_t tracked = opts.snapshot ? PAGE_IS_WPALLOWED : 0;
	struct page_region r[256];
	struct proc_vma *v;
	int64_t total = 0;
	char path[64];
	int fd, nr;

	if (parse_maps(pid, &v, &nr))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < nr && fd >= 0 && total >= 0; i++) {
		uint64_t file = v[i].ino ? PAGE_IS_FILE : 0;
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = v[i].start,
			.end = v[i].end,
			.vec = (unsigned long)r,
			.vec_len = ARRAY_SIZE(r),
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.category_inverted = PAGE_IS_PFNZERO | file,
			.category_mask = PAGE_IS_PFNZERO | file | PAGE_IS_WRITTEN | tracked,
			.return_mask = PAGE_IS_WRITTEN,
		};

		if (v[i].shared || (v[i].name && !strcmp(v[i].name, "[vsyscall]")))
			continue;
		while (arg.start < arg.end) {
			long n = ioctl(fd, PAGEMAP_SCAN, &arg);

			if (n < 0) {
				total = -1;
				break;
			}
			for (long k = 0; k < n; k++)
				total += (r[k].end - r[k].start) >> PAGE_SHIFT;
			if (arg.walk_end <= arg.start)
				break;
			arg.start = arg.walk_end;
		}
	}
	if (fd < 0)
		total = -1;
	else
		close(fd);
	free_maps(v, nr);
	return total;
}

/*
 * Pages of the tracked processes written since the round of the images in
 * @prev_dfd (all present pages of areas not tracked): what a dump would
 * write while the tree is frozen. A look while the tree runs; -1 if it
 * can't be had.
 */
static int64_t written_since(int prev_dfd)
{
	struct cr_img *img;
	TrackEntry *te = NULL;
	int64_t total = 0;
	uint64_t prev_id;

	if (image_exists(prev_dfd, CR_FD_TRACK) <= 0 || chain_dump_id(prev_dfd, &prev_id))
		return -1;
	img = open_image_of(prev_dfd, prev_id, CR_FD_TRACK);
	if (!img || pb_read_one_required(img, (void **)&te)) {
		close_image(img);
		return -1;
	}
	close_image(img);
	for (size_t i = 0; i < te->n_tasks && total >= 0; i++) {
		int64_t n = written_in(te->tasks[i]->pid);

		total = n < 0 ? -1 : total + n;
	}
	track_entry__free_unpacked(te, NULL);
	return total;
}

/*
 * Before a dump with --prev-images-dir freezes the tree: if much was
 * written since the previous images, a pre-dump round (into DIR/.live-N,
 * whose parent is the previous images) takes it while the tree runs, and
 * the dump's parent is that round. So the tree is frozen only for what it
 * writes during the last round, as live migration converges. A round that
 * fails changes nothing: the dump goes on from the images it had.
 */
int dump_live_rounds(pid_t pid)
{
	const char *prev = opts.prev_images_dir;
	char *own[LIVE_ROUNDS] = { NULL };
	int dfd, ret = 0;

	if (!prev || !kdat.has_mem_track || opts.no_live_rounds)
		return 0;
	dfd = open(opts.imgs_dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	for (int round = 1; round <= LIVE_ROUNDS; round++) {
		struct cr_options saved = opts;
		int pdfd = openat(dfd, prev, O_PATH | O_DIRECTORY | O_CLOEXEC);
		int64_t dirty = pdfd >= 0 ? written_since(pdfd) : -1;
		char name[32], *dir = NULL, *up = NULL;

		if (pdfd >= 0)
			close(pdfd);
		if (dirty >= 0 && dirty < LIVE_MIN_PAGES)
			break;
		snprintf(name, sizeof(name), ".live-%d", round);
		if ((mkdirat(dfd, name, 0700) && errno != EEXIST) || asprintf(&dir, "%s/%s", opts.imgs_dir, name) < 0 ||
		    asprintf(&up, "%s%s", prev[0] == '/' ? "" : "../", prev) < 0) {
			free(dir);
			free(up);
			break;
		}
		pr_info("dump: %ld pages written since the previous images: a live round into %s first\n",
			(long)dirty, name);
		opts.imgs_dir = dir;
		opts.prev_images_dir = up;
		opts.track_mem = true;
		opts.work_dir = NULL;
		/* with a page server, the round's pages go to the same subdir there, on the dump's connection */
		if (opts.page_server)
			ps_round(name);
		ret = pre_dump(pid, false);
		opts = saved;
		free(dir);
		free(up);
		if (ret) {
			pr_warn("the live round failed: the dump goes on from %s\n", prev);
			/* what it left (logs, stats) goes with it */
			remove_flat_dir(dfd, name);
			ret = 0;
			break;
		}
		own[round - 1] = strdup(name);
		if (!own[round - 1])
			break;
		prev = own[round - 1];
	}
	close(dfd);
	/* the dump's own images go to the server's dir (a round given up is removed there on its hello) */
	ps_rounds_end();
	opts.prev_images_dir = prev;	/* lives as long as the run, as options do */
	for (int i = 0; i < LIVE_ROUNDS; i++)
		if (own[i] && own[i] != prev)
			free(own[i]);
	return ret;
}
