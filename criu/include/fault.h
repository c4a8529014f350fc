/*
 * Fault injection, to test that every failure is handled without harm.
 *
 * CRIU_FAULT=N in the environment makes the Nth failable step of this run
 * fail (steps are counted from 1 across every process criu forks);
 * CRIU_FAULT=count makes nothing fail and prints "fault injection: N
 * steps" on stderr at the end; CRIU_FAULT=list does too, and names
 * every step on stderr as it comes ("fault injection: step N: read(fd 7)").
 * CRIU_FAULT_CALLS=read,fgets (names of wrapped calls, comma-separated)
 * counts only the calls of those names as steps, so that N walks them.
 * CRIU_FAULT_KILL=1 makes the process at step N die of SIGKILL there
 * instead of failing it (killtest.py --walk: a SIGKILL at every step).
 * A step is a call to a library function
 * that makes a system call (they are all wrapped at link time, see
 * fault-wrap.c and criu/meson.build), a parasite command, or an image
 * entry read. The failing step is reported as an error naming it:
 * "fault injection: step N: read(fd 7) fails".
 */
#ifndef CR_FAULT_H
#define CR_FAULT_H

/* Read CRIU_FAULT; before anything that may fail, and before forking. */
void fault_init(void);
/* In a process of criu's whose calls must not be steps (it fails none, SIGKILLs itself at none). */
void fault_off(void);
/* At exit (fault_init() registers it): with CRIU_FAULT=count, the number of steps. */
void fault_fini(void);
/* Counts a step; true (with the error logged) when it is the one to fail. */
int fault_hit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The restorer blob runs without criu's library calls: its own checked
 * syscalls are steps of their own, numbered in each restorer from 1.
 * CRIU_FAULT_RESTORER=N fails the Nth of every restorer; =count logs how
 * many each had ("restorer PID: fault injection: N steps"). Returns what
 * goes into restore_args.fault_at: N, ~0 for count, 0 for none.
 */
unsigned int fault_restorer_step(void);

#endif
