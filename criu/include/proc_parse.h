#ifndef CR_PROC_PARSE_H
#define CR_PROC_PARSE_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* One line of /proc/PID/maps. */
struct proc_vma {
	uint64_t start, end;
	uint64_t pgoff;			/* bytes */
	unsigned int prot;		/* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;			/* 's' rather than 'p' */
	unsigned int dev_maj, dev_min;
	uint64_t ino;
	char *name;			/* malloc'ed, NULL when the area has no name */
	bool deleted;			/* " (deleted)" was stripped from name */
	const char *vmflags;		/* smaps: its VmFlags, into the smaps text, up to the newline */
	unsigned long kpage_kb;		/* smaps: KernelPageSize in kB */
	unsigned int pkey;		/* smaps: ProtectionKey (0 where the kernel has no pkeys) */
};

/* Parse one maps line (with or without its trailing newline). 0 or -1. */
int parse_maps_line(const char *line, struct proc_vma *v);
/* Parse a whole maps text. On success *vmas is malloc'ed, *nr set. 0 or -1. */
int parse_maps_buf(const char *buf, struct proc_vma **vmas, int *nr);
int parse_maps(pid_t pid, struct proc_vma **vmas, int *nr);
/*
 * The areas of /proc/PID/smaps, which lists what maps does and more, with
 * VmFlags and KernelPageSize; vmflags point into @buf, which must outlive
 * them. 0 or -1.
 */
int parse_smaps_buf(const char *buf, struct proc_vma **vmas, int *nr);
/* Read and parse /proc/PID/smaps; *text is the buffer to free after the areas. 0 or -1. */
int parse_smaps(pid_t pid, struct proc_vma **vmas, int *nr, char **text);
void free_maps(struct proc_vma *vmas, int nr);

/* The fields of /proc/PID/stat we use. */
struct proc_pid_stat {
	int pid;
	char comm[64];
	char state;
	int ppid, pgid, sid;
	int tty_nr;
	int tpgid;		/* foreground group of its controlling terminal, -1 if none */
	unsigned long flags;
	long num_threads;
	uint64_t start_time;		/* clock ticks after boot: tells a reused pid */
	int exit_signal;
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int exit_code;
};

int parse_pid_stat_buf(const char *buf, struct proc_pid_stat *s);
int parse_pid_stat(pid_t pid, struct proc_pid_stat *s);

#define PROC_MAX_GROUPS 65536

/* The fields of /proc/PID/status we use. */
struct proc_status {
	char state;
	int tgid, pid, ppid, tracer_pid;
	unsigned int uid[4], gid[4];	/* real, effective, saved, fs */
	unsigned int *groups;		/* malloc'ed */
	int ngroups;
	uint64_t sigpnd, shdpnd, sigblk, sigign, sigcgt;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int threads;
	int fdsize;			/* the size of the fd table (above its highest fd), 0 if not shown */
	int umask;			/* -1 if the kernel does not show it */
	int seccomp;
	int nonewprivs;
	uint64_t vm_lck_kb;		/* VmLck: locked memory, kB; UINT64_MAX if not shown (no mm) */
};

int parse_pid_status_buf(const char *buf, struct proc_status *st);
int parse_pid_status(pid_t pid, struct proc_status *st);
void free_pid_status(struct proc_status *st);

/* /proc/PID/fdinfo/FD */
struct proc_fdinfo {
	uint64_t pos;
	unsigned int flags;	/* octal in the file */
	int mnt_id;
	uint64_t ino;
};

int parse_fdinfo_buf(const char *buf, struct proc_fdinfo *fi);
int parse_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi);

/*
 * A line of /proc/locks, or a "lock:" line of fdinfo:
 * "N: [-> ]KIND MODE TYPE PID MAJ:MIN:INO START END|EOF".
 */
struct proc_lock {
	bool waiter;		/* "->": a task blocked on the lock listed before */
	char kind[12];		/* FLOCK, POSIX, OFDLCK, LEASE, DELEG, ACCESS, ... */
	char mode[12];		/* ADVISORY for locks; ACTIVE, BREAKING, ... for leases */
	char type[8];		/* READ, WRITE, UNLCK */
	int pid;		/* -1 for OFD locks */
	unsigned int maj, min;	/* the device of the inode */
	uint64_t ino;
	uint64_t start, end;	/* inclusive; end UINT64_MAX for EOF */
};

int parse_lock_line(const char *line, struct proc_lock *l);

/* Read a whole /proc file into a malloc'ed NUL-terminated buffer. */
char *read_proc_file(pid_t pid, const char *name, size_t *len);

/*
 * readdir() that tells a failure from the end of the directory (readdir()
 * returns NULL for both): 1 with *de set, 0 at the end, -1 on an error
 * (logged, naming @what). A list cut short by an error must never pass
 * for the whole list.
 */
int next_dirent(DIR *d, struct dirent **de, const char *what);

#endif
