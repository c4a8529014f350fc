// SPDX-License-Identifier: GPL-2.0-only
/* mem_dirty (see there) with --compress: a chain of compressed images */
#include "mem_dirty.c"
