/*
 * Packet sockets (sk-packet.c), and the mappings of their rings: a ring
 * mapped by a task is not a file mapping but the ring of one socket, made
 * again by that socket's restore and mapped whole at the same address.
 */
#ifndef CR_SK_PACKET_H
#define CR_SK_PACKET_H

#include <stdint.h>
#include <sys/types.h>

#include "files.h"
#include "mm.pb-c.h"

/*
 * Dump, once every fd of the tree is collected: @v (a mapping of socket
 * @ino by @pid) is the ring of a packet socket of the tree; its file id
 * goes in v->file_id. -1 with a message naming the area otherwise.
 */
int packet_ring_vma(struct file_table *ft, pid_t pid, uint64_t ino, VmaEntry *v);

#endif
