// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: pty_queued with one more pty (fd 95) whose slave was never
 * opened, refused after the other ptys' queues were taken and put back. The
 * failed dump must leave every queued byte where it was, in order.
 */
#define PTYQ_FAIL
#include "pty_queued.c"
