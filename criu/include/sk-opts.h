/*
 * Socket options: the ones every family has (SOL_SOCKET, sk-opts.c), and
 * the table-driven reading and setting that the families use for their own
 * levels (IP, IPv6, TCP, UDP, ...).
 */
#ifndef CR_SK_OPTS_H
#define CR_SK_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "sk-opts.pb-c.h"

/* When an option goes back at restore. */
enum {
	SK_OPT_EARLY,		/* before bind/connect: it changes what they do */
	SK_OPT_LATE,		/* once the socket is bound, connected and its queues filled */
	SK_OPT_LAST,		/* after everything else (it locks or changes the rest) */
};

/*
 * An integer option and the image fields keeping it: the protobuf-c
 * has_FIELD flag and the (u)int32 FIELD of a message.
 */
struct sk_opt {
	int level, name;
	const char *str;
	size_t has, val;
	int stage;
};

#define SK_OPT(lvl, opt, type, field, stg) \
	{ lvl, opt, #opt, offsetof(type, has_##field), offsetof(type, field), stg }

/*
 * Read every option of @tab into @msg. An option this kernel or this kind
 * of socket lacks is left out; any other error is one. @who names the
 * socket in messages.
 */
int sk_opts_read(int sk, const struct sk_opt *tab, size_t n, void *msg, const char *who);
/* Set the options of @tab in stage @stage that the image has and that differ from @sk's. */
int sk_opts_write(int sk, const struct sk_opt *tab, size_t n, const void *msg, int stage, const char *who);

/* SOL_SOCKET: read @e (allocated by the caller, initialised here). */
int sk_opts_dump(int sk, SkOptsEntry *e, const char *who);
/*
 * Set the SOL_SOCKET options of one stage. With @bufs_raised (buffers
 * grown to refill queues) both buffer sizes go back even if the task
 * never set them, and then which of them it had fixed (SO_BUF_LOCK).
 */
int sk_opts_restore(int sk, const SkOptsEntry *e, int stage, int bufs_raised, const char *who);
void sk_opts_free(SkOptsEntry *e);

/* The file flags of a restored socket (but O_ASYNC, which fown sets at the final fd number). */
int sk_set_flags(int sk, uint32_t flags, const char *who);
/* The end of a socket's restore: the SOL_SOCKET options of the late and last stages, then its file flags. */
int sk_opts_finish(int sk, const SkOptsEntry *e, uint32_t flags, const char *who);

/* Raise both buffers so that queues of @bytes can be put back. */
int sk_raise_bufs(int sk, size_t bytes, const char *who);

#endif
