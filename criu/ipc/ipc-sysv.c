/*
 * System V IPC: shared memory segments, message queues and semaphore
 * sets live in an IPC namespace, not in a task. A tree whose root has an
 * IPC namespace of its own gets the whole namespace saved (objects with
 * their ids, keys, owners, modes and contents, and the namespace's
 * sysctls); restore clones the root into a new IPC namespace and makes
 * every object again there under its old id (*_next_id), so the tasks'
 * ids stay valid. Attached segments come back attached at their address
 * (VMA_SYSVSHM, shmat() in the restorer).
 *
 * A tree in criu's own namespace keeps using that namespace's objects,
 * which outlive the dump, like files of a file system: a segment it has
 * attached (postgres' interlock segment, say) is listed in ipc-ns.img
 * with host set, and restore attaches that same segment again (same id,
 * key, size, creator pid and ctime, else the restore stops). A segment
 * marked for removal (IPC_RMID) dies with the tree, so it is saved with
 * its bytes and made again under its id, then marked again; unless
 * something outside the tree holds it too, which is refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image.h"
#include "ipc-mqueue.h"
#include "ipc-sysv.h"
#include "ipc.pb-c.h"
#include "cr_options.h"
#include "log.h"
#include "namespaces.h"
#include "proc_parse.h"
#include "shmem.h"
#include "util.h"

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY	15
#endif
#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY	13
#endif
#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY	20
#endif
#ifndef MSG_COPY
#define MSG_COPY	040000
#endif
#ifndef SHM_DEST
#define SHM_DEST	01000
#endif
#ifndef SHM_LOCKED
#define SHM_LOCKED	02000
#endif
#define HUGETLBFS_MAGIC	0x958458f6

#define PG_UP(x)	(((x) + 4095) & ~4095ULL)

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* The namespace's settings, under /proc/sys; *_next_id and shm_rmid_forced go last. */
static const char *const ipc_sysctls[] = {
	"kernel/shmmax", "kernel/shmall", "kernel/shmmni",
	"kernel/msgmax", "kernel/msgmnb", "kernel/msgmni", "kernel/sem",
	"fs/mqueue/queues_max", "fs/mqueue/msg_max", "fs/mqueue/msgsize_max",
	"fs/mqueue/msg_default", "fs/mqueue/msgsize_default",
	"kernel/shm_next_id", "kernel/msg_next_id", "kernel/sem_next_id",
	"kernel/shm_rmid_forced",
};

static int is_late_sysctl(const char *name)
{
	return strstr(name, "_next_id") || !strcmp(name, "kernel/shm_rmid_forced");
}

/* ---- dump ---- */

static int ipc_own_ns;		/* the tree's namespace is not criu's */
static pid_t ipc_ns_pid;	/* a task in it */

/* Segments of criu's own namespace the tree has attached, with its number of areas of each. */
struct host_shm {
	int id;
	unsigned int nr_areas;
};
static struct host_shm *host_shms;
static size_t nr_host_shms;

static int stat_ns(pid_t pid, struct stat *st)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/ipc");
	if (stat(path, st)) {
		pr_perror("can't read %s", path);
		return -1;
	}
	return 0;
}

static int join_ipc_ns(pid_t pid)
{
	char path[64];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWIPC)) {
		pr_perror("can't enter the ipc namespace of %d", pid);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Runs @fn(@arg) in a child (one that joins another namespace); 0 if it succeeded. */
static int in_child(int (*fn)(int arg), int arg, const char *what, pid_t pid)
{
	pid_t child, parent = getpid(), w;
	int status = 0;

	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return -1;
	}
	if (child == 0) {
		/* a helper: it goes when criu goes, whatever ends criu */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		interrupt_reset();
		_exit(fn(arg) ? 1 : 0);
	}
	while ((w = waitpid(child, &status, 0)) < 0 && errno == EINTR)
		;
	if (w != child || !WIFEXITED(status) || WEXITSTATUS(status) || !WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("%s the ipc namespace of %d failed\n", what, pid);
		return -1;
	}
	return 0;
}

/* How many semaphore sets the ipc namespace of @pid has (0: criu's own). */
static int count_sem_sets(pid_t pid)
{
	struct seminfo info;
	int self = -1, ret = -1;

	if (pid) {
		self = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
		if (self < 0) {
			pr_perror("can't open /proc/self/ns/ipc");
			return -1;
		}
		if (join_ipc_ns(pid))
			goto out;
	}
	if (semctl(0, 0, SEM_INFO, (union semun){ .buf = (struct semid_ds *)&info }) < 0)
		pr_perror("semctl(SEM_INFO)");
	else
		ret = info.semusz;
	if (pid && setns(self, CLONE_NEWIPC)) {
		pr_perror("can't go back to criu's ipc namespace");
		ret = -1;
	}
out:
	if (self >= 0)
		close(self);
	return ret;
}

/*
 * SEM_UNDO adjustments live in a per-task undo list (shared by
 * CLONE_SYSVSEM threads) that no interface reads back. criu never uses
 * SEM_UNDO, so a task whose list differs from ours (kcmp) has one; but
 * every task that made threads has one too, empty or not. Adjustments
 * only exist while the namespace has semaphore sets: only then is a task
 * with an undo list refused.
 */
static int check_sem_undo(pid_t pid, int nr_sets)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (!nr_sets)
		return 0;
	/* a thread made without CLONE_SYSVSEM has a list of its own */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d) {
		pr_perror("can't list %s", path);
		return -1;
	}
	while (!ret && (ret = next_dirent(d, &de, path)) > 0) {
		pid_t tid = atoi(de->d_name);
		long r;

		ret = 0;
		if (tid <= 0)
			continue;
		r = syscall(SYS_kcmp, getpid(), tid, KCMP_SYSVSEM, 0, 0);
		if (r < 0) {
			pr_perror("kcmp(KCMP_SYSVSEM) of %d", tid);
			ret = -1;
		} else if (r) {
			pr_err("can't dump task %d: thread %d has a SysV semaphore undo list (from SEM_UNDO, or from "
			       "making threads) and its ipc namespace has %d semaphore sets; undo adjustments "
			       "(SEM_UNDO) can't be read back, not supported\n", pid, tid, nr_sets);
			ret = -1;
		}
	}
	closedir(d);
	return ret;
}

int ipc_sysv_check_tree(const pid_t *pids, int nr)
{
	struct stat self, root, st;
	int nr_sets;

	if (stat_ns(0, &self) || stat_ns(pids[0], &root))
		return -1;
	for (int i = 1; i < nr; i++) {
		if (stat_ns(pids[i], &st))
			return -1;
		if (st.st_ino != root.st_ino || st.st_dev != root.st_dev) {
			pr_err("can't dump task %d: it is in another ipc namespace than the root %d of the tree; "
			       "not supported\n", pids[i], pids[0]);
			return -1;
		}
	}
	ipc_own_ns = root.st_ino != self.st_ino || root.st_dev != self.st_dev;
	ipc_ns_pid = pids[0];
	nr_sets = count_sem_sets(ipc_own_ns ? pids[0] : 0);
	if (nr_sets < 0)
		return -1;
	for (int i = 0; i < nr; i++)
		if (check_sem_undo(pids[i], nr_sets))
			return -1;
	if (ipc_own_ns)
		pr_info("the tree has an ipc namespace of its own: dumping it\n");
	return 0;
}

int ipc_sysv_own_ns(void)
{
	return ipc_own_ns;
}

/* Counts the kernel's nattch way: one per area (a split or a fork adds one). */
static int note_host_shm(int id)
{
	struct host_shm *n;

	for (size_t i = 0; i < nr_host_shms; i++)
		if (host_shms[i].id == id) {
			host_shms[i].nr_areas++;
			return 0;
		}
	n = realloc(host_shms, (nr_host_shms + 1) * sizeof(*n));
	if (!n)
		return -1;
	host_shms = n;
	host_shms[nr_host_shms++] = (struct host_shm){ .id = id, .nr_areas = 1 };
	return 0;
}

int sysvshm_add_vma(pid_t pid, const struct proc_vma *p, VmaEntry *v)
{
	char mf[128];
	struct stat st;

	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)p->start, (unsigned long)p->end);
	if (stat(mf, &st)) {
		pr_perror("can't stat %s", mf);
		return -1;
	}
	/* the segment's file has the shm id as its inode number */
	if (!ipc_own_ns && note_host_shm(st.st_ino))
		return -1;
	if (p->pgoff + (p->end - p->start) > PG_UP((uint64_t)st.st_size)) {
		pr_err("can't dump task %d: SysV shm area %lx-%lx lies beyond its %ld-byte segment %lu\n", pid,
		       (unsigned long)p->start, (unsigned long)p->end, (long)st.st_size, (unsigned long)st.st_ino);
		return -1;
	}
	v->kind = VMA_KIND__VMA_SYSVSHM;
	v->has_shmid = true;
	v->shmid = st.st_ino;
	/* shmat() flags; collect_vmflags() clears SHM_RDONLY if the area may become writable */
	v->flags = (p->prot & PROT_WRITE) ? 0 : SHM_RDONLY;
	return 0;
}

static IpcPermEntry *make_perm(const struct ipc_perm *ip, int id)
{
	IpcPermEntry *pe = malloc(sizeof(*pe));

	if (!pe)
		return NULL;
	ipc_perm_entry__init(pe);
	pe->id = id;
	pe->key = ip->__key;
	pe->uid = ip->uid;
	pe->gid = ip->gid;
	pe->cuid = ip->cuid;
	pe->cgid = ip->cgid;
	pe->mode = ip->mode;
	return pe;
}

static int add_sysctls(IpcNsEntry *ns)
{
	ns->sysctls = calloc(ARRAY_SIZE(ipc_sysctls), sizeof(*ns->sysctls));
	if (!ns->sysctls)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(ipc_sysctls); i++) {
		IpcSysctlEntry *se = calloc(1, sizeof(*se));
		char path[128], buf[256];
		ssize_t n;
		int fd;

		if (!se)
			return -1;
		ipc_sysctl_entry__init(se);
		snprintf(path, sizeof(path), "/proc/sys/%s", ipc_sysctls[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			free(se);
			if (errno == ENOENT)
				continue;	/* a knob this kernel lacks */
			pr_perror("can't open %s", path);
			return -1;
		}
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n < 0) {
			pr_perror("can't read %s", path);
			free(se);
			return -1;
		}
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		se->name = strdup(ipc_sysctls[i]);
		se->value = strdup(buf);
		ns->sysctls[ns->n_sysctls++] = se;
		if (!se->name || !se->value)
			return -1;
	}
	return 0;
}

static const char *ns_value(IpcNsEntry *ns, const char *name)
{
	for (size_t i = 0; i < ns->n_sysctls; i++)
		if (!strcmp(ns->sysctls[i]->name, name))
			return ns->sysctls[i]->value;
	return NULL;
}

/* The bytes of a segment, read through an attach of our own, holes kept. */
static int dump_shm_data(int dfd, IpcNsEntry *ns, IpcShmEntry *se, const struct shmid_ds *ds, int id)
{
	const char *forced = ns_value(ns, "kernel/shm_rmid_forced");
	uint64_t len = PG_UP(ds->shm_segsz);
	struct cr_img *img;
	struct statfs sfs;
	char mf[128];
	void *addr;
	int fd, ret = -1;

	if (!ds->shm_nattch && forced && strcmp(forced, "0")) {
		/* our detach would destroy it */
		pr_err("can't dump SysV shm segment %d: nobody has it attached and shm_rmid_forced is set\n", id);
		return -1;
	}
	addr = shmat(id, NULL, SHM_RDONLY);
	if (addr == (void *)-1) {
		pr_perror("can't attach SysV shm segment %d to read it", id);
		return -1;
	}
	snprintf(mf, sizeof(mf), "/proc/self/map_files/%lx-%lx", (unsigned long)addr, (unsigned long)addr + len);
	fd = open(mf, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstatfs(fd, &sfs)) {
		pr_perror("can't open SysV shm segment %d through %s", id, mf);
		goto out;
	}
	if (sfs.f_type == HUGETLBFS_MAGIC) {
		pr_err("can't dump SysV shm segment %d: hugetlb segments are not supported yet\n", id);
		goto out;
	}
	se->n_csum = sparse_nr_csum(ds->shm_segsz);
	se->csum = calloc(se->n_csum + 1, sizeof(*se->csum));
	if (!se->csum)
		goto out;
	img = open_image_at(dfd, CR_FD_SYSVSHM_PAGES, O_DUMP, id);
	if (!img)
		goto out;
	if (save_sparse(fd, img->fd, ds->shm_segsz, se->csum, img->path))
		pr_err("can't save the bytes of SysV shm segment %d\n", id);
	else
		ret = 0;
	ret = finish_image(img, ret);
out:
	if (fd >= 0)
		close(fd);
	shmdt(addr);
	return ret;
}

union ipc_ds {
	struct shmid_ds shm;
	struct msqid_ds msq;
	struct semid_ds sem;
};

/*
 * Calls @dump for every object of one kind: @stat (a *_STAT_ANY call)
 * gives the id and state of the object at each index up to @max, the
 * highest one in use.
 */
static int for_each_object(int max, int (*stat)(int idx, union ipc_ds *ds), const char *stat_name,
			   int (*dump)(int dfd, IpcNsEntry *ns, int id, union ipc_ds *ds), int dfd, IpcNsEntry *ns)
{
	for (int i = 0; i <= max; i++) {
		union ipc_ds ds;
		int id = stat(i, &ds);

		if (id < 0) {
			if (errno == EINVAL)
				continue;	/* a free slot */
			pr_perror("%s of slot %d", stat_name, i);
			return -1;
		}
		if (dump(dfd, ns, id, &ds))
			return -1;
	}
	return 0;
}

static int stat_shm(int idx, union ipc_ds *ds)
{
	return shmctl(idx, SHM_STAT_ANY, &ds->shm);
}

static int dump_shm(int dfd, IpcNsEntry *ns, int id, union ipc_ds *u)
{
	const struct shmid_ds *ds = &u->shm;
	IpcShmEntry *se = calloc(1, sizeof(*se));

	if (!se)
		return -1;
	ipc_shm_entry__init(se);
	ns->shms[ns->n_shms++] = se;
	se->perm = make_perm(&ds->shm_perm, id);
	se->size = ds->shm_segsz;
	if (!se->perm || dump_shm_data(dfd, ns, se, ds, id))
		return -1;
	pr_info("SysV shm %d: key %#x, %lu bytes, mode %o, %lu attached\n", id, ds->shm_perm.__key,
		(unsigned long)ds->shm_segsz, ds->shm_perm.mode, (unsigned long)ds->shm_nattch);
	return 0;
}

static int dump_shms(int dfd, IpcNsEntry *ns)
{
	struct shm_info info;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);

	if (max < 0) {
		pr_perror("shmctl(SHM_INFO)");
		return -1;
	}
	ns->shms = calloc(max + 1, sizeof(*ns->shms));
	if (!ns->shms)
		return -1;
	return for_each_object(max, stat_shm, "shmctl(SHM_STAT_ANY)", dump_shm, dfd, ns);
}

/* Every message of a queue, in order, copied and left in place (MSG_COPY). */
static int dump_msgs(IpcMsqEntry *qe, const struct msqid_ds *ds, int id)
{
	size_t size = ds->__msg_cbytes;
	struct {
		long mtype;
		char mtext[];
	} *buf = malloc(sizeof(long) + size + 1);

	if (!buf)
		return -1;
	qe->msgs = calloc(ds->msg_qnum + 1, sizeof(*qe->msgs));
	if (!qe->msgs) {
		free(buf);
		return -1;
	}
	for (unsigned long n = 0; n < ds->msg_qnum; n++) {
		ssize_t len = msgrcv(id, buf, size, n, IPC_NOWAIT | MSG_COPY);
		IpcMsgEntry *me;

		if (len < 0) {
			pr_perror("can't copy message %lu of SysV queue %d (MSG_COPY needs CONFIG_CHECKPOINT_RESTORE)",
				  n, id);
			free(buf);
			return -1;
		}
		me = calloc(1, sizeof(*me));
		if (!me) {
			free(buf);
			return -1;
		}
		ipc_msg_entry__init(me);
		qe->msgs[qe->n_msgs++] = me;
		me->mtype = buf->mtype;
		me->data.len = len;
		me->data.data = malloc(len + 1);
		if (!me->data.data) {
			free(buf);
			return -1;
		}
		memcpy(me->data.data, buf->mtext, len);
	}
	free(buf);
	return 0;
}

static int stat_msq(int idx, union ipc_ds *ds)
{
	return msgctl(idx, MSG_STAT_ANY, &ds->msq);
}

static int dump_msq(int dfd, IpcNsEntry *ns, int id, union ipc_ds *u)
{
	const struct msqid_ds *ds = &u->msq;
	IpcMsqEntry *qe = calloc(1, sizeof(*qe));

	(void)dfd;
	if (!qe)
		return -1;
	ipc_msq_entry__init(qe);
	ns->msqs[ns->n_msqs++] = qe;
	qe->perm = make_perm(&ds->msg_perm, id);
	qe->qbytes = ds->msg_qbytes;
	if (!qe->perm || dump_msgs(qe, ds, id))
		return -1;
	pr_info("SysV queue %d: key %#x, %lu messages, %lu bytes\n", id, ds->msg_perm.__key,
		(unsigned long)ds->msg_qnum, (unsigned long)ds->__msg_cbytes);
	return 0;
}

static int dump_msqs(IpcNsEntry *ns)
{
	struct msginfo info;
	int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);

	if (max < 0) {
		pr_perror("msgctl(MSG_INFO)");
		return -1;
	}
	ns->msqs = calloc(max + 1, sizeof(*ns->msqs));
	if (!ns->msqs)
		return -1;
	return for_each_object(max, stat_msq, "msgctl(MSG_STAT_ANY)", dump_msq, -1, ns);
}

static int stat_sem(int idx, union ipc_ds *ds)
{
	return semctl(idx, 0, SEM_STAT_ANY, (union semun){ .buf = &ds->sem });
}

static int dump_sem(int dfd, IpcNsEntry *ns, int id, union ipc_ds *u)
{
	const struct semid_ds *ds = &u->sem;
	IpcSemEntry *se = calloc(1, sizeof(*se));
	unsigned short *vals = calloc(ds->sem_nsems + 1, sizeof(*vals));

	(void)dfd;
	if (se)
		ns->sems[ns->n_sems++] = se;
	if (!se || !vals) {
		free(vals);
		return -1;
	}
	ipc_sem_entry__init(se);
	se->perm = make_perm(&ds->sem_perm, id);
	se->values = calloc(ds->sem_nsems + 1, sizeof(*se->values));
	if (!se->perm || !se->values || semctl(id, 0, GETALL, (union semun){ .array = vals }) < 0) {
		pr_perror("can't read the values of SysV semaphore set %d", id);
		free(vals);
		return -1;
	}
	for (unsigned long j = 0; j < ds->sem_nsems; j++)
		se->values[j] = vals[j];
	se->n_values = ds->sem_nsems;
	free(vals);
	pr_info("SysV semaphores %d: key %#x, %lu of them\n", id, ds->sem_perm.__key, (unsigned long)ds->sem_nsems);
	return 0;
}

static int dump_sems(IpcNsEntry *ns)
{
	struct seminfo info;
	int max = semctl(0, 0, SEM_INFO, (union semun){ .buf = (struct semid_ds *)&info });

	if (max < 0) {
		pr_perror("semctl(SEM_INFO)");
		return -1;
	}
	ns->sems = calloc(max + 1, sizeof(*ns->sems));
	if (!ns->sems)
		return -1;
	return for_each_object(max, stat_sem, "semctl(SEM_STAT_ANY)", dump_sem, -1, ns);
}

/* One object's owner and creator as the tree's user namespace sees them. */
static int perm_inside(IpcPermEntry *p, const char *what)
{
	char name[64];

	snprintf(name, sizeof(name), "SysV %s %d (owner)", what, p->id);
	if (ns_owner_inside(&p->uid, &p->gid, name))
		return -1;
	snprintf(name, sizeof(name), "SysV %s %d (creator)", what, p->id);
	return ns_owner_inside(&p->cuid, &p->cgid, name);
}

/*
 * The kernel gave the ids as criu's user namespace sees them; a tree with
 * one of its own gets its objects made again from inside it (as the
 * POSIX queues), so they are saved as the tree sees them. Nothing to do
 * without one (ns_owner_inside() leaves them).
 */
static int perms_inside(IpcNsEntry *ns)
{
	for (size_t i = 0; i < ns->n_shms; i++)
		if (perm_inside(ns->shms[i]->perm, "shm segment"))
			return -1;
	for (size_t i = 0; i < ns->n_msqs; i++)
		if (perm_inside(ns->msqs[i]->perm, "message queue"))
			return -1;
	for (size_t i = 0; i < ns->n_sems; i++)
		if (perm_inside(ns->sems[i]->perm, "semaphore set"))
			return -1;
	return 0;
}

/* Runs in a child that joins the tree's namespace and exits: nothing to free. */
static int dump_ns(int dfd)
{
	IpcNsEntry *ns = calloc(1, sizeof(*ns));
	struct cr_img *img;
	int ret = -1;

	if (!ns)
		return -1;
	ipc_ns_entry__init(ns);
	if (join_ipc_ns(ipc_ns_pid))
		goto out;
	if (add_sysctls(ns) || dump_shms(dfd, ns) || dump_msqs(ns) || dump_sems(ns))
		goto out;
	if (perms_inside(ns))
		goto out;
	if (mqueue_dump_ns(ns, ipc_ns_pid))
		goto out;
	img = open_image_at(dfd, CR_FD_IPC_NS, O_DUMP);
	if (!img)
		goto out;
	ret = finish_image(img, pb_write_one(img, ns));
out:
	return ret;
}

static int read_long_sysctl(const char *name, long *val)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open %s", path);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		pr_perror("can't read %s", path);
		return -1;
	}
	buf[n] = '\0';
	*val = strtol(buf, NULL, 10);
	return 0;
}

/* One segment of criu's namespace the tree has attached. */
static int dump_host_shm(int dfd, IpcNsEntry *ns, const struct host_shm *h, long forced)
{
	IpcShmEntry *se = calloc(1, sizeof(*se));
	struct shmid_ds ds;

	if (!se)
		return -1;
	ipc_shm_entry__init(se);
	ns->shms[ns->n_shms++] = se;
	if (shmctl(h->id, IPC_STAT, &ds)) {
		pr_perror("can't read SysV shm segment %d, attached by the tree", h->id);
		return -1;
	}
	se->perm = make_perm(&ds.shm_perm, h->id);
	if (!se->perm)
		return -1;
	se->size = ds.shm_segsz;
	se->has_cpid = se->has_ctime = true;
	se->cpid = ds.shm_cpid;
	se->ctime = ds.shm_ctime;
	if (!(ds.shm_perm.mode & SHM_DEST)) {
		if (forced) {
			/* the tree's death could take it, made by one of the tree's tasks or not */
			pr_err("can't dump SysV shm segment %d (key %#x) attached by the tree in criu's ipc "
			       "namespace: kernel.shm_rmid_forced is set there; not supported\n", h->id,
			       ds.shm_perm.__key);
			return -1;
		}
		pr_info("SysV shm %d of criu's namespace: key %#x, %lu bytes, creator %d, attached again in place\n",
			h->id, ds.shm_perm.__key, (unsigned long)ds.shm_segsz, ds.shm_cpid);
		return 0;
	}
	if (ds.shm_nattch > h->nr_areas) {
		pr_err("can't dump SysV shm segment %d: it is marked for removal (IPC_RMID) and attached %lu times, "
		       "%u of them by the tree: its bytes would be copied away from the other holders outside "
		       "the tree; not supported\n", h->id, (unsigned long)ds.shm_nattch, h->nr_areas);
		return -1;
	}
	pr_info("SysV shm %d of criu's namespace: marked for removal, %lu bytes saved, made again at restore\n",
		h->id, (unsigned long)ds.shm_segsz);
	return dump_shm_data(dfd, ns, se, &ds, h->id);
}

/* The segments of criu's namespace the tree has attached (ipc-ns.img with host set). */
static int dump_host_shms(int dfd)
{
	IpcNsEntry ns = IPC_NS_ENTRY__INIT;
	struct cr_img *img;
	long forced = 0;
	int ret = -1;

	ns.has_host = ns.host = true;
	ns.shms = calloc(nr_host_shms, sizeof(*ns.shms));
	if (!ns.shms)
		return -1;
	if (read_long_sysctl("kernel/shm_rmid_forced", &forced))
		goto out;
	for (size_t i = 0; i < nr_host_shms; i++)
		if (dump_host_shm(dfd, &ns, &host_shms[i], forced))
			goto out;
	img = open_image_at(dfd, CR_FD_IPC_NS, O_DUMP);
	if (!img)
		goto out;
	ret = finish_image(img, pb_write_one(img, &ns));
out:
	for (size_t i = 0; i < ns.n_shms; i++) {
		free(ns.shms[i]->perm);
		free(ns.shms[i]->csum);
		free(ns.shms[i]);
	}
	free(ns.shms);
	return ret;
}

int ipc_sysv_dump(int dfd)
{
	int ret;

	if (ipc_own_ns)
		return in_child(dump_ns, dfd, "dumping", ipc_ns_pid);
	/* restore looks for it: one from an older dump here must go */
	if (unlinkat(dfd, "ipc-ns.img", 0) && errno != ENOENT) {
		pr_perror("can't remove an old ipc-ns.img");
		return -1;
	}
	ret = nr_host_shms ? dump_host_shms(dfd) : 0;
	free(host_shms);
	host_shms = NULL;
	nr_host_shms = 0;
	return ret;
}

/* ---- restore ---- */

static IpcNsEntry *rst_ns;

static int check_perm(const IpcPermEntry *p, const char *what)
{
	if (!p || p->id < 0) {
		pr_err("ipc-ns.img: a %s without a valid id\n", what);
		return -1;
	}
	return 0;
}

static int check_ns_entry(IpcNsEntry *ns)
{
	if (ns->host && (ns->n_msqs || ns->n_sems || ns->n_sysctls || ns->n_mqueues)) {
		pr_err("ipc-ns.img: criu's namespace (host) with queues, semaphores or sysctls\n");
		return -1;
	}
	if (mqueue_check_ns(ns))
		return -1;
	for (size_t i = 0; ns->host && i < ns->n_shms; i++)
		if (ns->shms[i]->perm && !(ns->shms[i]->perm->mode & SHM_DEST) &&
		    (!ns->shms[i]->has_cpid || !ns->shms[i]->has_ctime)) {
			pr_err("ipc-ns.img: segment %d of criu's namespace without its creator and ctime\n",
			       ns->shms[i]->perm->id);
			return -1;
		}
	for (size_t i = 0; i < ns->n_shms; i++)
		if (check_perm(ns->shms[i]->perm, "shm segment"))
			return -1;
	for (size_t i = 0; i < ns->n_msqs; i++) {
		if (check_perm(ns->msqs[i]->perm, "message queue"))
			return -1;
		for (size_t j = 0; j < ns->msqs[i]->n_msgs; j++)
			if (ns->msqs[i]->msgs[j]->mtype <= 0) {
				pr_err("ipc-ns.img: queue %d has a message of type %ld\n", ns->msqs[i]->perm->id,
				       (long)ns->msqs[i]->msgs[j]->mtype);
				return -1;
			}
	}
	for (size_t i = 0; i < ns->n_sems; i++) {
		if (check_perm(ns->sems[i]->perm, "semaphore set"))
			return -1;
		if (!ns->sems[i]->n_values || ns->sems[i]->n_values > 65535) {
			pr_err("ipc-ns.img: semaphore set %d has %zu semaphores\n", ns->sems[i]->perm->id,
			       ns->sems[i]->n_values);
			return -1;
		}
	}
	for (size_t i = 0; i < ns->n_sysctls; i++)
		if (strstr(ns->sysctls[i]->name, "..") || strchr(ns->sysctls[i]->name, '\n')) {
			pr_err("ipc-ns.img: bad sysctl name %s\n", ns->sysctls[i]->name);
			return -1;
		}
	return 0;
}

int ipc_sysv_read(int dfd)
{
	struct cr_img *img;
	int r = image_exists(dfd, CR_FD_IPC_NS);

	if (r <= 0)
		return r;
	img = open_image_at(dfd, CR_FD_IPC_NS, O_RDONLY);
	if (!img)
		return -1;
	if (pb_read_one_required(img, (void **)&rst_ns)) {
		close_image(img);
		return -1;
	}
	close_image(img);
	return check_ns_entry(rst_ns);
}

uint64_t ipc_sysv_clone_flags(void)
{
	return rst_ns && !rst_ns->host ? CLONE_NEWIPC : 0;
}

uint64_t ipc_sysv_shm_size(int shmid)
{
	for (size_t i = 0; rst_ns && i < rst_ns->n_shms; i++)
		if (rst_ns->shms[i]->perm->id == shmid)
			return PG_UP(rst_ns->shms[i]->size);
	return 0;
}

static int write_sysctl(const char *name, const char *value)
{
	char path[128], cur[128];
	int fd, ret = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	/* a value it has already needs no write (nor the right to write, which a user namespace's root has alone) */
	fd = proc_open(O_RDONLY, "sys/%s", name);
	if (fd >= 0) {
		n = read(fd, cur, sizeof(cur) - 1);
		close(fd);
		if (n > 0) {
			cur[n] = '\0';
			cur[strcspn(cur, "\n")] = '\0';
			if (!strcmp(cur, value))
				return 0;
		}
	}
	fd = proc_open(O_WRONLY, "sys/%s", name);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value)) {
		pr_perror("can't set %s to %s", path, value);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

static int write_sysctls(int late)
{
	for (size_t i = 0; i < rst_ns->n_sysctls; i++) {
		IpcSysctlEntry *se = rst_ns->sysctls[i];

		if (is_late_sysctl(se->name) != late || !strcmp(se->name, "kernel/shm_rmid_forced"))
			continue;
		if (strstr(se->name, "_next_id") && !strcmp(se->value, "-1"))
			continue;	/* unset: the default of a new namespace */
		if (write_sysctl(se->name, se->value)) {
			/* --weak-sysctls: a setting left as it is; never an id, which the objects need */
			if (!opts.weak_sysctls || strstr(se->name, "_next_id"))
				return -1;
			pr_warn("--weak-sysctls: %s is left as it is\n", se->name);
		}
	}
	return 0;
}

/*
 * The kind of object @next_id makes: its *ctl(@cmd) on @id (IPC_STAT into
 * a buffer of ours, IPC_RMID). The key of an object found in *@key.
 */
static int ipc_ctl(const char *next_id, int id, int cmd, key_t *key)
{
	union {
		struct shmid_ds shm;
		struct msqid_ds msq;
		struct semid_ds sem;
	} u;
	int ret;

	if (strstr(next_id, "shm")) {
		ret = shmctl(id, cmd, &u.shm);
		*key = u.shm.shm_perm.__key;
	} else if (strstr(next_id, "msg")) {
		ret = msgctl(id, cmd, &u.msq);
		*key = u.msq.msg_perm.__key;
	} else {
		ret = semctl(id, 0, cmd, &u.sem);
		*key = u.sem.sem_perm.__key;
	}
	return ret;
}

/*
 * Make the object under its old id (the kernel takes *_next_id once) and
 * with its creator: the creds we have while calling @create are what the
 * kernel records as cuid/cgid.
 */
static int create_with_id(const char *next_id, const IpcPermEntry *p, int (*create)(const void *arg),
			  const void *arg, const char *what)
{
	char val[16];
	int id, err;

	snprintf(val, sizeof(val), "%d", p->id);
	if (write_sysctl(next_id, val))
		return -1;
	if (setresgid(-1, p->cgid, -1) || setresuid(-1, p->cuid, -1)) {
		pr_perror("can't take creator %u:%u of %s %d", p->cuid, p->cgid, what, p->id);
		return -1;
	}
	id = create(arg);
	err = errno;
	/* a changed euid made us undumpable: /proc/self would be closed to us for the rest of the restore */
	if (setresuid(-1, 0, -1) || setresgid(-1, 0, -1) || prctl(PR_SET_DUMPABLE, 1)) {
		pr_perror("can't become root again");
		return -1;
	}
	if (id < 0) {
		/* unused, it would give the next object made (criu's namespace: anyone's) this id */
		write_sysctl(next_id, "-1");
		errno = err;
		pr_perror("can't make %s %d (key %#x) again", what, p->id, p->key);
		return -1;
	}
	if (id != p->id) {
		key_t key = 0;

		/* the one made under another id is nobody's: criu's namespace would keep it */
		if (ipc_ctl(next_id, id, IPC_RMID, &key))
			pr_perror("can't remove %s %d, made for the failed restore", what, id);
		if (!ipc_ctl(next_id, p->id, IPC_STAT, &key))
			pr_err("can't make %s %d (key %#x) again: id %d is another's now (key %#x), made since "
			       "the dump\n", what, p->id, p->key, p->id, (unsigned int)key);
		else
			pr_err("%s %d came back as %d\n", what, p->id, id);
		return -1;
	}
	return 0;
}

static int create_flags(const IpcPermEntry *p)
{
	return IPC_CREAT | IPC_EXCL | (p->mode & 0777);
}

/* What IPC_SET gives back: the owner and the mode. */
static void set_owner(struct ipc_perm *ip, const IpcPermEntry *p)
{
	ip->uid = p->uid;
	ip->gid = p->gid;
	ip->mode = p->mode & 0777;
}

static int create_shm(const void *arg)
{
	const IpcShmEntry *se = arg;

	return shmget(se->perm->key, se->size, create_flags(se->perm));
}

static int fill_shm(int dfd, const IpcShmEntry *se)
{
	struct cr_img *img;
	void *addr;
	int ret;

	img = open_image_at(dfd, CR_FD_SYSVSHM_PAGES, O_RDONLY, se->perm->id);
	if (!img)
		return -1;
	addr = shmat(se->perm->id, NULL, 0);
	if (addr == (void *)-1) {
		pr_perror("can't attach SysV shm segment %d to fill it", se->perm->id);
		close_image(img);
		return -1;
	}
	ret = load_sparse(img, se->size, addr, se->csum, se->n_csum);
	if (ret)
		pr_err("can't fill SysV shm segment %d\n", se->perm->id);
	shmdt(addr);
	close_image(img);
	return ret;
}

static int restore_shm(int dfd, const IpcShmEntry *se)
{
	struct shmid_ds ds = { 0 };

	if (create_with_id("kernel/shm_next_id", se->perm, create_shm, se, "SysV shm segment") ||
	    fill_shm(dfd, se))
		return -1;
	set_owner(&ds.shm_perm, se->perm);
	if (shmctl(se->perm->id, IPC_SET, &ds)) {
		pr_perror("can't set the owner and mode of SysV shm segment %d", se->perm->id);
		return -1;
	}
	if ((se->perm->mode & SHM_LOCKED) && shmctl(se->perm->id, SHM_LOCK, NULL)) {
		pr_perror("can't lock SysV shm segment %d", se->perm->id);
		return -1;
	}
	return 0;
}

static int create_msq(const void *arg)
{
	const IpcMsqEntry *qe = arg;

	return msgget(qe->perm->key, create_flags(qe->perm));
}

static int restore_msq(const IpcMsqEntry *qe)
{
	struct msqid_ds ds = { 0 };
	size_t max = 0;
	struct {
		long mtype;
		char mtext[];
	} *buf;

	if (create_with_id("kernel/msg_next_id", qe->perm, create_msq, qe, "SysV message queue"))
		return -1;
	/* the queue's size first, so that every message fits again */
	set_owner(&ds.msg_perm, qe->perm);
	ds.msg_qbytes = qe->qbytes;
	if (msgctl(qe->perm->id, IPC_SET, &ds)) {
		pr_perror("can't set the owner, mode and size of SysV queue %d", qe->perm->id);
		return -1;
	}
	for (size_t i = 0; i < qe->n_msgs; i++)
		if (qe->msgs[i]->data.len > max)
			max = qe->msgs[i]->data.len;
	buf = malloc(sizeof(long) + max + 1);
	if (!buf)
		return -1;
	for (size_t i = 0; i < qe->n_msgs; i++) {
		buf->mtype = qe->msgs[i]->mtype;
		if (qe->msgs[i]->data.len)	/* an empty message has no data (NULL) */
			memcpy(buf->mtext, qe->msgs[i]->data.data, qe->msgs[i]->data.len);
		if (msgsnd(qe->perm->id, buf, qe->msgs[i]->data.len, IPC_NOWAIT)) {
			pr_perror("can't queue message %zu (%zu bytes) on SysV queue %d again", i,
				  qe->msgs[i]->data.len, qe->perm->id);
			free(buf);
			return -1;
		}
	}
	free(buf);
	return 0;
}

static int create_sem(const void *arg)
{
	const IpcSemEntry *se = arg;

	return semget(se->perm->key, se->n_values, create_flags(se->perm));
}

static int restore_sem(const IpcSemEntry *se)
{
	unsigned short *vals = calloc(se->n_values, sizeof(*vals));
	struct semid_ds ds = { 0 };
	int ret = -1;

	if (!vals)
		return -1;
	if (create_with_id("kernel/sem_next_id", se->perm, create_sem, se, "SysV semaphore set"))
		goto out;
	for (size_t i = 0; i < se->n_values; i++)
		vals[i] = se->values[i];
	if (semctl(se->perm->id, 0, SETALL, (union semun){ .array = vals })) {
		pr_perror("can't set the values of SysV semaphore set %d", se->perm->id);
		goto out;
	}
	set_owner(&ds.sem_perm, se->perm);
	if (semctl(se->perm->id, 0, IPC_SET, (union semun){ .buf = &ds })) {
		pr_perror("can't set the owner and mode of SysV semaphore set %d", se->perm->id);
		goto out;
	}
	ret = 0;
out:
	free(vals);
	return ret;
}

/*
 * A limit lowered after objects were made would refuse making them again
 * (and a queue size above msgmnb needs CAP_SYS_RESOURCE): such limits are
 * raised while the objects are made, then set to their saved values.
 */
struct limit {
	const char *name;
	uint64_t need;
	const char *saved;
};

static void note_needs(struct limit *l)
{
	for (size_t i = 0; i < rst_ns->n_msqs; i++) {
		IpcMsqEntry *q = rst_ns->msqs[i];

		if (q->qbytes > l[0].need)
			l[0].need = q->qbytes;
		for (size_t j = 0; j < q->n_msgs; j++)
			if (q->msgs[j]->data.len > l[1].need)
				l[1].need = q->msgs[j]->data.len;
	}
	for (size_t i = 0; i < rst_ns->n_shms; i++)
		if (rst_ns->shms[i]->size > l[2].need)
			l[2].need = rst_ns->shms[i]->size;
	mqueue_needs(rst_ns, &l[3].need, &l[4].need, &l[5].need);
}

static int raise_limits(struct limit *l, int nr)
{
	char val[32];

	note_needs(l);
	for (int i = 0; i < nr; i++) {
		l[i].saved = ns_value(rst_ns, l[i].name);
		if (!l[i].saved || strtoull(l[i].saved, NULL, 10) >= l[i].need) {
			l[i].saved = NULL;
			continue;
		}
		snprintf(val, sizeof(val), "%lu", (unsigned long)l[i].need);
		if (write_sysctl(l[i].name, val))
			return -1;
	}
	return 0;
}

static int lower_limits(struct limit *l, int nr)
{
	for (int i = 0; i < nr; i++)
		if (l[i].saved && write_sysctl(l[i].name, l[i].saved))
			return -1;
	return 0;
}

/* A segment of criu's namespace the tree held, and which outlived it: it must be that very one. */
static int check_host_shm(const IpcShmEntry *se)
{
	const IpcPermEntry *p = se->perm;
	struct shmid_ds ds;

	if (shmctl(p->id, IPC_STAT, &ds)) {
		pr_perror("can't restore: SysV shm segment %d (key %#x) of criu's ipc namespace, which the tree had "
			  "attached, is gone", p->id, p->key);
		return -1;
	}
	if (ds.shm_perm.__key != p->key || ds.shm_segsz != se->size || ds.shm_cpid != se->cpid ||
	    ds.shm_ctime != se->ctime || (ds.shm_perm.mode & SHM_DEST)) {
		pr_err("can't restore: SysV shm segment %d of criu's ipc namespace is not the one the tree had "
		       "attached (key %#x, %lu bytes, creator %d, ctime %ld; now key %#x, %lu bytes, creator %d, "
		       "ctime %ld%s)\n", p->id, p->key, (unsigned long)se->size, se->cpid, (long)se->ctime,
		       ds.shm_perm.__key, (unsigned long)ds.shm_segsz, ds.shm_cpid, (long)ds.shm_ctime,
		       (ds.shm_perm.mode & SHM_DEST) ? ", marked for removal" : "");
		return -1;
	}
	return 0;
}

/* criu's own namespace: the tree's segments checked, those that died with it made again. */
static int restore_host_shms(int dfd)
{
	for (size_t i = 0; i < rst_ns->n_shms; i++) {
		const IpcShmEntry *se = rst_ns->shms[i];

		if (se->perm->mode & SHM_DEST ? restore_shm(dfd, se) : check_host_shm(se))
			return -1;
	}
	pr_info("criu's ipc namespace: %zu shm segments the tree had attached are there\n", rst_ns->n_shms);
	return 0;
}

int ipc_sysv_restore(int dfd)
{
	struct limit limits[] = { { "kernel/msgmnb" }, { "kernel/msgmax" }, { "kernel/shmmax" },
				  { "fs/mqueue/msg_max" }, { "fs/mqueue/msgsize_max" }, { "fs/mqueue/queues_max" } };

	if (!rst_ns)
		return 0;
	if (rst_ns->host)
		return restore_host_shms(dfd);
	if (write_sysctls(0) || raise_limits(limits, ARRAY_SIZE(limits)))
		return -1;
	for (size_t i = 0; i < rst_ns->n_shms; i++)
		if (restore_shm(dfd, rst_ns->shms[i]))
			return -1;
	for (size_t i = 0; i < rst_ns->n_msqs; i++)
		if (restore_msq(rst_ns->msqs[i]))
			return -1;
	for (size_t i = 0; i < rst_ns->n_sems; i++)
		if (restore_sem(rst_ns->sems[i]))
			return -1;
	if (mqueue_restore_ns(rst_ns))
		return -1;
	pr_info("ipc namespace: %zu shm segments, %zu queues, %zu semaphore sets made again\n", rst_ns->n_shms,
		rst_ns->n_msqs, rst_ns->n_sems);
	return lower_limits(limits, ARRAY_SIZE(limits)) || write_sysctls(1) ? -1 : 0;
}

/* In a child that joined the restored namespace. */
static int finish_ns(pid_t root)
{
	const char *forced = ns_value(rst_ns, "kernel/shm_rmid_forced");

	if (join_ipc_ns(root))
		return -1;
	/* only now that the tasks hold their attachments: a marked segment nobody holds goes */
	for (size_t i = 0; i < rst_ns->n_shms; i++)
		if ((rst_ns->shms[i]->perm->mode & SHM_DEST) && shmctl(rst_ns->shms[i]->perm->id, IPC_RMID, NULL)) {
			pr_perror("can't mark SysV shm segment %d for removal", rst_ns->shms[i]->perm->id);
			return -1;
		}
	if (forced && strcmp(forced, "0") && write_sysctl("kernel/shm_rmid_forced", forced))
		return -1;
	return 0;
}

int ipc_sysv_restore_finish(pid_t root)
{
	if (!rst_ns)
		return 0;
	return in_child(finish_ns, root, "finishing", root);
}

void ipc_sysv_restore_abort(pid_t root)
{
	struct shmid_ds ds;

	for (size_t i = 0; rst_ns && rst_ns->host && i < rst_ns->n_shms; i++) {
		int id = rst_ns->shms[i]->perm->id;

		/* ours only: made by the root (key IPC_PRIVATE once marked), not marked yet */
		if (!(rst_ns->shms[i]->perm->mode & SHM_DEST) || shmctl(id, IPC_STAT, &ds) || ds.shm_cpid != root ||
		    (ds.shm_perm.mode & SHM_DEST))
			continue;
		if (shmctl(id, IPC_RMID, NULL))
			pr_perror("can't remove SysV shm segment %d made for the failed restore", id);
	}
}

void ipc_sysv_free(void)
{
	if (rst_ns)
		ipc_ns_entry__free_unpacked(rst_ns, NULL);
	rst_ns = NULL;
}
