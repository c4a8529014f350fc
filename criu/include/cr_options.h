#ifndef CR_OPTIONS_H
#define CR_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct cr_options {
	pid_t pid;
	const char *imgs_dir;
	const char *work_dir;
	const char *log_file;
	int log_level;
	bool leave_running;
	bool leave_stopped;
	bool shell_job;
	bool restore_detached;
	bool restore_sibling;
	const char *pidfile;
	bool daemon;			/* page-server, lazy-pages: in the background once listening */
	const char *feature;
	bool force_vdso_proxy;		/* testing: use the vDSO proxy even when not needed */
	uint64_t ghost_limit;		/* biggest unlinked file whose contents go into the images */
	bool allow_changed_files;	/* restore even if a file differs from the dump */
	bool link_remap;		/* link unlinked files back at dump (fileobj.c) */
	/* mounts (criu/mount/): the root mount's directory at restore, peer groups shared with ours */
	const char *root;
	bool enable_external_sharing;
	bool enable_external_masters;
	/* accepted for compatibility; what they ask for is refused when met */
	bool file_locks;
	bool ext_unix_sk;
	bool tcp_established;
	bool tcp_close;			/* TCP connections are restored closed */
	bool skip_in_flight;		/* connections not accepted yet are left behind */
	int network_lock;		/* NET_LOCK_NFTABLES (default), _IPTABLES, _SKIP (net.h) */
	int manage_cgroups;		/* enum cg_mode (cgroup.h): --manage-cgroups[=MODE] */
	const char *freeze_cgroup;	/* dump: freeze the tree with this freezer cgroup */
	bool orphan_pts_master;		/* a pty slave's master may be outside the tree (tty.c) */
	bool evasive_devices;		/* restore: a device whose path names another one is opened by number */
	const char *prev_images_dir;	/* --prev-images-dir: the previous dump of the chain, relative to imgs_dir */
	bool track_mem;			/* --track-mem: dirty tracking between dumps (track.c) */
	bool auto_dedup;		/* --auto-dedup: punch out of parent images what a dump replaces */
	bool compress;			/* --compress: pages files in frames of zstd (compress.h) */
	bool page_server;		/* dump, pre-dump: pages go to the page server at address:port */
	const char *address;		/* --address: the page server's (dump) or where it listens */
	int port;			/* --port, 0: PS_DEFAULT_PORT */
	bool port_any;			/* page-server --port 0: any free port, the one bound in port */
	bool status_port;		/* swrk PAGE_SERVER: the port bound follows the ready byte (an int) */
	unsigned int timeout;		/* --timeout: seconds the tree may take to freeze, 0: the defaults */
	bool weak_sysctls;		/* restore: a sysctl that can't be set is a warning */
	int pre_dump_mode;		/* --pre-dump-mode: PRE_DUMP_READ (default) or PRE_DUMP_SPLICE */
	const char *const *exec_cmd;	/* restore: exec this argv once the tree runs (NULL-terminated) */
	bool snapshot;			/* dump -R --snapshot: pages copied after the tree runs again (snapshot.c) */
	bool lazy_pages;		/* restore: private anonymous memory filled by `criu lazy-pages` (lazy.c) */
	int status_fd;			/* --status-fd: a byte written when ready (page-server), or -1 */
	bool ext_pipes;			/* dump: a pipe with its other end outside the tree is external (swrk) */
	/*
	 * swrk: no live rounds (predump.c): the runtime owns the chain, and
	 * podman links the images to the parent it passed after the dump
	 */
	bool no_live_rounds;
	/* swrk: a client without CAP_SYS_PTRACE may dump only tasks wholly of its uid and gid */
	bool owner_only;
	uid_t owner_uid;
	gid_t owner_gid;
};

enum { PRE_DUMP_READ, PRE_DUMP_SPLICE };

extern struct cr_options opts;

#endif
