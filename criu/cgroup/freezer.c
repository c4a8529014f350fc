/*
 * --freeze-cgroup PATH: the tree is stopped with the cgroup freezer
 * rather than one task at a time, so that no task can fork a new one
 * while criu looks for them. PATH is a v1 freezer cgroup (freezer.state)
 * or a v2 cgroup (cgroup.freeze).
 *
 * While a cgroup is frozen PTRACE_SEIZE works but PTRACE_INTERRUPT takes
 * effect only after the thaw. So: freeze the cgroup, seize and interrupt
 * every thread in it and below, thaw everything (sub-cgroups frozen on
 * their own too), and let the tree's walk wait for each stop: a thawed
 * thread traps before it runs any code of its own, so nothing escapes.
 * At the end every cgroup of the subtree gets back the freezer state it
 * had, whether the dump worked or not; the dump saves those states, not
 * the thawed ones.
 *
 * A thread in a group stop (SIGSTOP) is the exception: PTRACE_SEIZE of a
 * stopped thread kicks it to move to the traced stop and waits until it
 * has, which a v1-frozen thread never does before the thaw: criu hung in
 * ptrace_attach with the container frozen. Those threads are seized
 * right after the thaw; stopped, they run no code of their own meanwhile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "compel/compel.h"
#include "cr_options.h"
#include "proc_parse.h"
#include "log.h"
#include "util.h"

#define FREEZE_TIMEOUT_MS	10000
#define MAX_FDIRS		4096

struct fdir {
	int fd;
	dev_t dev;
	ino_t ino;
	int orig;		/* its own state before: 1 frozen, 0 thawed */
	char *path;
};

struct fthread {
	pid_t tid;
	bool claimed;		/* the tree's: the dump lets it go */
};

static struct {
	bool v2, active;
	struct fdir *dirs;	/* [0] is the cgroup given, then every one below, parents first */
	int nr_dirs;
	struct fthread *th;
	int nr_th, cap_th;
	pid_t *stopped;		/* group-stopped threads, seized after the thaw */
	int nr_stopped;
} fz;

static int fz_write(int fd, const char *name, const char *val)
{
	int f = openat(fd, name, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (f < 0)
		return -1;
	n = write(f, val, strlen(val));
	close(f);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static int fz_read(int fd, const char *name, char *buf, size_t size)
{
	int f = openat(fd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (f < 0)
		return -1;
	n = read(f, buf, size - 1);
	close(f);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* The cgroup's own freeze setting (not one it has from an ancestor). */
static int own_state(int fd)
{
	char buf[64];

	if (fz_read(fd, fz.v2 ? "cgroup.freeze" : "freezer.self_freezing", buf, sizeof(buf)))
		return -1;
	return buf[0] == '1';
}

static int set_state(struct fdir *d, bool frozen)
{
	if (fz_write(d->fd, fz.v2 ? "cgroup.freeze" : "freezer.state",
		     fz.v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED"))) {
		pr_perror("can't %s cgroup %s", frozen ? "freeze" : "thaw", d->path);
		return -1;
	}
	return 0;
}

/* Has the whole subtree of @d reached the frozen state? */
static int is_frozen(struct fdir *d)
{
	char buf[256];

	if (fz_read(d->fd, fz.v2 ? "cgroup.events" : "freezer.state", buf, sizeof(buf)))
		return -1;
	return fz.v2 ? strstr(buf, "frozen 1") != NULL : !strncmp(buf, "FROZEN", 6);
}

static int add_dir(int fd, const char *path)
{
	struct fdir *n, *d;
	struct stat st;

	if (fz.nr_dirs == MAX_FDIRS) {
		pr_err("more than %d cgroups under %s\n", MAX_FDIRS, opts.freeze_cgroup);
		close(fd);
		return -1;
	}
	n = realloc(fz.dirs, (fz.nr_dirs + 1) * sizeof(*n));
	if (!n || fstat(fd, &st)) {
		close(fd);
		return -1;
	}
	fz.dirs = n;
	d = &n[fz.nr_dirs];
	d->fd = fd;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->path = strdup(path);
	d->orig = own_state(fd);
	fz.nr_dirs++;
	if (!d->path || d->orig < 0) {
		pr_perror("can't read the freezer state of cgroup %s", path);
		return -1;
	}
	return 0;
}

/* The cgroups right below dirs[idx], appended (so the array ends up parents first). */
static int add_children(int idx)
{
	int dfd = openat(fz.dirs[idx].fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!dir) {
		pr_perror("can't list cgroup %s", fz.dirs[idx].path);
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while (!ret && (ret = next_dirent(dir, &de, fz.dirs[idx].path)) > 0) {
		char path[PATH_MAX];
		int fd;

		ret = 0;
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", fz.dirs[idx].path, de->d_name);
		fd = openat(fz.dirs[idx].fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			pr_perror("can't open cgroup %s", path);
			ret = -1;
		} else {
			ret = add_dir(fd, path);
		}
	}
	closedir(dir);
	return ret;
}

static int wait_frozen(void)
{
	struct timespec ts = { 0, 1000000 };
	int ms = opts.timeout ? (int)opts.timeout * 1000 : FREEZE_TIMEOUT_MS;

	for (int i = 0; i < ms; i++) {
		int r = is_frozen(&fz.dirs[0]);

		if (r)
			return r < 0 ? -1 : 0;
		nanosleep(&ts, NULL);
	}
	pr_err("cgroup %s did not freeze within %d s%s (a task asleep where the freezer can't reach it?)\n",
	       opts.freeze_cgroup, ms / 1000, opts.timeout ? " (--timeout)" : "");
	return -1;
}

static bool is_zombie(pid_t tid)
{
	char buf[512], *p;

	if (compel_read_stat(tid, buf, sizeof(buf), &p))
		return true;	/* gone */
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/*
 * Is @tid, frozen, in a group stop? A frozen thread shows "D" in /proc,
 * stopped or not; where it sleeps tells.
 */
static bool group_stopped(pid_t tid)
{
	char path[64], buf[64];
	int f;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/wchan", tid);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return !strcmp(buf, "do_signal_stop");
}

static int add_thread(pid_t tid)
{
	if (fz.nr_th == fz.cap_th) {
		int cap = fz.cap_th ? fz.cap_th * 2 : 64;
		struct fthread *th = realloc(fz.th, cap * sizeof(*th));

		if (!th)
			return -1;
		fz.th = th;
		fz.cap_th = cap;
	}
	fz.th[fz.nr_th++] = (struct fthread){ .tid = tid };
	return 0;
}

static int seize_dir(struct fdir *d)
{
	char *buf = malloc(1 << 20), *save = NULL, what[PATH_MAX + 32];
	int f, ret = 0;
	ssize_t len;

	if (!buf)
		return -1;
	f = openat(d->fd, fz.v2 ? "cgroup.threads" : "tasks", O_RDONLY | O_CLOEXEC);
	if (f < 0) {
		pr_perror("can't list the threads of cgroup %s", d->path);
		free(buf);
		return -1;
	}
	snprintf(what, sizeof(what), "the threads of cgroup %s", d->path);
	len = read_text_fd(f, buf, 1 << 20, what);
	close(f);
	if (len < 0) {
		free(buf);
		return -1;
	}
	for (char *t = strtok_r(buf, "\n", &save); t && !ret; t = strtok_r(NULL, "\n", &save)) {
		pid_t tid = atoi(t);

		if (tid <= 0 || cgfreeze_seized(tid))
			continue;
		if (!fz.v2 && group_stopped(tid)) {
			pid_t *s = realloc(fz.stopped, (fz.nr_stopped + 1) * sizeof(*s));

			if (!s) {
				ret = -1;
				break;
			}
			fz.stopped = s;
			fz.stopped[fz.nr_stopped++] = tid;
			continue;
		}
		if (compel_seize_task(tid)) {
			/* an exited thread still listed: nothing to seize */
			if (is_zombie(tid))
				continue;
			pr_err("can't seize thread %d of the frozen cgroup %s\n", tid, d->path);
			ret = -1;
			break;
		}
		if (add_thread(tid)) {
			ret = -1;
			break;
		}
	}
	free(buf);
	return ret;
}

/* Every cgroup back to the state it had; the top one last, so that its subtree follows it. */
static void restore_states(void)
{
	for (int i = fz.nr_dirs - 1; i >= 0; i--) {
		int now = own_state(fz.dirs[i].fd);

		if (now >= 0 && now != fz.dirs[i].orig)
			set_state(&fz.dirs[i], fz.dirs[i].orig);
	}
}

int cgfreeze_begin(void)
{
	int fd, ret = -1;

	if (!opts.freeze_cgroup)
		return 0;
	fd = open(opts.freeze_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open --freeze-cgroup %s", opts.freeze_cgroup);
		return -1;
	}
	if (!faccessat(fd, "freezer.state", F_OK, 0)) {
		fz.v2 = false;
	} else if (!faccessat(fd, "cgroup.freeze", F_OK, 0)) {
		fz.v2 = true;
	} else {
		pr_err("--freeze-cgroup %s is neither a v1 freezer cgroup (freezer.state) nor a v2 cgroup that can "
		       "be frozen (cgroup.freeze); a root cgroup can't be\n", opts.freeze_cgroup);
		close(fd);
		return -1;
	}
	fz.active = true;
	if (add_dir(fd, opts.freeze_cgroup))
		goto out;
	for (int i = 0; i < fz.nr_dirs; i++)
		if (add_children(i))
			goto out;
	pr_info("freezing cgroup %s (%s, %d cgroups)\n", opts.freeze_cgroup, fz.v2 ? "v2" : "v1", fz.nr_dirs);
	if (set_state(&fz.dirs[0], true) || wait_frozen())
		goto out;
	/* nothing runs in the subtree now: whoever is listed is all there is */
	for (int i = 0; i < fz.nr_dirs; i++)
		if (seize_dir(&fz.dirs[i]))
			goto out;
	pr_info("%d threads of cgroup %s seized while it was frozen, %d stopped ones to seize after the thaw\n",
		fz.nr_th, opts.freeze_cgroup, fz.nr_stopped);
	ret = 0;
out:
	/* everything thawed, for the interrupts to take effect (or, on failure, to let it be) */
	for (int i = 0; i < fz.nr_dirs; i++)
		if (own_state(fz.dirs[i].fd) == 1)
			set_state(&fz.dirs[i], false);
	for (int i = 0; !ret && i < fz.nr_stopped; i++) {
		pid_t tid = fz.stopped[i];

		if (compel_seize_task(tid)) {
			if (is_zombie(tid))
				continue;
			pr_err("can't seize the stopped thread %d of cgroup %s\n", tid, opts.freeze_cgroup);
			ret = -1;
		} else if (add_thread(tid)) {
			ret = -1;
		}
	}
	if (ret)
		cgfreeze_end();
	return ret;
}

bool cgfreeze_seized(pid_t tid)
{
	for (int i = 0; i < fz.nr_th; i++)
		if (fz.th[i].tid == tid)
			return true;
	return false;
}

void cgfreeze_claim(pid_t tid)
{
	for (int i = 0; i < fz.nr_th; i++)
		if (fz.th[i].tid == tid)
			fz.th[i].claimed = true;
}

int cgfreeze_check_claimed(void)
{
	for (int i = 0; i < fz.nr_th; i++)
		if (!fz.th[i].claimed && !is_zombie(fz.th[i].tid)) {
			pr_err("can't dump: thread %d is in the freezer cgroup %s but not in the tree being dumped; it "
			       "would be left out\n", fz.th[i].tid, opts.freeze_cgroup);
			return -1;
		}
	return 0;
}

void cgfreeze_refreeze(void)
{
	/* traced and stopped, a task freezes all the same and stays frozen once let go */
	if (fz.active)
		restore_states();
}

void cgfreeze_end(void)
{
	if (!fz.active)
		return;
	/* who was seized but is not the tree's is let go as it was */
	for (int i = 0; i < fz.nr_th; i++)
		if (!fz.th[i].claimed) {
			int st = compel_wait_task(fz.th[i].tid);

			if (st > 0 && st != COMPEL_TASK_ZOMBIE)
				compel_resume_task(fz.th[i].tid, st);
		}
	restore_states();
	for (int i = 0; i < fz.nr_dirs; i++) {
		close(fz.dirs[i].fd);
		free(fz.dirs[i].path);
	}
	free(fz.dirs);
	free(fz.th);
	free(fz.stopped);
	memset(&fz, 0, sizeof(fz));
}

int cgfreeze_orig_state(dev_t dev, ino_t ino)
{
	for (int i = 0; i < fz.nr_dirs; i++)
		if (fz.dirs[i].dev == dev && fz.dirs[i].ino == ino)
			return fz.dirs[i].orig;
	return -1;
}
