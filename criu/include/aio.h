/*
 * AIO contexts (io_setup). A context is a ring mapped in the task ("/[aio]"),
 * its address the context's id. The dump saves the ring's geometry and the
 * completed events not reaped yet; the restorer makes a context with a ring
 * as big, moves it to the address, brings the kernel's head and tail where
 * they were and writes the events back (criu/pie/restorer.c).
 */
#ifndef CR_AIO_H
#define CR_AIO_H

#include <stdint.h>
#include <sys/types.h>

#include "mm.pb-c.h"
#include "proc_parse.h"

/* The kernel's ring header (struct aio_ring, fs/aio.c) */
struct aio_ring_hdr {
	uint32_t id;
	uint32_t nr;
	uint32_t head;
	uint32_t tail;
	uint32_t magic;
	uint32_t compat_features;
	uint32_t incompat_features;
	uint32_t header_length;
};

#define AIO_RING_MAGIC		0xa10a10a1
#define AIO_RING_INCOMPAT	0
#define AIO_EVENT_SIZE		32	/* struct io_event */

/* Is this area of maps an AIO ring? */
int aio_is_ring(const struct proc_vma *p);
/* Fill @v (kind VMA_AIO) from the ring of @pid at @p; refuse what can't come back. 0 or -1. */
int aio_dump_ring(pid_t pid, const struct proc_vma *p, VmaEntry *v);
void aio_free(AioRingEntry *e);

/*
 * The io_setup() argument that gives a ring of @len bytes on this machine,
 * or 0 if none does (more CPUs here than where it was made); @who for the
 * message.
 */
uint32_t aio_nr_for_len(uint64_t len, const char *who);

#endif
