// SPDX-License-Identifier: GPL-2.0-only
/* pty_queued with --leave-running: the queues read at dump are back in the live ptys. */
#include "pty_queued.c"
