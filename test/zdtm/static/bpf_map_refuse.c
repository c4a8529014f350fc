// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test (root: unprivileged BPF is off by default): a BPF array
 * map at fd 82 holding 0x1234abcd at key 0. BPF objects are not
 * supported: the dump must refuse, naming the pid, "bpf-map" and fd 82.
 * After SIGTERM the map still holds the value.
 */
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define MAP_FD	82

static long bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int main(int argc, char **argv)
{
	union bpf_attr a;
	uint32_t key = 0;
	uint64_t val = 0x1234abcd, got = 0;
	int fd;

	test_init(argc, argv);
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = sizeof(key);
	a.value_size = sizeof(val);
	a.max_entries = 4;
	fd = bpf(BPF_MAP_CREATE, &a);
	if (fd < 0 || dup2(fd, MAP_FD) != MAP_FD)
		test_bug("BPF_MAP_CREATE");
	close(fd);
	memset(&a, 0, sizeof(a));
	a.map_fd = MAP_FD;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)&val;
	if (bpf(BPF_MAP_UPDATE_ELEM, &a))
		test_bug("BPF_MAP_UPDATE_ELEM");

	test_daemon();
	test_waitsig();

	memset(&a, 0, sizeof(a));
	a.map_fd = MAP_FD;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)&got;
	if (bpf(BPF_MAP_LOOKUP_ELEM, &a) || got != val)
		failv("key 0 of the map holds %#llx, want %#llx", (unsigned long long)got, (unsigned long long)val);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
