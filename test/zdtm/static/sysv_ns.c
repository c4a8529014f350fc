// SPDX-License-Identifier: GPL-2.0-only
/*
 * SysV objects of the tree's own IPC namespace, made by the test itself
 * (ns and uns flavors: in uns the namespace belongs to the tree's user
 * namespace, whose ids differ from criu's): a message queue with
 * messages, a semaphore set with values, a segment nobody attaches and
 * one the test keeps attached. After C/R: the same ids, owners and
 * creators as the test sees them (getuid(), getgid()), modes, messages in
 * order, semaphore values, segment bytes, and the attachment still
 * shared with the segment.
 */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "zdtmtst.h"

#define SEG_SIZE	(64 << 10)
#define NSEMS		3

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static struct {
	long mtype;
	char mtext[64];
} msg;

static const unsigned short sem_vals[NSEMS] = { 3, 0, 1000 };

static void check_perm(const struct ipc_perm *p, const char *what, int mode)
{
	if (p->uid != getuid() || p->gid != getgid() || p->cuid != getuid() || p->cgid != getgid())
		failv("%s: owner %u:%u creator %u:%u, expected %u:%u", what, p->uid, p->gid, p->cuid, p->cgid,
		      getuid(), getgid());
	if ((p->mode & 0777) != mode)
		failv("%s: mode %o, expected %o", what, p->mode & 0777, mode);
}

static void fill(char *p, int seed)
{
	for (int i = 0; i < SEG_SIZE; i++)
		p[i] = (char)(i * 13 + seed);
}

static int same(const char *p, int seed)
{
	for (int i = 0; i < SEG_SIZE; i++)
		if (p[i] != (char)(i * 13 + seed))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	int q, s, seg_a, seg_b;
	struct msqid_ds qd;
	struct semid_ds sd;
	struct shmid_ds hd;
	unsigned short vals[NSEMS];
	char *a, *b;

	test_init(argc, argv);
	q = msgget(IPC_PRIVATE, IPC_CREAT | 0640);
	s = semget(0x5151, NSEMS, IPC_CREAT | IPC_EXCL | 0604);
	seg_a = shmget(IPC_PRIVATE, SEG_SIZE, IPC_CREAT | 0600);
	seg_b = shmget(0x5152, SEG_SIZE, IPC_CREAT | IPC_EXCL | 0660);
	if (q < 0 || s < 0 || seg_a < 0 || seg_b < 0)
		test_bug("making the objects");
	for (int i = 0; i < 3; i++) {
		msg.mtype = i + 1;
		snprintf(msg.mtext, sizeof(msg.mtext), "message %d", i);
		if (msgsnd(q, &msg, strlen(msg.mtext) + 1, 0))
			test_bug("msgsnd");
	}
	if (semctl(s, 0, SETALL, (union semun){ .array = (unsigned short *)sem_vals }))
		test_bug("semctl SETALL");
	a = shmat(seg_a, NULL, 0);
	b = shmat(seg_b, NULL, 0);
	if (a == (void *)-1 || b == (void *)-1)
		test_bug("shmat");
	fill(a, 1);
	fill(b, 2);
	if (shmdt(b))
		test_bug("shmdt");

	test_daemon();
	test_waitsig();

	if (msgctl(q, IPC_STAT, &qd) || semctl(s, 0, IPC_STAT, (union semun){ .buf = &sd })) {
		failv("the queue or the semaphore set is gone: %s", strerror(errno));
		goto out;
	}
	check_perm(&qd.msg_perm, "message queue", 0640);
	check_perm(&sd.sem_perm, "semaphore set", 0604);
	if (qd.msg_qnum != 3)
		failv("%lu messages queued, expected 3", (unsigned long)qd.msg_qnum);
	for (int i = 0; i < 3; i++) {
		char want[64];

		snprintf(want, sizeof(want), "message %d", i);
		if (msgrcv(q, &msg, sizeof(msg.mtext), 0, IPC_NOWAIT) < 0 || msg.mtype != i + 1 ||
		    strcmp(msg.mtext, want))
			failv("message %d: type %ld '%.20s'", i, msg.mtype, msg.mtext);
	}
	if (semctl(s, 0, GETALL, (union semun){ .array = vals }) || memcmp(vals, sem_vals, sizeof(vals)))
		failv("semaphore values %u %u %u", vals[0], vals[1], vals[2]);
	if (shmctl(seg_a, IPC_STAT, &hd)) {
		failv("the attached segment is gone: %s", strerror(errno));
		goto out;
	}
	check_perm(&hd.shm_perm, "attached segment", 0600);
	if (hd.shm_nattch != 1 || !same(a, 1))
		failv("attached segment: %lu attachments, bytes %s", (unsigned long)hd.shm_nattch,
		      same(a, 1) ? "same" : "changed");
	if (shmctl(seg_b, IPC_STAT, &hd)) {
		failv("the unattached segment is gone: %s", strerror(errno));
		goto out;
	}
	check_perm(&hd.shm_perm, "unattached segment", 0660);
	b = shmat(seg_b, NULL, SHM_RDONLY);
	if (b == (void *)-1 || !same(b, 2))
		failv("unattached segment: bytes changed or not attachable");
	/* the attachment is the segment: a write shows through the id */
	a[100] ^= 0x5a;
	b = shmat(seg_a, NULL, SHM_RDONLY);
	if (b == (void *)-1 || b[100] != a[100])
		fail("the restored attachment is not the segment's memory");
	else
		pass();
out:
	msgctl(q, IPC_RMID, NULL);
	semctl(s, 0, IPC_RMID);
	shmctl(seg_a, IPC_RMID, NULL);
	shmctl(seg_b, IPC_RMID, NULL);
	return 0;
}
