// SPDX-License-Identifier: GPL-2.0-only
/* mem_dirty (see there) with --auto-dedup: what each dump replaces is punched out of the chain */
#include "mem_dirty.c"
