#ifndef CR_SHMEM_H
#define CR_SHMEM_H

#include <stdint.h>
#include <sys/types.h>

#include "sparse.h"

struct file_table;

/* Dump: note the shmem object behind an area of @pid (kept in @ft); *id names it in the images. */
int shmem_add_vma(struct file_table *ft, pid_t pid, uint64_t start, uint64_t end, uint32_t *id);
/* Dump: write shmem.img and every object's bytes. */
int shmem_dump_all(struct file_table *ft, int dfd);
void shmem_dump_free(struct file_table *ft);

/* Restore: the highest object id (0 if none). */
int shmem_count(int dfd, uint32_t *max_id);
/* Restore: make every object again; object N's fd goes to base + N. */
int shmem_restore_all(int dfd, int base);

#endif
