/* Building an SCM_RIGHTS message: shared by the tool side and the blob side. */
#ifndef COMPEL_FDMSG_H
#define COMPEL_FDMSG_H

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define COMPEL_MAX_FDS	64

/* One dummy byte carrying @nr fds in @cbuf (CMSG_SPACE of COMPEL_MAX_FDS ints). 0 or -1. */
static inline int compel_fds_msg(struct msghdr *mh, struct iovec *iov, char *cbuf, int nr, char *dummy)
{
	struct cmsghdr *ch;

	if (nr <= 0 || nr > COMPEL_MAX_FDS)
		return -1;
	memset(mh, 0, sizeof(*mh));
	iov->iov_base = dummy;
	iov->iov_len = 1;
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	mh->msg_control = cbuf;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * nr);
	ch = CMSG_FIRSTHDR(mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int) * nr);
	return 0;
}

#endif
