// SPDX-License-Identifier: GPL-2.0-only
/*
 * snapshot_writer (see there) dumped with `dump -R --snapshot` on top of a
 * pre-dump (its desc), with 16 MiB more written once before the dumps and
 * never after: those pages are left in the pre-dump (in_prev, the log must
 * say so), the ones written since are taken as of the snapshot instant.
 */
#define SNAP_STILL_PAGES	4096
#include "snapshot_writer.c"
