/* Bytes queued inside a pty, taken at dump and put back (criu/files/tty-queue.c). */
#ifndef CR_TTY_QUEUE_H
#define CR_TTY_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct termios2;
struct file_times;

struct ttyq_buf {
	uint8_t *data;
	size_t len;
};

/* A whole line queued for the slave in canonical mode. */
struct ttyq_line {
	struct ttyq_buf b;	/* with its newline or EOL character */
	int eof;		/* ended by the EOF character, which the queue does not keep as a byte */
};

/* What is queued in a pty. */
struct ttyq {
	struct ttyq_buf out;		/* written by the slave, for the master */
	struct ttyq_buf in;		/* non-canonical input, for the slave */
	struct ttyq_line *lines;	/* canonical input: whole lines */
	size_t nr_lines;
	struct ttyq_buf partial;	/* canonical input: the line typed in part after them */
};

/* The master being looked at (for messages) and its modes. */
struct ttyq_ctx {
	pid_t pid;
	int fd;
	uint32_t index;
	int packet;		/* TIOCPKT on */
	int locked;		/* TIOCGPTLCK */
	const char *node;	/* the slave's node, whose times go back to @times after */
	const struct file_times *times;
};

/*
 * Dump, tree frozen: read what is queued in the pty of master @m (a copy of
 * the task's) into @q, and put it back at once, in a process of its own
 * that finishes with criu killed. Refuses (nothing read) what can't be put
 * back exactly.
 */
int ttyq_dump(const struct ttyq_ctx *c, int m, struct ttyq *q);
void ttyq_free(struct ttyq *q);

/* Restore: queue @q again in the pty of master @m, whose termios is set already. */
int ttyq_restore(int m, uint32_t index, const struct ttyq *q);

/* Write @q through master @m and slave @s with the processing off, then @orig back. */
int ttyq_feed(int m, int s, const struct termios2 *orig, const struct ttyq *q);

#endif
