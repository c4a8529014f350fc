// SPDX-License-Identifier: GPL-2.0-only
/*
 * sigaltstack and pending signals.  Blocked signals are queued before
 * the dump: a process-wide SIGUSR1 and two SIGRTMIN+2 (sigqueue) and a
 * thread-private SIGUSR2 (rt_tgsigqueueinfo).  After C/R the blocked
 * mask, the pending set and the alternate stack are the same; once
 * unblocked every signal is delivered once, on the alternate stack,
 * with its siginfo intact and real-time signals in order.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define ALT_SIZE	(64 << 10)
#define MAX_REC		16

struct rec {
	int sig, code, val, pid, uid, ss_flags;
	unsigned long sp;
};

static struct rec recs[MAX_REC];
static volatile int nrec;

static void handler(int sig, siginfo_t *si, void *uc)
{
	volatile int local = 0;
	stack_t ss;
	struct rec *r;

	if (nrec >= MAX_REC)
		return;
	r = &recs[nrec];
	r->sig = sig;
	r->code = si->si_code;
	r->val = si->si_value.sival_int;
	r->pid = si->si_pid;
	r->uid = si->si_uid;
	r->sp = (unsigned long)&local;
	r->ss_flags = sigaltstack(NULL, &ss) ? -1 : ss.ss_flags;
	nrec++;
}

static bool same_set(const sigset_t *a, const sigset_t *b)
{
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return false;
	return true;
}

static void print_set(const char *what, const sigset_t *s)
{
	uint64_t m = 0;
	int sig;

	for (sig = 1; sig <= 64; sig++)
		if (sigismember(s, sig) == 1)
			m |= 1ULL << (sig - 1);
	test_msg("%s: %#llx", what, (unsigned long long)m);
}

static const struct rec *find(int sig, int nth)
{
	int i;

	for (i = 0; i < nrec; i++)
		if (recs[i].sig == sig && nth-- == 0)
			return &recs[i];
	return NULL;
}

int main(int argc, char **argv)
{
	int rtsig = SIGRTMIN + 2;
	sigset_t blk, blk_before, blk_after, pend_before, pend_after, sigs;
	struct sigaction sa = {};
	stack_t ss = {}, ss_after;
	unsigned char *alt;
	siginfo_t si = {};
	union sigval v;
	int i;

	test_init(argc, argv);

	alt = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt == MAP_FAILED)
		test_bug("mmap");
	ss.ss_sp = alt;
	ss.ss_size = ALT_SIZE;
	if (sigaltstack(&ss, NULL))
		test_bug("sigaltstack");

	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGUSR2, &sa, NULL) ||
	    sigaction(rtsig, &sa, NULL))
		test_bug("sigaction");

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, rtsig);

	blk = sigs;
	sigaddset(&blk, SIGHUP);		/* blocked, never raised */
	sigaddset(&blk, SIGRTMIN + 7);
	if (sigprocmask(SIG_BLOCK, &blk, NULL))
		test_bug("sigprocmask");

	v.sival_int = 0x1234;
	if (sigqueue(getpid(), SIGUSR1, v))
		test_bug("sigqueue(SIGUSR1)");
	v.sival_int = 1;
	if (sigqueue(getpid(), rtsig, v))
		test_bug("sigqueue(rt, 1)");
	v.sival_int = 2;
	if (sigqueue(getpid(), rtsig, v))
		test_bug("sigqueue(rt, 2)");

	si.si_signo = SIGUSR2;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = 0x5678;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGUSR2, &si))
		test_bug("rt_tgsigqueueinfo(SIGUSR2)");

	sigprocmask(SIG_BLOCK, NULL, &blk_before);
	sigpending(&pend_before);
	if (!same_set(&pend_before, &sigs))
		test_bug("unexpected pending set before the dump");

	test_daemon();
	test_waitsig();

	sigprocmask(SIG_BLOCK, NULL, &blk_after);
	if (!same_set(&blk_before, &blk_after)) {
		failv("blocked mask changed");
		print_set("before", &blk_before);
		print_set("after", &blk_after);
	}
	sigpending(&pend_after);
	if (!same_set(&pend_before, &pend_after)) {
		failv("pending set changed");
		print_set("before", &pend_before);
		print_set("after", &pend_after);
	}

	if (sigaltstack(NULL, &ss_after)) {
		fail("sigaltstack query");
	} else if (ss_after.ss_sp != alt || ss_after.ss_size != ALT_SIZE ||
		   ss_after.ss_flags != 0) {
		failv("sigaltstack is %p/%zu/%d, expected %p/%d/0",
		      ss_after.ss_sp, ss_after.ss_size, ss_after.ss_flags, alt,
		      ALT_SIZE);
	}

	sigprocmask(SIG_UNBLOCK, &sigs, NULL);

	if (nrec != 4)
		failv("%d signals delivered, expected 4", nrec);
	for (i = 0; i < nrec; i++) {
		const struct rec *r = &recs[i];

		if (r->sp < (unsigned long)alt ||
		    r->sp >= (unsigned long)alt + ALT_SIZE)
			failv("signal %d handled at %#lx, outside the altstack %p-%p",
			      r->sig, r->sp, alt, alt + ALT_SIZE);
		if (!(r->ss_flags & SS_ONSTACK))
			failv("signal %d: handler not SS_ONSTACK", r->sig);
		if (r->code != SI_QUEUE || r->pid != getpid() ||
		    r->uid != (int)getuid())
			failv("signal %d: si_code %d si_pid %d si_uid %d",
			      r->sig, r->code, r->pid, r->uid);
	}
	{
		const struct rec *u1 = find(SIGUSR1, 0), *u2 = find(SIGUSR2, 0);
		const struct rec *rt1 = find(rtsig, 0), *rt2 = find(rtsig, 1);

		if (!u1 || u1->val != 0x1234)
			failv("SIGUSR1 missing or value %#x", u1 ? u1->val : -1);
		if (!u2 || u2->val != 0x5678)
			failv("SIGUSR2 missing or value %#x", u2 ? u2->val : -1);
		if (!rt1 || !rt2 || rt1->val != 1 || rt2->val != 2)
			failv("SIGRTMIN+2 values %d, %d, expected 1, 2",
			      rt1 ? rt1->val : -1, rt2 ? rt2->val : -1);
		if (find(SIGUSR1, 1) || find(SIGUSR2, 1) || find(rtsig, 2))
			failv("a signal was delivered more than once");
	}

	sigpending(&pend_after);
	for (i = 1; i < NSIG; i++)
		if (sigismember(&pend_after, i) == 1)
			failv("signal %d still pending after delivery", i);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
