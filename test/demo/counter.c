/*
 * The demo's sample program: counts up twice a second, keeping its state
 * in memory (a counter and a checksummed buffer) and printing it to its
 * log, so a checkpoint/restore shows as the count going on where it was.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (8 << 20)

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static uint32_t checksum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

int main(void)
{
	uint8_t *buf = malloc(BUF_SIZE);
	uint32_t sum;
	long count = 0;

	if (!buf)
		return 1;
	srand(getpid());
	for (size_t i = 0; i < BUF_SIZE; i++)
		buf[i] = rand();
	sum = checksum(buf, BUF_SIZE);
	signal(SIGTERM, on_term);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("counter: pid %d, 8 MiB of random data, checksum %08x\n", getpid(), sum);
	while (!stop) {
		struct timespec ts = { 0, 500 * 1000 * 1000 };

		printf("counter: %ld (pid %d)\n", ++count, getpid());
		nanosleep(&ts, NULL);
	}
	if (checksum(buf, BUF_SIZE) != sum) {
		printf("counter: memory changed!\n");
		return 1;
	}
	printf("counter: stopped at %ld, memory intact (checksum %08x)\n", count, sum);
	return 0;
}
