// SPDX-License-Identifier: GPL-2.0-only
/*
 * SysV message queue, semaphore set and an unattached shm segment in an
 * IPC namespace of the test's own, with chosen ids, keys, owners and
 * modes (the semaphore set made by another user), and non-default
 * namespace sysctls. The queue holds messages of
 * several types (an empty one and a large one among them) and a queue
 * size above what msgmnb allows by now (it was lowered afterwards). After C/R: the same ids, keys, owners, modes, queue size
 * and sysctls; msgrcv by type picks the right message and the rest come
 * out in order with their bytes; the semaphores have their values; the
 * segment has its bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "zdtmtst.h"

#define MSG_KEY		0xabc
#define SEM_KEY		0x5e4
#define SHM_KEY		0x77
#define MSG_ID		(7 * 32768 + 3)
#define SEM_ID		(2 * 32768 + 9)
#define QBYTES		30000
#define BIG		6000
#define NSEMS		5
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static const struct {
	long type;
	const char *text;
} msgs[] = {
	{ 3, "three" }, { 1, "one" }, { 2, "" }, { 3, NULL /* BIG bytes */ }, { 1, "one again" },
};

static const unsigned short sem_vals[NSEMS] = { 0, 1, 7, 32767, 42 };

static const struct {
	const char *name, *value;
} sysctls[] = {
	{ "kernel/msgmax", "9000" },
	{ "kernel/sem", "250\t32000\t64\t200" },
	{ "kernel/shmmni", "1000" },
	{ "kernel/msgmnb", "40000" },
};

static struct {
	long mtype;
	char mtext[BIG];
} buf;

static void write_file(const char *name, const char *value)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		test_bug("%s", path);
	close(fd);
}

static void read_file(const char *name, char *out, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, out, len - 1);
	close(fd);
	out[n < 0 ? 0 : n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static size_t msg_len(int i)
{
	return msgs[i].text ? strlen(msgs[i].text) : BIG;
}

static void msg_fill(int i)
{
	buf.mtype = msgs[i].type;
	if (msgs[i].text)
		memcpy(buf.mtext, msgs[i].text, strlen(msgs[i].text));
	else
		for (int j = 0; j < BIG; j++)
			buf.mtext[j] = (char)(j * 7 + 1);
}

/* Receive with @type and compare with message @i. */
static void check_msg(int q, long type, int i)
{
	char want[BIG];
	ssize_t n = msgrcv(q, &buf, sizeof(buf.mtext), type, IPC_NOWAIT);

	if (n < 0) {
		failv("msgrcv(type %ld) for message %d: %s", type, i, strerror(errno));
		return;
	}
	memcpy(want, buf.mtext, n);
	msg_fill(i);
	if (buf.mtype != msgs[i].type || (size_t)n != msg_len(i) || memcmp(want, buf.mtext, n))
		failv("message %d: type %ld, %zd bytes; expected type %ld, %zu bytes", i, buf.mtype, n,
		      msgs[i].type, msg_len(i));
}

int main(int argc, char **argv)
{
	unsigned short vals[NSEMS];
	struct msqid_ds mds;
	struct semid_ds sds;
	struct shmid_ds shds;
	int q, s, m;
	char *p, val[64];

	test_init(argc, argv);
	if (unshare(CLONE_NEWIPC))
		test_bug("unshare(CLONE_NEWIPC)");
	for (size_t i = 0; i < ARRAY_SIZE(sysctls); i++)
		write_file(sysctls[i].name, sysctls[i].value);

	snprintf(val, sizeof(val), "%d", MSG_ID);
	write_file("kernel/msg_next_id", val);
	q = msgget(MSG_KEY, IPC_CREAT | IPC_EXCL | 0620);
	snprintf(val, sizeof(val), "%d", SEM_ID);
	write_file("kernel/sem_next_id", val);
	/* made by another user: its creator (cuid, cgid) must come back too */
	if (setegid(3000) || seteuid(3000))
		test_bug("seteuid");
	s = semget(SEM_KEY, NSEMS, IPC_CREAT | IPC_EXCL | 0640);
	if (seteuid(0) || setegid(0))
		test_bug("seteuid back");
	m = shmget(SHM_KEY, 3 * 4096 + 100, IPC_CREAT | IPC_EXCL | 0600);
	if (q != MSG_ID || s != SEM_ID || m < 0)
		test_bug("ids %d %d %d", q, s, m);

	memset(&mds, 0, sizeof(mds));
	mds.msg_perm.uid = 1000;
	mds.msg_perm.gid = 2000;
	mds.msg_perm.mode = 0622;
	mds.msg_qbytes = QBYTES;
	if (msgctl(q, IPC_SET, &mds))
		test_bug("msgctl IPC_SET");
	write_file("kernel/msgmnb", "20000");
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		msg_fill(i);
		if (msgsnd(q, &buf, msg_len(i), IPC_NOWAIT))
			test_bug("msgsnd %zu", i);
	}
	if (semctl(s, 0, SETALL, (union semun){ .array = (unsigned short *)sem_vals }))
		test_bug("SETALL");
	p = shmat(m, NULL, 0);
	if (p == (void *)-1)
		test_bug("shmat");
	zdtm_fill(p + 4096, 2 * 4096, 11);
	p[3 * 4096 + 99] = 'E';
	shmdt(p);

	test_daemon();
	test_waitsig();

	for (size_t i = 0; i < ARRAY_SIZE(sysctls); i++) {
		const char *want = strcmp(sysctls[i].name, "kernel/msgmnb") ? sysctls[i].value : "20000";

		read_file(sysctls[i].name, val, sizeof(val));
		if (strcmp(val, want))
			failv("%s is %s, not %s", sysctls[i].name, val, want);
	}
	if (msgget(MSG_KEY, 0) != q || semget(SEM_KEY, 0, 0) != s || shmget(SHM_KEY, 0, 0) != m)
		failv("the keys find other ids: %d %d %d", msgget(MSG_KEY, 0), semget(SEM_KEY, 0, 0),
		      shmget(SHM_KEY, 0, 0));
	if (msgctl(q, IPC_STAT, &mds))
		failv("queue %d is gone", q);
	else if (mds.msg_perm.__key != MSG_KEY || mds.msg_perm.uid != 1000 || mds.msg_perm.gid != 2000 ||
		 mds.msg_perm.cuid != 0 || (mds.msg_perm.mode & 0777) != 0622 || mds.msg_qbytes != QBYTES ||
		 mds.msg_qnum != ARRAY_SIZE(msgs))
		failv("queue %d: key %#x uid %u gid %u cuid %u mode %o qbytes %lu qnum %lu", q, mds.msg_perm.__key,
		      mds.msg_perm.uid, mds.msg_perm.gid, mds.msg_perm.cuid, mds.msg_perm.mode,
		      (unsigned long)mds.msg_qbytes, (unsigned long)mds.msg_qnum);
	check_msg(q, 2, 2);		/* by type: the first of type 2 */
	check_msg(q, 0, 0);		/* then the rest in order */
	check_msg(q, 0, 1);
	check_msg(q, 0, 3);
	check_msg(q, 0, 4);

	if (semctl(s, 0, IPC_STAT, (union semun){ .buf = &sds }))
		failv("semaphore set %d is gone", s);
	else if (sds.sem_perm.__key != SEM_KEY || sds.sem_nsems != NSEMS || (sds.sem_perm.mode & 0777) != 0640 ||
		 sds.sem_perm.cuid != 3000 || sds.sem_perm.cgid != 3000 || sds.sem_perm.uid != 3000)
		failv("semaphore set %d: key %#x nsems %lu mode %o cuid %u cgid %u uid %u", s, sds.sem_perm.__key,
		      (unsigned long)sds.sem_nsems, sds.sem_perm.mode, sds.sem_perm.cuid, sds.sem_perm.cgid,
		      sds.sem_perm.uid);
	else if (semctl(s, 0, GETALL, (union semun){ .array = vals }) || memcmp(vals, sem_vals, sizeof(vals)))
		failv("semaphore values: %u %u %u %u %u", vals[0], vals[1], vals[2], vals[3], vals[4]);

	if (shmctl(m, IPC_STAT, &shds) || shds.shm_segsz != 3 * 4096 + 100 || shds.shm_nattch != 0)
		failv("segment %d: size %zu, nattch %lu", m, shds.shm_segsz, (unsigned long)shds.shm_nattch);
	p = shmat(m, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		failv("shmat %d: %m", m);
	else if (zdtm_check_zero(p, 4096) != (size_t)-1 || zdtm_check(p + 4096, 2 * 4096, 11) != (size_t)-1 ||
		 p[3 * 4096 + 99] != 'E')
		failv("the bytes of segment %d changed", m);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
