/*
 * AIO contexts: the dump side (see aio.h), and the ring geometry both
 * sides compute.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "aio.h"
#include "log.h"
#include "pagerange.h"
#include "util.h"

int aio_is_ring(const struct proc_vma *p)
{
	return p->name && p->shared && !strcmp(p->name, "/[aio]");
}

/* num_possible_cpus(): the kernel sizes rings by it. 0 if unknown. */
static unsigned possible_cpus(void)
{
	char buf[256], *s = buf;
	unsigned n = 0;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");

	if (!f)
		return 0;
	if (read_line(f, buf, sizeof(buf), "/sys/devices/system/cpu/possible") <= 0)
		buf[0] = '\0';
	fclose(f);
	while (*s >= '0' && *s <= '9') {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (b < a)
			return 0;
		n += b - a + 1;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

/*
 * io_setup(n) (fs/aio.c): n events become max(n, 4 * possible CPUs) * 2 + 2,
 * and the ring takes the pages the header and that many events need; every
 * slot of those pages is usable, so a ring of P pages holds P * PAGE_SIZE /
 * 32 - 1 events. The largest n giving P pages: 32 + 32 (2 n + 2) <= P * PAGE_SIZE.
 */
uint32_t aio_nr_for_len(uint64_t len, const char *who)
{
	uint64_t n = (len - sizeof(struct aio_ring_hdr) - 2 * AIO_EVENT_SIZE) / (2 * AIO_EVENT_SIZE);
	unsigned cpus = possible_cpus();
	uint64_t events, pages;

	if (!cpus) {
		pr_err("can't read the number of possible CPUs (/sys/devices/system/cpu/possible)\n");
		return 0;
	}
	if (len < PAGE_SIZE || len % PAGE_SIZE || n > 0x10000000U / AIO_EVENT_SIZE) {
		pr_err("%s: a ring of %lu bytes is not one io_setup() makes\n", who, (unsigned long)len);
		return 0;
	}
	events = 2 * (n > 4ULL * cpus ? n : 4ULL * cpus) + 2;
	pages = (sizeof(struct aio_ring_hdr) + events * AIO_EVENT_SIZE + PAGE_SIZE - 1) / PAGE_SIZE;
	if (pages * PAGE_SIZE != len) {
		pr_err("%s: its ring has %lu pages; io_setup() makes rings of at least %lu pages on this machine "
		       "(%u possible CPUs)\n", who, (unsigned long)(len / PAGE_SIZE), (unsigned long)pages, cpus);
		return 0;
	}
	return n;
}

int aio_dump_ring(pid_t pid, const struct proc_vma *p, VmaEntry *v)
{
	uint64_t len = p->end - p->start;
	struct aio_ring_hdr h;
	AioRingEntry *e;
	uint32_t nr_ev;
	char who[96];

	snprintf(who, sizeof(who), "can't dump task %d: AIO context %lx", pid, (unsigned long)p->start);
	struct iovec l = { &h, sizeof(h) }, r = { (void *)(uintptr_t)p->start, sizeof(h) };

	if (process_vm_readv(pid, &l, 1, &r, 1, 0) != sizeof(h)) {
		pr_perror("can't read the AIO ring of %d at %lx", pid, (unsigned long)p->start);
		return -1;
	}
	if (h.magic != AIO_RING_MAGIC || h.incompat_features != AIO_RING_INCOMPAT ||
	    h.header_length != sizeof(h)) {
		pr_err("%s: a ring of an unknown format (magic %x, incompatible features %x, header %u bytes)\n", who,
		       h.magic, h.incompat_features, h.header_length);
		return -1;
	}
	if ((uint64_t)h.nr != (len - sizeof(h)) / AIO_EVENT_SIZE || h.head >= h.nr || h.tail >= h.nr) {
		pr_err("%s: the ring's header (nr %u, head %u, tail %u) does not fit its %lu bytes\n", who, h.nr,
		       h.head, h.tail, (unsigned long)len);
		return -1;
	}
	/* restore makes its ring with io_setup(): one as big must come out of it here */
	if (!aio_nr_for_len(len, who))
		return -1;

	nr_ev = (h.tail + h.nr - h.head) % h.nr;
	e = malloc(sizeof(*e));
	if (!e)
		return -1;
	aio_ring_entry__init(e);
	e->nr = h.nr;
	e->head = h.head;
	e->tail = h.tail;
	if (nr_ev) {
		/* the unreaped events, from head on, around the end of the ring if they go past it */
		uint32_t first = nr_ev < h.nr - h.head ? nr_ev : h.nr - h.head;
		struct iovec rv[2] = {
			{ (void *)(uintptr_t)(p->start + sizeof(h) + (uint64_t)h.head * AIO_EVENT_SIZE),
			  (size_t)first * AIO_EVENT_SIZE },
			{ (void *)(uintptr_t)(p->start + sizeof(h)), (size_t)(nr_ev - first) * AIO_EVENT_SIZE },
		};
		struct iovec lv = { NULL, (size_t)nr_ev * AIO_EVENT_SIZE };

		lv.iov_base = e->events.data = malloc(lv.iov_len);
		if (!e->events.data) {
			free(e);
			return -1;
		}
		e->events.len = lv.iov_len;
		e->has_events = true;
		if (process_vm_readv(pid, &lv, 1, rv, nr_ev > first ? 2 : 1, 0) != (ssize_t)lv.iov_len) {
			pr_perror("can't read the events of the AIO ring of %d at %lx", pid, (unsigned long)p->start);
			aio_free(e);
			return -1;
		}
	}
	v->kind = VMA_KIND__VMA_AIO;
	v->flags = MAP_SHARED;
	v->pgoff = 0;
	v->aio = e;
	pr_info("AIO context %lx of %d: %u events, head %u, tail %u: %u completed and not reaped\n",
		(unsigned long)p->start, pid, h.nr, h.head, h.tail, nr_ev);
	return 0;
}

void aio_free(AioRingEntry *e)
{
	if (!e)
		return;
	free(e->events.data);
	free(e);
}
