/*
 * inotify and fanotify: the fdinfo lines that describe watches and marks,
 * and the helpers both kinds use to find a watched object again (a file
 * handle decoded on a mount of the right filesystem).
 */
#ifndef CR_FSNOTIFY_H
#define CR_FSNOTIFY_H

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <stdbool.h>

#define FSN_HANDLE_MAX	128	/* MAX_HANDLE_SZ */

struct fsn_handle {
	unsigned int bytes;	/* 0: the kernel showed none */
	int type;
	unsigned char data[FSN_HANDLE_MAX];
};

/* "inotify wd:.. ino:.. sdev:.. mask:.. ignored_mask:.. fhandle-bytes:.. ..." */
struct fsn_inotify_wd {
	int wd;
	uint64_t ino;
	unsigned int sdev;	/* the kernel's dev_t: major << 20 | minor */
	unsigned int mask, ignored_mask;
	struct fsn_handle fh;
};

enum fsn_mark_type {
	FSN_MARK_INODE,
	FSN_MARK_MOUNT,
	FSN_MARK_SB,
};

/* "fanotify ino:.. sdev:.." / "fanotify mnt_id:.." / "fanotify sdev:.." with mflags, masks */
struct fsn_fanotify_mark {
	enum fsn_mark_type type;
	uint64_t ino;
	unsigned int sdev;
	int mnt_id;
	unsigned int mflags, mask, ignored_mask;
	struct fsn_handle fh;
};

/* One line of /proc/PID/mountinfo, the fields we use. */
struct fsn_mount {
	int mnt_id;
	unsigned int maj, min;
	char root[4096];
	char point[4096];	/* octal escapes undone */
};

/* 1 parsed, 0 not a line of this kind, -1 malformed. */
int fsn_parse_inotify_wd(const char *line, struct fsn_inotify_wd *w);
int fsn_parse_fanotify_group(const char *line, unsigned int *flags, unsigned int *event_flags);
int fsn_parse_fanotify_mark(const char *line, struct fsn_fanotify_mark *m);
/* 0 or -1. */
int fsn_parse_mountinfo_line(const char *line, struct fsn_mount *m);

/* fdinfo shows devices as the kernel keeps them inside: major << 20 | minor */
#define KDEV_MINORBITS	20
#define KDEV_MINORMASK	((1U << KDEV_MINORBITS) - 1)

static inline dev_t fsn_kdev(unsigned int sdev)
{
	return makedev(sdev >> KDEV_MINORBITS, sdev & KDEV_MINORMASK);
}

static inline unsigned int fsn_sdev(dev_t dev)
{
	return major(dev) << 20 | minor(dev);
}

/* The line after @l in a text read from /proc, or NULL after the last one. */
static inline const char *fsn_next_line(const char *l)
{
	l = strchr(l, '\n');
	return l ? l + 1 : NULL;
}

#define fsn_for_each_line(l, text) for (l = (text); l && *l; l = fsn_next_line(l))

/* Dump and restore helpers (criu/files/fsnotify.c). */

/*
 * The watched object of @fh as an O_PATH fd, checked to be inode @ino on
 * @sdev, or -1 (errno from open_by_handle_at, ESTALE when it is gone).
 */
int fsn_open_handle(unsigned int sdev, uint64_t ino, const struct fsn_handle *fh);
/*
 * The same at dump, through a mount whose path to the object (as /proc
 * shows it) leads back to it, when there is one: the path fsn_inspect()
 * then reads is the one the tree would use (a filesystem mounted more than
 * once, e.g. a container's binds of host directories, gives a wrong one
 * through a mount whose root does not hold the object).
 */
int fsn_open_handle_named(unsigned int sdev, uint64_t ino, const struct fsn_handle *fh);
/*
 * At restore, the watched inode @ino of @sdev (as dumped) as an O_PATH fd:
 * by its handle, or on a filesystem the restore made anew (a tmpfs of the
 * tree's mount namespace: new inodes, no handle finds them) by its @path
 * as the tree saw it, checked to be on the new filesystem (EXDEV if not).
 * The caller is in the tree's mount namespace and root.
 */
int fsn_open_restored(unsigned int sdev, uint64_t ino, const struct fsn_handle *fh, const char *path);
/* A directory fd of the mount with id @mnt_id, or -1. */
int fsn_open_mount(int mnt_id);
/* Any directory of a mount of filesystem @sdev, or -1. */
int fsn_open_sb(unsigned int sdev);
/*
 * Can the filesystem @sdev open its files by handle at all (its root's
 * own handle tried)? An overlay without nfs_export can't: every handle is
 * ESTALE there, deleted or not.
 */
bool fsn_sb_decodes(unsigned int sdev);
/*
 * 0 if nothing is queued on fd @fd (a @kind fd) of @pid; -1 if events are
 * queued and not read yet (refused: reading them would take them from the
 * task) or the queue can't be inspected.
 */
int fsn_refuse_queued(pid_t pid, int fd, const char *kind);
/* Stat and /proc/self/fd path of @ofd (the watched object, opened); 0 or -1 (errno). */
int fsn_inspect(int ofd, struct stat *st, char *path, size_t size);
/* fdinfo of our own fd @fd, malloc'ed, or NULL. */
char *fsn_own_fdinfo(int fd);
/*
 * Read away what is queued on non-blocking fd @fd, closing the fd a
 * fanotify event carries (@fan): the bytes read, or -1 (errno).
 */
ssize_t fsn_read_away(int fd, int fan);
/* fsn_read_away() on a notification fd the restore made (@fan: fanotify); 0 or -1, logged. */
int fsn_empty_new(int fd, int fan);
/* The new notification fd of file @id made blocking unless @flags has O_NONBLOCK; 0 or -1, logged. */
int fsn_set_blocking(int fd, unsigned int flags, uint32_t id);

struct FsnotifyHandle;
/* The image's copy of @fh, or NULL (out of memory). */
struct FsnotifyHandle *fsn_handle_to_pb(const struct fsn_handle *fh);
/* @h back into @fh: 0, or -1 if it is too large to be a handle. */
int fsn_handle_from_pb(const struct FsnotifyHandle *h, struct fsn_handle *fh);
void fsn_handle_free(struct FsnotifyHandle *h);

struct rst_files;

/*
 * After restore, before the tasks run: drop the events the restore itself
 * queued on inotify and fanotify fds (opens of watched files for fds and
 * mappings, made after the fd). The dump refused non-empty queues, so all
 * of them are ours. @pids: the live processes.
 */
int fsnotify_drain(int dfd, struct rst_files *rf, const pid_t *pids, int nr);

#endif
