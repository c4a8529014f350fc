/*
 * A blob for test_compel: commands dispatched through a table of function
 * pointers (which makes the linker leave R_X86_64_RELATIVE relocations
 * that compel must apply at load time), fd passing both ways, and a
 * command that crashes on purpose.
 */
#include <linux/errno.h>

#include "compel/blob.h"
#include "testblob.h"

static int cmd_add(struct testblob_args *a)
{
	a->result = a->x + a->y;
	return 0;
}

static int cmd_getpid(struct testblob_args *a)
{
	a->result = sys_getpid();
	return 0;
}

/* Receive an fd, write a message into it, send a duplicate back. */
static int cmd_fds(struct testblob_args *a)
{
	int fd, ret;

	ret = compel_blob_recv_fds(&fd, 1);
	if (ret)
		return ret;
	if (sys_write(fd, "parasite", 8) != 8)
		return -EIO;
	ret = compel_blob_send_fds(&fd, 1);
	sys_close(fd);
	return ret;
}

static int cmd_crash(struct testblob_args *a)
{
	*(volatile int *)0 = 1;
	return 0;
}

/* An fd the daemon opens and does not note anywhere (as one stopped right after socket()). */
static int cmd_leak(struct testblob_args *a)
{
	long fd = sys_socket(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */, 0);

	a->result = fd;
	return fd < 0 ? fd : 0;
}

static const char greeting[] = "hello from the blob";

/* Pointers in data: these need relocating. */
static int (*const handlers[])(struct testblob_args *) = {
	[TB_CMD_ADD - TB_CMD_FIRST] = cmd_add,
	[TB_CMD_GETPID - TB_CMD_FIRST] = cmd_getpid,
	[TB_CMD_FDS - TB_CMD_FIRST] = cmd_fds,
	[TB_CMD_CRASH - TB_CMD_FIRST] = cmd_crash,
	[TB_CMD_LEAK - TB_CMD_FIRST] = cmd_leak,
};
static const char *const strings[] = { greeting };

static int handle(unsigned int cmd, void *data)
{
	struct testblob_args *a = data;

	if (cmd == TB_CMD_STRING) {
		memcpy(a->str, strings[0], sizeof(greeting));
		return 0;
	}
	if (cmd < TB_CMD_FIRST || cmd >= TB_CMD_FIRST + sizeof(handlers) / sizeof(handlers[0]))
		return -ENOSYS;
	return handlers[cmd - TB_CMD_FIRST](a);
}

long blob_main(void *args)
{
	return compel_daemon(args, handle);
}
