/*
 * For the blobs (parasite and restorer): a POSIX timer whose signal was
 * pending gets it pending again, as the kernel's own (one per timer, the
 * expiries after it counted as its overruns), not as a copy queued beside
 * it. The timer is armed at the absolute time of the expiry that queued
 * the signal, @overrun + 1 intervals before its next one, @next_ns from
 * now (a one-shot timer: at the clock's first nanosecond). That is in the
 * past: it fires at once, the kernel queues its signal and, for a
 * periodic timer, leaves it to be forwarded when the signal is taken,
 * counting every interval since that expiry. Every signal must be
 * blocked in the caller. With @wait (the signal is for the caller, whose
 * rt_sigpending() shows it) 0 once it is pending; 0 or -errno.
 */
#ifndef CR_TIMER_PEND_H
#define CR_TIMER_PEND_H

#include <asm/unistd.h>
#include <stdint.h>

#include "compel/blob.h"
#include "parasite.h"

static inline int timer_pend_signal(int32_t id, int32_t clock, int signo, const struct k_itimerspec *spec,
				    int64_t next_ns, int64_t overrun, int wait)
{
	const int64_t nsec = 1000000000LL;
	int64_t iv = spec->interval_sec * nsec + spec->interval_nsec, at = 1;
	struct k_itimerspec s = *spec;
	struct { int64_t sec, nsec; } now, nap = { 0, 20000 };
	uint64_t bit = 1ULL << (signo - 1), pending;
	long ret;

	if (signo < 1 || signo > 64)
		return -EINVAL;
	if (iv > 0) {
		ret = __S(__NR_clock_gettime, clock, &now, 0, 0, 0, 0);
		if (ret < 0)
			return ret;
		at = now.sec * nsec + now.nsec + next_ns - (overrun + 1) * iv;
		if (at < 1)
			at = 1;
	}
	s.value_sec = at / nsec;
	s.value_nsec = at % nsec;
	ret = __S(__NR_timer_settime, id, 1 /* TIMER_ABSTIME */, &s, 0, 0, 0);
	if (ret < 0 || !wait)
		return ret;
	/* an hrtimer in the past fires at the next interrupt: a second is plenty */
	for (int i = 0; i < 50000; i++) {
		ret = __S(__NR_rt_sigpending, &pending, 8, 0, 0, 0, 0);
		if (ret < 0)
			return ret;
		if (pending & bit)
			return 0;
		__S(__NR_nanosleep, &nap, 0, 0, 0, 0, 0);
	}
	return -ETIMEDOUT;
}

#endif
