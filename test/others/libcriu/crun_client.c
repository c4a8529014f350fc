/*
 * The calls crun 1.8 makes through libcriu.so.2, in crun's order
 * (src/libcrun/criu.c: libcrun_container_checkpoint_linux_criu and
 * libcrun_container_restore_linux_criu), loaded with dlopen as crun does.
 *
 *   crun_client checkpoint --image-path D [--work-path W] --pid PID [--leave-running]
 *       [--tcp-established] [--file-locks] [--shell-job] [--ext-unix-sk]
 *       [--pre-dump] [--parent-path P] [--container ROOTFS]
 *   crun_client restore --image-path D [--work-path W] [--container ROOTFS] [--wait]
 *
 * Without --container the tree is a plain process tree, and the calls that
 * only make sense for a container (root, external mounts, cgroups, the
 * orphan pty master, the freezer) are left out; with it they are made
 * with the values crun would give them. restore prints the restored pid
 * (a child of this program); --wait waits for it and exits with its status.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"

/* crun resolves these by name from libcriu.so.2 (its libcriu_wrapper_s) */
static struct {
	int (*criu_init_opts)(void);
	int (*criu_check_version)(int);
	int (*criu_feature_check)(struct criu_feature_check *, size_t);
	void (*criu_set_images_dir_fd)(int);
	void (*criu_set_work_dir_fd)(int);
	int (*criu_set_parent_images)(const char *);
	void (*criu_set_track_mem)(bool);
	void (*criu_set_log_level)(int);
	int (*criu_set_log_file)(const char *);
	void (*criu_set_pid)(int);
	int (*criu_add_ext_mount)(const char *, const char *);
	int (*criu_set_root)(const char *);
	int (*criu_add_external)(const char *);
	int (*criu_add_inherit_fd)(int, const char *);
	int (*criu_set_freeze_cgroup)(const char *);
	void (*criu_set_leave_running)(bool);
	void (*criu_set_ext_unix_sk)(bool);
	void (*criu_set_shell_job)(bool);
	void (*criu_set_tcp_established)(bool);
	void (*criu_set_tcp_close)(bool);
	void (*criu_set_file_locks)(bool);
	void (*criu_set_orphan_pts_master)(bool);
	void (*criu_set_manage_cgroups)(bool);
	void (*criu_set_manage_cgroups_mode)(enum criu_cg_mode);
	int (*criu_add_cg_root)(const char *, const char *);
	int (*criu_set_lsm_profile)(const char *);
	int (*criu_set_lsm_mount_context)(const char *);
	void (*criu_set_notify_cb)(int (*)(char *, criu_notify_arg_t));
	int (*criu_get_orphan_pts_master_fd)(void);
	int (*criu_join_ns_add)(const char *, const char *, const char *);
	int (*criu_set_network_lock)(enum criu_network_lock_method);
	int (*criu_set_config_file)(const char *);
	int (*criu_dump)(void);
	int (*criu_pre_dump)(void);
	int (*criu_restore_child)(void);
} w;

static int load(void)
{
	void *h = dlopen("libcriu.so.2", RTLD_NOW);

	if (!h) {
		fprintf(stderr, "crun_client: %s\n", dlerror());
		return -1;
	}
#define SYM(n)								\
	do {								\
		*(void **)&w.n = dlsym(h, #n);				\
		if (!w.n) {						\
			fprintf(stderr, "crun_client: libcriu.so.2 lacks %s\n", #n); \
			return -1;					\
		}							\
	} while (0)
	SYM(criu_init_opts); SYM(criu_check_version); SYM(criu_feature_check);
	SYM(criu_set_images_dir_fd); SYM(criu_set_work_dir_fd); SYM(criu_set_parent_images);
	SYM(criu_set_track_mem); SYM(criu_set_log_level); SYM(criu_set_log_file); SYM(criu_set_pid);
	SYM(criu_add_ext_mount); SYM(criu_set_root); SYM(criu_add_external); SYM(criu_add_inherit_fd);
	SYM(criu_set_freeze_cgroup); SYM(criu_set_leave_running); SYM(criu_set_ext_unix_sk);
	SYM(criu_set_shell_job); SYM(criu_set_tcp_established); SYM(criu_set_tcp_close);
	SYM(criu_set_file_locks); SYM(criu_set_orphan_pts_master); SYM(criu_set_manage_cgroups);
	SYM(criu_set_manage_cgroups_mode); SYM(criu_add_cg_root); SYM(criu_set_lsm_profile);
	SYM(criu_set_lsm_mount_context); SYM(criu_set_notify_cb); SYM(criu_get_orphan_pts_master_fd);
	SYM(criu_join_ns_add); SYM(criu_set_network_lock); SYM(criu_set_config_file);
	SYM(criu_dump); SYM(criu_pre_dump); SYM(criu_restore_child);
	return 0;
}

static struct {
	const char *image, *work, *parent, *container;
	int pid;
	bool leave_running, tcp_established, file_locks, shell_job, ext_unix_sk, pre_dump, wait;
} o;

static int fail(const char *what, int ret)
{
	fprintf(stderr, "crun_client: %s failed: %d (%s)\n", what, ret, strerror(ret < 0 ? -ret : ret));
	return 1;
}

static int open_dir(const char *path, bool create)
{
	int fd;

	if (create && mkdir(path, 0700) && errno != EEXIST) {
		perror(path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		perror(path);
	return fd;
}

/* crun keeps fds 0-2's link targets of the container init in descriptors.json */
static int write_descriptors(int dfd, int pid)
{
	char path[64], link[3][256];
	FILE *f;
	int fd;

	for (int i = 0; i < 3; i++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, i);
		n = readlink(path, link[i], sizeof(link[i]) - 1);
		link[i][n < 0 ? 0 : n] = '\0';
	}
	fd = openat(dfd, "descriptors.json", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		perror("descriptors.json");
		return -1;
	}
	fprintf(f, "[\"%s\",\"%s\",\"%s\"]", link[0], link[1], link[2]);
	return fclose(f) ? -1 : 0;
}

/* each "pipe:[N]" entry i becomes inherit_fd{key, fd i}: our own stdio */
static int inherit_descriptors(int dfd)
{
	char buf[1024], *p;
	int fd = openat(dfd, "descriptors.json", O_RDONLY | O_CLOEXEC), i = 0;
	ssize_t n;

	if (fd < 0) {
		perror("descriptors.json");
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (p = strchr(buf, '"'); p && i < 3; i++) {
		char *e = strchr(p + 1, '"');

		if (!e)
			break;
		*e = '\0';
		if (!strncmp(p + 1, "pipe:", 5) && w.criu_add_inherit_fd(i, p + 1))
			return -1;
		p = strchr(e + 1, '"');
	}
	return 0;
}

static int checkpoint(void)
{
	int ret, image_fd, work_fd;

	ret = w.criu_init_opts();
	if (ret < 0)
		return fail("criu_init_opts", ret);
	ret = w.criu_check_version(31500);
	if (ret != 1)
		return fail("criu_check_version(31500)", ret);
	if (o.pre_dump || o.parent) {
		struct criu_feature_check f = { .mem_track = true };

		ret = w.criu_feature_check(&f, sizeof(f));
		if (ret < 0 || !f.mem_track) {
			fprintf(stderr, "crun_client: criu can't track memory changes (mem_track): no pre-dump\n");
			return 1;
		}
	}
	image_fd = open_dir(o.image, true);
	if (image_fd < 0)
		return 1;
	w.criu_set_images_dir_fd(image_fd);
	if (o.parent && (ret = w.criu_set_parent_images(o.parent)) < 0)
		return fail("criu_set_parent_images", ret);
	if (o.pre_dump)
		w.criu_set_track_mem(true);
	if (o.work) {
		work_fd = open_dir(o.work, true);
		if (work_fd < 0)
			return 1;
		w.criu_set_work_dir_fd(work_fd);
	}
	w.criu_set_log_level(4);
	w.criu_set_log_file("dump.log");
	if (write_descriptors(image_fd, o.pid))
		return 1;
	w.criu_set_pid(o.pid);
	if (o.container) {
		/* bind mounts dest->dest and masked files path->path, then the rootfs */
		w.criu_add_ext_mount("/etc/hostname", "/etc/hostname");
		w.criu_add_ext_mount("/proc/kcore", "/proc/kcore");
		if ((ret = w.criu_set_root(o.container)) < 0)
			return fail("criu_set_root", ret);
	}
	w.criu_set_leave_running(o.leave_running);
	w.criu_set_ext_unix_sk(o.ext_unix_sk);
	w.criu_set_shell_job(o.shell_job);
	w.criu_set_tcp_established(o.tcp_established);
	w.criu_set_file_locks(o.file_locks);
	if (o.container) {
		w.criu_set_orphan_pts_master(true);
		w.criu_set_manage_cgroups(true);
		w.criu_set_manage_cgroups_mode(CRIU_CG_MODE_SOFT);
	}
	ret = o.pre_dump ? w.criu_pre_dump() : w.criu_dump();
	if (ret < 0)
		return fail(o.pre_dump ? "criu_pre_dump" : "criu_dump", ret);
	return 0;
}

static int restore_cb(char *action, criu_notify_arg_t na)
{
	if (!strcmp(action, "orphan-pts-master")) {
		int fd = w.criu_get_orphan_pts_master_fd();

		/* crun hands it to the console socket; we only check it is a pty master */
		if (fd < 0 || !isatty(fd))
			return -1;
		printf("orphan-pts-master fd %d\n", fd);
	}
	return 0;
}

static int restore(void)
{
	int ret, image_fd, work_fd, status;

	ret = w.criu_init_opts();
	if (ret < 0)
		return fail("criu_init_opts", ret);
	ret = w.criu_check_version(31500);
	if (ret != 1)
		return fail("criu_check_version(31500)", ret);
	image_fd = open_dir(o.image, false);
	if (image_fd < 0)
		return 1;
	w.criu_set_images_dir_fd(image_fd);
	if (o.work) {
		work_fd = open_dir(o.work, true);
		if (work_fd < 0)
			return 1;
		w.criu_set_work_dir_fd(work_fd);
	}
	w.criu_set_log_level(4);
	w.criu_set_log_file("restore.log");
	if (inherit_descriptors(image_fd))
		return 1;
	if (o.container) {
		w.criu_add_ext_mount("/etc/hostname", "/etc/hostname");
		w.criu_add_ext_mount("/proc/kcore", "/dev/null");
		if ((ret = w.criu_set_root(o.container)) < 0)
			return fail("criu_set_root", ret);
	}
	w.criu_set_ext_unix_sk(o.ext_unix_sk);
	w.criu_set_shell_job(o.shell_job);
	w.criu_set_tcp_established(o.tcp_established);
	w.criu_set_file_locks(o.file_locks);
	if (o.container) {
		w.criu_set_orphan_pts_master(true);
		w.criu_set_manage_cgroups(true);
	}
	w.criu_set_notify_cb(restore_cb);
	ret = w.criu_restore_child();
	if (ret <= 0)
		return fail("criu_restore_child", ret);
	printf("%d\n", ret);
	fflush(stdout);
	if (!o.wait)
		return 0;
	if (waitpid(ret, &status, 0) != ret) {
		perror("waitpid on the restored root (is it our child?)");
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "image-path", required_argument, NULL, 'D' },
		{ "work-path", required_argument, NULL, 'W' },
		{ "parent-path", required_argument, NULL, 'P' },
		{ "container", required_argument, NULL, 'C' },
		{ "pid", required_argument, NULL, 't' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "tcp-established", no_argument, NULL, 'T' },
		{ "file-locks", no_argument, NULL, 'l' },
		{ "shell-job", no_argument, NULL, 'j' },
		{ "ext-unix-sk", no_argument, NULL, 'x' },
		{ "pre-dump", no_argument, NULL, 'p' },
		{ "wait", no_argument, NULL, 'w' },
		{ },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'D': o.image = optarg; break;
		case 'W': o.work = optarg; break;
		case 'P': o.parent = optarg; break;
		case 'C': o.container = optarg; break;
		case 't': o.pid = atoi(optarg); break;
		case 'R': o.leave_running = true; break;
		case 'T': o.tcp_established = true; break;
		case 'l': o.file_locks = true; break;
		case 'j': o.shell_job = true; break;
		case 'x': o.ext_unix_sk = true; break;
		case 'p': o.pre_dump = true; break;
		case 'w': o.wait = true; break;
		default: return 2;
		}
	}
	if (optind >= argc || !o.image) {
		fprintf(stderr, "usage: crun_client checkpoint|restore --image-path DIR ...\n");
		return 2;
	}
	if (load())
		return 1;
	if (!strcmp(argv[optind], "checkpoint")) {
		if (o.pid <= 0) {
			fprintf(stderr, "crun_client: checkpoint needs --pid\n");
			return 2;
		}
		return checkpoint();
	}
	if (!strcmp(argv[optind], "restore"))
		return restore();
	fprintf(stderr, "crun_client: unknown command %s\n", argv[optind]);
	return 2;
}
