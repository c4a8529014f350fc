// SPDX-License-Identifier: GPL-2.0-only
/* As netns_ext, restored with --join-ns net:PATH (ext_ns "net-join"). */
#include "netns_ext.c"
