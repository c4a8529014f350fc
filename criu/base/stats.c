/* stats-dump and stats-restore in the work directory, as podman reads them. */
#include <unistd.h>

#include "cr_options.h"
#include "crtools.h"
#include "image.h"
#include "log.h"
#include "stats.pb-c.h"

/* Stats go to the work dir (-W), which defaults to the images dir. */
static int write_stats(int dfd, int type, StatsEntry *se)
{
	struct cr_img *img;
	int wfd = -1, ret;

	if (opts.work_dir) {
		wfd = open(opts.work_dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
		if (wfd < 0) {
			pr_perror("can't open work dir %s", opts.work_dir);
			return -1;
		}
		dfd = wfd;
	}
	img = open_image_at(dfd, type, O_DUMP);
	ret = finish_image(img, img ? pb_write_one(img, se) : -1);
	if (wfd >= 0)
		close(wfd);
	return ret;
}

int write_dump_stats(int dfd, const struct dump_stats *st)
{
	DumpStatsEntry ds = DUMP_STATS_ENTRY__INIT;
	StatsEntry se = STATS_ENTRY__INIT;

	ds.freezing_time = st->freezing_time;
	ds.frozen_time = st->frozen_time;
	ds.memdump_time = st->memdump_time;
	ds.memwrite_time = st->memwrite_time;
	ds.pages_scanned = st->pages_scanned;
	ds.pages_skipped_parent = st->pages_in_parent + st->pages_in_prev;
	ds.pages_written = st->pages_written;
	ds.pages_lazy = 0;
	se.dump = &ds;
	return write_stats(dfd, CR_FD_STATS_DUMP, &se);
}

int write_restore_stats(int dfd, const struct restore_stats *st)
{
	RestoreStatsEntry rs = RESTORE_STATS_ENTRY__INIT;
	StatsEntry se = STATS_ENTRY__INIT;

	rs.forking_time = st->forking_time;
	rs.restore_time = st->restore_time;
	rs.has_pages_restored = true;
	rs.pages_restored = st->pages_restored;
	rs.pages_skipped_cow = st->pages_cow;
	se.restore = &rs;
	return write_stats(dfd, CR_FD_STATS_RESTORE, &se);
}
