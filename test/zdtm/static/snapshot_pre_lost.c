// SPDX-License-Identifier: GPL-2.0-only
/*
 * snapshot_pre (see there) with the memory tracker killed between the
 * pre-dump and the dump (its desc): the areas are no longer registered,
 * so the snapshot write-protects them and copies every page while the
 * task runs, a full dump of the snapshot instant on top of the chain.
 */
#define SNAP_STILL_PAGES	4096
#include "snapshot_writer.c"
