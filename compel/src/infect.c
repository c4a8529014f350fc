/* Running syscalls and a parasite blob inside a seized task. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compel/rpc.h"
#include "internal.h"
#include "log.h"

#ifndef PTRACE_SETSIGMASK
#define PTRACE_SETSIGMASK	0x420b
#endif

#define PARASITE_STACK_SIZE	(64 * 1024)
#define PAGE_SZ			4096UL
#define ALIGN_PAGE(x)		(((x) + PAGE_SZ - 1) & ~(PAGE_SZ - 1))

/* syscall; int3; int3 ... */
static const unsigned char syscall_code[8] = { 0x0f, 0x05, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc };

static int find_exec_area(pid_t pid, unsigned long *addr)
{
	char path[64], line[4096];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		cpr_perror("open %s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3)
			continue;
		if (perms[2] != 'x' || strstr(line, "[vsyscall]") || strstr(line, "[vdso]") ||
		    strstr(line, "[uprobes]"))
			continue;
		*addr = start;
		fclose(f);
		return 0;
	}
	fclose(f);
	cpr_err("task %d has no executable area to run syscalls from\n", pid);
	return -1;
}

/*
 * A ctl for @tid with its state saved and every signal blocked (restored
 * by compel_cure()). @leader, if given, lends its blob for running
 * syscalls; otherwise they run from code poked into the task's text.
 */
static struct parasite_ctl *prepare(pid_t tid, struct parasite_ctl *leader)
{
	struct parasite_ctl *ctl;
	uint64_t all = ~0ULL;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		cpr_err("out of memory\n");
		return NULL;
	}
	ctl->pid = tid;
	ctl->sock = ctl->listen_sock = -1;
	if (compel_get_thread_state(tid, &ctl->orig))
		goto err;
	if (leader) {
		ctl->blob = leader->blob;
		ctl->remote_map = leader->remote_map;
		ctl->borrowed = 1;
	} else {
		if (find_exec_area(tid, &ctl->code_addr))
			goto err;
		errno = 0;
		ctl->code_orig = ptrace(PTRACE_PEEKDATA, tid, (void *)ctl->code_addr, NULL);
		if (errno) {
			cpr_perror("PTRACE_PEEKDATA of %d at 0x%lx", tid, ctl->code_addr);
			goto err;
		}
	}
	/* Nothing may interrupt what we run in there. */
	if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(all), &all)) {
		cpr_perror("blocking signals of %d", tid);
		goto err;
	}
	return ctl;
err:
	compel_free_thread_state(&ctl->orig);
	free(ctl);
	return NULL;
}

struct parasite_ctl *compel_prepare_thread(struct parasite_ctl *leader, pid_t tid)
{
	if (!leader->remote_map) {
		cpr_err("thread %d: its leader has no parasite\n", tid);
		return NULL;
	}
	return prepare(tid, leader);
}

struct parasite_ctl *compel_prepare(pid_t pid)
{
	return prepare(pid, NULL);
}

const struct compel_thread_state *compel_orig_state(struct parasite_ctl *ctl)
{
	return &ctl->orig;
}

static int poke_code(pid_t pid, unsigned long addr, unsigned long val)
{
	if (ptrace(PTRACE_POKEDATA, pid, (void *)addr, (void *)val)) {
		cpr_perror("PTRACE_POKEDATA of %d at 0x%lx", pid, addr);
		return -1;
	}
	return 0;
}

/* Resume the task at @regs and wait until it traps at @trap_ip. */
static int run_until_trap(struct parasite_ctl *ctl, struct user_regs_struct *regs, unsigned long trap_ip)
{
	int status;

	if (ptrace(PTRACE_SETREGS, ctl->pid, NULL, regs)) {
		cpr_perror("PTRACE_SETREGS of %d", ctl->pid);
		return -1;
	}
	if (ptrace(PTRACE_CONT, ctl->pid, NULL, NULL)) {
		cpr_perror("PTRACE_CONT of %d", ctl->pid);
		return -1;
	}
	while (1) {
		if (compel_wait(ctl->pid, &status) < 0) {
			cpr_perror("waitpid(%d)", ctl->pid);
			return -1;
		}
		if (!WIFSTOPPED(status)) {
			cpr_err("task %d died while running injected code (status 0x%x)\n", ctl->pid, status);
			return -1;
		}
		if (ptrace(PTRACE_GETREGS, ctl->pid, NULL, regs)) {
			cpr_perror("PTRACE_GETREGS of %d", ctl->pid);
			return -1;
		}
		if (WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0 && regs->rip == trap_ip)
			return 0;
		/* a group-stop trap left over: the task is ours, let it go on */
		if ((status >> 16) == PTRACE_EVENT_STOP) {
			if (ptrace(PTRACE_CONT, ctl->pid, NULL, NULL)) {
				cpr_perror("PTRACE_CONT of %d", ctl->pid);
				return -1;
			}
			continue;
		}
		cpr_err("task %d stopped unexpectedly with signal %d at 0x%llx (status 0x%x)\n",
			ctl->pid, WSTOPSIG(status), regs->rip, status);
		return -1;
	}
}

int compel_syscall(struct parasite_ctl *ctl, long nr, long *ret,
		   unsigned long a1, unsigned long a2, unsigned long a3,
		   unsigned long a4, unsigned long a5, unsigned long a6)
{
	struct user_regs_struct regs = ctl->orig.regs;
	unsigned long ip;
	int err;

	if (ctl->remote_map) {
		ip = ctl->remote_map + ctl->blob->syscall_off;
	} else {
		ip = ctl->code_addr;
		if (poke_code(ctl->pid, ip, *(const unsigned long *)syscall_code))
			return -1;
	}

	regs.rax = nr;
	regs.rdi = a1;
	regs.rsi = a2;
	regs.rdx = a3;
	regs.r10 = a4;
	regs.r8 = a5;
	regs.r9 = a6;
	regs.rip = ip;
	regs.orig_rax = -1;	/* not in a syscall: no restart games on resume */

	err = run_until_trap(ctl, &regs, ip + 3);
	if (!ctl->remote_map && poke_code(ctl->pid, ip, ctl->code_orig))
		err = -1;
	if (ptrace(PTRACE_SETREGS, ctl->pid, NULL, &ctl->orig.regs)) {
		cpr_perror("restoring registers of %d", ctl->pid);
		err = -1;
	}
	if (!err)
		*ret = regs.rax;
	cpr_debug("task %d: syscall %ld = %ld\n", ctl->pid, nr, err ? -1L : (long)regs.rax);
	return err;
}

/*
 * An abstract name is only seen in the network namespace it was bound in:
 * a task in another one gets a socket made in its namespace.
 */
static int socket_in_netns(pid_t pid)
{
	char path[64];
	struct stat a, b;
	int self, target, sk;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &a) || stat("/proc/self/ns/net", &b) || (a.st_ino == b.st_ino && a.st_dev == b.st_dev))
		return socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || target < 0 || setns(target, CLONE_NEWNET)) {
		cpr_perror("can't enter the network namespace of %d", pid);
		sk = -1;
		goto out;
	}
	sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (setns(self, CLONE_NEWNET)) {
		cpr_perror("can't come back to our network namespace");
		if (sk >= 0)
			close(sk);
		sk = -1;
	}
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return sk;
}

static int make_listen_sock(struct parasite_ctl *ctl, struct compel_args *a)
{
	static unsigned int seq;
	int len, sk;

	sk = socket_in_netns(ctl->pid);
	if (sk < 0) {
		cpr_perror("socket");
		return -1;
	}
	memset(&a->addr, 0, sizeof(a->addr));
	a->addr.sun_family = AF_UNIX;
	len = snprintf(a->addr.sun_path + 1, sizeof(a->addr.sun_path) - 1, "compel-%d-%d-%u",
		       getpid(), ctl->pid, seq++);
	a->addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + len;
	if (bind(sk, (struct sockaddr *)&a->addr, a->addr_len) || listen(sk, 1)) {
		cpr_perror("binding the control socket");
		close(sk);
		return -1;
	}
	ctl->listen_sock = sk;
	return 0;
}

static int map_shared_area(struct parasite_ctl *ctl, size_t size)
{
	char path[128];
	long remote;
	int fd;

	if (compel_syscall(ctl, __NR_mmap, &remote, 0, size, PROT_READ | PROT_WRITE | PROT_EXEC,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0))
		return -1;
	if (remote < 0 && remote > -4096) {
		cpr_err("mmap of %zu bytes in task %d failed: %s\n", size, ctl->pid, strerror(-remote));
		return -1;
	}
	ctl->remote_map = remote;
	ctl->map_size = size;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", ctl->pid, remote, remote + size);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		cpr_perror("open %s", path);
		return -1;
	}
	ctl->local_map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (ctl->local_map == MAP_FAILED) {
		ctl->local_map = NULL;
		cpr_perror("mmap of %s", path);
		return -1;
	}
	return 0;
}

int compel_infect(struct parasite_ctl *ctl, const struct compel_blob *blob, size_t args_size)
{
	size_t blob_size = ALIGN_PAGE(blob->mem_size);
	size_t args_off = blob_size + PARASITE_STACK_SIZE;
	size_t size = args_off + ALIGN_PAGE(sizeof(struct compel_args) + args_size);
	struct user_regs_struct regs;
	struct compel_args *a;

	if (map_shared_area(ctl, size))
		return -1;

	compel_blob_load(blob, ctl->local_map, ctl->remote_map);
	ctl->blob = blob;
	a = ctl->args = (char *)ctl->local_map + args_off;
	a->magic = COMPEL_ARGS_MAGIC;
	a->user_off = sizeof(*a);
	a->user_size = args_size;
	if (make_listen_sock(ctl, a))
		return -1;

	regs = ctl->orig.regs;
	regs.rip = ctl->remote_map + blob->entry;
	regs.rsp = ctl->remote_map + args_off;	/* stack grows down from the args */
	regs.rdi = ctl->remote_map + args_off;
	regs.orig_rax = -1;
	if (ptrace(PTRACE_SETREGS, ctl->pid, NULL, &regs) || ptrace(PTRACE_CONT, ctl->pid, NULL, NULL)) {
		cpr_perror("starting the parasite in %d", ctl->pid);
		return -1;
	}
	ctl->running = 1;

	if (compel_wait_sock(ctl, ctl->listen_sock))
		return -1;
	ctl->sock = accept4(ctl->listen_sock, NULL, NULL, SOCK_CLOEXEC);
	if (ctl->sock < 0) {
		cpr_perror("accepting the parasite's connection from %d", ctl->pid);
		return -1;
	}
	/* The name is guessable: make sure it is our parasite that called. */
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	if (getsockopt(ctl->sock, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.pid != ctl->pid) {
		cpr_err("control socket of %d was connected by pid %d, not by the parasite\n", ctl->pid,
			cl == sizeof(cred) ? cred.pid : -1);
		return -1;
	}
	close(ctl->listen_sock);
	ctl->listen_sock = -1;
	cpr_debug("task %d: parasite %s running at 0x%lx\n", ctl->pid, blob->name, ctl->remote_map);
	return 0;
}

void *compel_parasite_args(struct parasite_ctl *ctl)
{
	return compel_user_args(ctl->args);
}

unsigned long compel_remote_addr(struct parasite_ctl *ctl, const void *local)
{
	return ctl->remote_map + ((const char *)local - (const char *)ctl->local_map);
}

/* Bring the daemon to its final trap; the task is stopped afterwards. */
static int stop_daemon(struct parasite_ctl *ctl)
{
	struct user_regs_struct regs;
	int status, ret = 0;

	if (ctl->sock >= 0) {
		struct compel_ctl_msg m = { .cmd = COMPEL_CMD_FINI };

		if (write(ctl->sock, &m, sizeof(m)) != sizeof(m) ||
		    compel_wait_sock(ctl, ctl->sock) || read(ctl->sock, &m, sizeof(m)) != sizeof(m)) {
			cpr_err("parasite in %d did not acknowledge the end\n", ctl->pid);
			ret = -1;
		}
	}
	if (!ctl->running)
		return ret;

	if (ret || ctl->sock < 0) {
		/* Not talking to us: stop it wherever it is. */
		if (ptrace(PTRACE_INTERRUPT, ctl->pid, NULL, NULL))
			cpr_perror("PTRACE_INTERRUPT of %d", ctl->pid);
	}
	if (compel_wait(ctl->pid, &status) < 0 || !WIFSTOPPED(status)) {
		cpr_err("task %d did not stop after its parasite (status 0x%x)\n", ctl->pid, status);
		ctl->running = 0;
		return -1;
	}
	ctl->running = 0;
	if (ptrace(PTRACE_GETREGS, ctl->pid, NULL, &regs) == 0 &&
	    regs.rip != ctl->remote_map + ctl->blob->trap_off + 1) {
		cpr_err("parasite in %d stopped at 0x%llx with signal %d, not at its end\n",
			ctl->pid, regs.rip, WSTOPSIG(status));
		ret = -1;
	}
	return ret;
}

int compel_cure(struct parasite_ctl *ctl)
{
	int ret = 0;
	long sret;

	if (!ctl)
		return 0;
	if (ctl->running && stop_daemon(ctl))
		ret = -1;
	if (ctl->sock >= 0)
		close(ctl->sock);
	if (ctl->listen_sock >= 0)
		close(ctl->listen_sock);

	if (ctl->local_map)
		munmap(ctl->local_map, ctl->map_size);
	if (ctl->remote_map && !ctl->borrowed) {
		unsigned long addr = ctl->remote_map;

		/* The blob's own syscall insn is going away: use the pokes. */
		ctl->remote_map = 0;
		if (compel_syscall(ctl, __NR_munmap, &sret, addr, ctl->map_size, 0, 0, 0, 0) || sret) {
			cpr_err("can't unmap the parasite from %d at 0x%lx\n", ctl->pid, addr);
			ret = -1;
		}
	}
	if (compel_set_thread_state(ctl->pid, &ctl->orig))
		ret = -1;
	compel_free_thread_state(&ctl->orig);
	free(ctl);
	return ret;
}
