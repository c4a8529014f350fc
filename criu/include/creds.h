#ifndef CR_CREDS_H
#define CR_CREDS_H

#include <stdint.h>

#include "core.pb-c.h"
#include "proc_parse.h"

struct rst_creds;

/* Fill cr from a thread's status and securebits; cr points into st. */
void creds_fill_entry(CredsEntry *cr, const struct proc_status *st, uint32_t secbits);
/* Do two threads' credentials differ anywhere restore would set them? */
int creds_differ(const struct proc_status *a, uint32_t secbits_a, const struct proc_status *b, uint32_t secbits_b);
/* The restorer's copy of a creds_entry. */
/* @groups: room for c->n_groups of them (in the bootstrap area) */
void creds_to_rst(struct rst_creds *r, const CredsEntry *c, uint32_t *groups);

#endif
