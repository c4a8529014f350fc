/*
 * Credentials: uids, gids, groups, capabilities and securebits. The
 * kernel keeps them per thread; glibc's set*id wrappers change every
 * thread together, raw syscalls only the caller, so a thread may have
 * its own. The process's set goes in task_core_entry, a thread's own set
 * in its thread_core_entry.
 */
#include <stdio.h>
#include <string.h>

#include "creds.h"
#include "restorer.h"
#include "util.h"

void creds_fill_entry(CredsEntry *cr, const struct proc_status *st, uint32_t secbits)
{
	creds_entry__init(cr);
	cr->uid = st->uid[0]; cr->euid = st->uid[1];
	cr->suid = st->uid[2]; cr->fsuid = st->uid[3];
	cr->gid = st->gid[0]; cr->egid = st->gid[1];
	cr->sgid = st->gid[2]; cr->fsgid = st->gid[3];
	cr->n_groups = st->ngroups;
	cr->groups = st->groups;
	cr->cap_inh = st->cap_inh;
	cr->cap_prm = st->cap_prm;
	cr->cap_eff = st->cap_eff;
	cr->cap_bnd = st->cap_bnd;
	cr->has_cap_amb = true;
	cr->cap_amb = st->cap_amb;
	cr->secbits = secbits;
}

int creds_differ(const struct proc_status *a, uint32_t secbits_a, const struct proc_status *b, uint32_t secbits_b)
{
	if (memcmp(a->uid, b->uid, sizeof(a->uid)) || memcmp(a->gid, b->gid, sizeof(a->gid)))
		return 1;
	if (a->ngroups != b->ngroups || (a->ngroups && memcmp(a->groups, b->groups, a->ngroups * sizeof(*a->groups))))
		return 1;
	return a->cap_inh != b->cap_inh || a->cap_prm != b->cap_prm || a->cap_eff != b->cap_eff ||
	       a->cap_bnd != b->cap_bnd || a->cap_amb != b->cap_amb || secbits_a != secbits_b;
}

/* The highest capability the kernel knows (40 if it doesn't say), read once: every thread asks. */
static int cap_last_cap(void)
{
	static int last = -1;
	long long v;

	if (last >= 0)
		return last;
	last = read_num_file("/proc/sys/kernel/cap_last_cap", &v) || v < 0 || v > 63 ? 40 : (int)v;
	return last;
}

void creds_to_rst(struct rst_creds *r, const CredsEntry *c, uint32_t *groups)
{
	r->uid = c->uid; r->euid = c->euid; r->suid = c->suid; r->fsuid = c->fsuid;
	r->gid = c->gid; r->egid = c->egid; r->sgid = c->sgid; r->fsgid = c->fsgid;
	r->ngroups = c->n_groups;
	r->groups = groups;
	if (r->ngroups)
		memcpy(r->groups, c->groups, r->ngroups * sizeof(uint32_t));
	r->cap_inh = c->cap_inh;
	r->cap_prm = c->cap_prm;
	r->cap_eff = c->cap_eff;
	r->cap_bnd = c->cap_bnd;
	r->cap_amb = c->has_cap_amb ? c->cap_amb : 0;
	r->secbits = c->secbits;
	r->cap_last = cap_last_cap();
}
