/*
 * UFFDIO_MOVE (Linux 6.8) and UFFD_USER_MODE_ONLY: Debian's kernel headers
 * predate the first, so its definitions live here; kerndat probes whether
 * the kernel has it (kdat.has_uffd_move).
 */
#ifndef CR_UFFD_MOVE_H
#define CR_UFFD_MOVE_H

#include <linux/types.h>
#include <linux/userfaultfd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif

#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE		(1 << 16)
#endif

#ifndef UFFDIO_MOVE
#define _UFFDIO_MOVE			(0x05)
#define UFFDIO_MOVE_MODE_DONTWAKE	((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)

struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
	__u64 mode;
	__s64 move;	/* bytes moved, or -errno */
};

#define UFFDIO_MOVE			_IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

#endif
