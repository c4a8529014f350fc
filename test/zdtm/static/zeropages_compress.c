// SPDX-License-Identifier: GPL-2.0-only
/* zeropages (see there) with --compress: zero pages stay out, data comes back */
#include "zeropages.c"
