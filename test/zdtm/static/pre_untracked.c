// SPDX-License-Identifier: GPL-2.0-only
/* mem_dirty (see there) under a desc of its own: pre_untracked */
#include "mem_dirty.c"
