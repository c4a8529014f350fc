// SPDX-License-Identifier: GPL-2.0-only
/* The threads test with 500 threads. */
#include <stdlib.h>

static void set_count(void) __attribute__((constructor));
static void set_count(void)
{
	setenv("ZDTM_THREADS", "500", 0);
}

#include "threads.c"
