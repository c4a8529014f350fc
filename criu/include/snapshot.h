/*
 * dump -R --snapshot (criu/dump/snapshot.c, Documentation/incremental.md):
 * the tree is frozen only to take its state and write-protect its private
 * anonymous memory; the pages are copied while it runs again, a write to
 * one not copied yet waiting for its copy.
 */
#ifndef CR_SNAPSHOT_H
#define CR_SNAPSHOT_H

struct dump_tree;
struct dump_ctx;
struct parasite_ctl;
struct page_opts;

/* Before the tree is frozen: refuses (with the reason) a kernel without what it takes. */
int snapshot_begin(struct dump_tree *t);
/*
 * In run_parasite(), instead of dump_pages(): the task's userfaultfd and
 * pages (@po: the previous images' tracking, whose unchanged pages are
 * in_prev and not copied).
 */
int snapshot_task(struct dump_ctx *dc, struct parasite_ctl *ctl, const struct page_opts *po);
/* Every parasite gone, the tree still frozen: the snapshot instant. */
int snapshot_protect(struct dump_tree *t);
/* The tree runs again: the pages copied and the pagemap and pages images written. */
int snapshot_copy(struct dump_tree *t);
/* Always, on success or failure: every registration dropped, every waiting writer woken. */
void snapshot_end(struct dump_tree *t);

#endif
