#ifndef CR_SHMEM_H
#define CR_SHMEM_H

#include <stdint.h>
#include <sys/types.h>

#include "sparse.h"

/* Dump: note the shmem object behind an area of @pid; *id names it in the images. */
int shmem_add_vma(pid_t pid, uint64_t start, uint64_t end, uint32_t *id);
/* Dump: write shmem.img and every object's bytes. */
int shmem_dump_all(int dfd);

/* Restore: the highest object id (0 if none). */
int shmem_count(int dfd, uint32_t *max_id);
/* Restore: make every object again; object N's fd goes to base + N. */
int shmem_restore_all(int dfd, int base);

#endif
