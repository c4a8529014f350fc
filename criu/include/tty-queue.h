/* Bytes queued inside a pty, taken at dump and put back (criu/files/tty-queue.c). */
#ifndef CR_TTY_QUEUE_H
#define CR_TTY_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct termios2;

struct ttyq_buf {
	uint8_t *data;
	size_t len;
};

/* The master being looked at (for messages) and its modes. */
struct ttyq_ctx {
	pid_t pid;
	int fd;
	uint32_t index;
	int packet;		/* TIOCPKT on */
	int locked;		/* TIOCGPTLCK */
};

/*
 * Dump, tree frozen: read the output queued for master @m (a copy of the
 * task's) and the input queued for its slave into @out and @in, and put
 * both back at once. Refuses (nothing read) what can't be put back exactly.
 */
int ttyq_dump(const struct ttyq_ctx *c, int m, struct ttyq_buf *in, struct ttyq_buf *out);

/* Restore: queue @in for the slave and @out for master @m, whose termios is set already. */
int ttyq_restore(int m, uint32_t index, const struct ttyq_buf *in, const struct ttyq_buf *out);

/* Write @in through master @m and @out through slave @s with the processing off, then @orig back. */
int ttyq_feed(int m, int s, const struct termios2 *orig, const struct ttyq_buf *in, const struct ttyq_buf *out);

#endif
