/* Command line: criu ACTION [options]. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compel/compel.h"
#include "fault.h"
#include "cr_options.h"
#include "crtools.h"
#include "action-scripts.h"
#include "external.h"
#include "netns.h"
#include "cgroup.h"
#include "rpc.h"
#include "image.h"
#include "log.h"
#include "mntns.h"
#include "lsm.h"
#include "net.h"
#include "namespaces.h"
#include "page-server.h"
#include "lazy.h"
#include "util.h"

struct cr_options opts = {
	.imgs_dir = ".",
	.ghost_limit = 1 << 20,
	.log_level = DEFAULT_LOGLEVEL,
	.status_fd = -1,
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage:\n"
"  criu dump -t PID -D DIR [-o LOG] [-v[N]] [-R] [--shell-job]\n"
"  criu restore -D DIR [-d] [-o LOG] [-v[N]] [--shell-job] [--pidfile FILE]\n"
"  criu pre-dump -t PID -D DIR [--track-mem] [--prev-images-dir DIR]   memory only, the tree runs on\n"
"  criu page-server -D DIR [--address A] [--port N]   receive the pages of one dump into DIR\n"
"                                                     (and of its live rounds, into DIR/.live-N)\n"
"  criu page-server --lazy-pages -D DIR [--address A] [--port N]   serve the images of the finished\n"
"                          dump in DIR to one criu lazy-pages --page-server: the images, then the lazy pages\n"
"  criu lazy-pages -D DIR [--status-fd FD]   fill the memory of a restore --lazy-pages from DIR\n"
"  criu lazy-pages -D DIR --page-server --address A [--port N]   ... fetching the pages a\n"
"                          dump --lazy-pages left in its tree from that dump (or, DIR empty, the images\n"
"                          and their lazy pages from a page-server --lazy-pages)\n"
"  criu check [--feature NAME]\n"
"  criu show FILE\n"
"  criu swrk FD            serve a client over the SOCK_SEQPACKET socket FD (Documentation/rpc.md)\n"
"  criu -V | --version\n"
"\n"
"Options:\n"
"  -t, --tree PID          root of the process tree to dump\n"
"  -D, --images-dir DIR    directory with the images\n"
"  -W, --work-dir DIR      directory for logs and stats (default: images dir)\n"
"  -o, --log-file FILE     log file, relative to the work dir\n"
"  -v[N], --verbosity=N    log level 0-4 (4 = debug); -v alone raises it by one\n"
"  -R, --leave-running     leave the tree running after a dump\n"
"  -s, --leave-stopped     leave the tree stopped after a dump\n"
"  -j, --shell-job         the tree is a shell job: its terminal comes from the caller\n"
"  -d, --restore-detached  do not wait for the restored tree\n"
"  -S, --restore-sibling   restore: the restored root becomes the caller's child (implies -d)\n"
"      --pidfile FILE      restore: write the restored root's pid to FILE; page-server, lazy-pages\n"
"                          --daemon: the daemon's (a relative FILE is in the work dir)\n"
"      --daemon            page-server, lazy-pages: go to the background once listening (-d too)\n"
"  -l, --file-locks        dump the file locks the tree holds (flock, POSIX, OFD)\n"
"      --ghost-limit SIZE  save unlinked open files with up to SIZE bytes of data, holes not\n"
"                          counted (K/M/G; default 1M); they are saved sparse\n"
"      --ghost-fiemap, --no-ghost-fiemap  accepted; the data of unlinked files is always found\n"
"                          with SEEK_DATA/SEEK_HOLE\n"
"      --link-remap        link unlinked files back under a temporary name instead (until restore)\n"
"      --allow-changed-files  restore even if a file's inode, size or mtime changed since the dump\n"
"      --ext-unix-sk       dump: a dgram unix socket connected outside the tree is reconnected by name\n"
"      --tcp-established   dump and restore established TCP connections (in repair mode)\n"
"      --tcp-close         dump: TCP connections are saved without their state; restore: they come back\n"
"                          closed (also for images made with --tcp-established)\n"
"      --skip-in-flight    dump: connections not yet accepted by a listener are dropped, not refused\n"
"      --network-lock M    how the network of TCP connections is locked while the tree is away:\n"
"                          nftables (default), iptables, or skip (the caller does it)\n"
"      --external RES      dump: RES is outside the tree; pipe:[INO], socket:[INO],\n"
"                          tty[RDEV:DEV] or file[MNT_ID:INO] (hex); restore needs --inherit-fd;\n"
"                          pid[INO]:KEY or net[INO]:KEY: the tree's pid or network namespace\n"
"                          (inode INO) is not saved; restore joins --inherit-fd fd[N]:KEY\n"
"                          restore: veth[IN]:OUT[@BRIDGE]: the tree's veth IN, whose peer was outside\n"
"                          its network namespace, gets peer OUT here (on BRIDGE); macvlan[IN]:OUT:\n"
"                          its macvlan IN sits on device OUT here\n"
"      --veth-pair IN=OUT[@BRIDGE]  restore: the same as --external veth[IN]:OUT[@BRIDGE]\n"
"      --join-ns NS:PATH   restore: join the namespace at PATH instead of making one\n"
"                          (NS: pid, net, uts, ipc, time, cgroup)\n"
"      --empty-ns net      dump: don't look into the tree's network namespace;\n"
"                          restore: a new one with loopback up\n"
"      --inherit-fd fd[N]:RES  restore: use criu's fd N for RES (pipe:[INO], a path, ...)\n"
"      --manage-cgroups[=MODE]  cgroups at restore: soft (default: make missing ones, set their\n"
"                          properties), full, strict, props, none, ignore (Documentation/cgroups.md)\n"
"      --cgroup-root [CTRL:]PATH  restore: the tree's cgroups go under PATH (in hierarchy CTRL)\n"
"      --freeze-cgroup PATH  dump: stop the tree with the freezer cgroup PATH (v1 or v2)\n"
"      --orphan-pts-master  a pty slave's master may be outside the tree; restore sends the new\n"
"                          master to the swrk client (orphan-pts-master notification)\n"
"      --evasive-devices   restore: a device file whose path now names another device is\n"
"                          opened by its device number\n"
"      --track-mem         pre-dump, dump: track the pages the tree writes, for the next dump of the chain\n"
"      --prev-images-dir DIR  pre-dump, dump: the previous dump of the chain (relative to -D); pages\n"
"                          unchanged since are left out, linked as DIR/parent (with --page-server:\n"
"                          in -D or next to it, NAME or ../NAME)\n"
"      --auto-dedup        pre-dump, dump, page-server: free in the previous images what this\n"
"                          dump replaces; restore: free the pages images once the tree runs\n"
"      --compress          pre-dump, dump: pages files compressed (zstd); restore reads both\n"
"      --page-server       pre-dump, dump: send the pages to the page server at --address, --port;\n"
"                          lazy-pages: fetch the lazy pages from the dump --lazy-pages (or page-server\n"
"                          --lazy-pages) at --address, --port\n"
"      --address A, --port N  the page server's address and port (page-server, dump --lazy-pages:\n"
"                          where it listens; default any address, port 27027; page-server\n"
"                          --port 0: any free port, the one bound said in the log)\n"
"      --status-fd FD      page-server, lazy-pages, dump --lazy-pages: write a byte to FD once listening\n"
"                          (dump --lazy-pages: once the images are whole)\n"
"      --snapshot          dump -R: frozen only to take the tree's state and write-protect its\n"
"                          private anonymous memory; its pages are copied while it runs again\n"
"                          (a write to a page not copied yet waits for its copy); also with\n"
"                          --prev-images-dir (only what changed since) and --page-server\n"
"      --lazy-pages        restore: private anonymous memory is filled on demand and in the background by\n"
"                          `criu lazy-pages -D DIR` (started before, or within 5 s);\n"
"                          dump: that memory is left out of the images; the tree stays frozen and the dump\n"
"                          serves it on --address, --port to `criu lazy-pages --page-server`, then kills the\n"
"                          tree (or resumes it if the destination goes away first); with\n"
"                          --prev-images-dir, only the pages written since the previous images;\n"
"                          page-server: serve a finished dump's images from -D, lazy pages on demand\n"
"      --force-irmap       dump: accepted for LXC, no effect (inotify and fanotify watches\n"
"                          are always saved by file handle)\n"
"      --irmap-scan-path DIR  dump: accepted, no effect (the same: no paths are searched for)\n"
"      --timeout N         dump, pre-dump: the tree must be frozen within N seconds (default:\n"
"                          3 s for each task to stop, 10 s for --freeze-cgroup), or the dump fails\n"
"      --pre-dump-mode M   pre-dump: read (default): the pages are copied once the tree runs again;\n"
"                          splice: copied before, with the tree frozen (dump: accepted, no effect)\n"
"      --weak-sysctls      restore: a sysctl of the images that can't be set here (missing, refused)\n"
"                          is a warning, not an error\n"
"      --cpu-cap[=CAP,...]  dump, restore: fpu (the FPU state must fit this CPU: always checked)\n"
"                          or none; cpu, ins, image, all (CPUID compared) are refused: not saved\n"
"      --exec-cmd -- CMD [ARG...]  restore: once the tree runs, criu execs CMD (implies -d):\n"
"                          the restored root is CMD's child (unless -S), criu's exit status CMD's\n"
"      --mntns-compat-mode  restore: accepted, no effect (mounts are restored one way)\n"
"      --skip-mnt, --cgroup-props, --cgroup-props-file  refused: not supported yet\n"
"      --lsm-profile TYPE:NAME  restore: the tasks' LSM profile; only what needs nothing\n"
"                          here is taken (apparmor:unconfined, a module not enabled refuses)\n"
"      --lsm-mount-context CTX  restore: refused (mount labels are not supported yet)\n"
"      --feature NAME      with check: test feature NAME (exit 0 if present); repeated or\n"
"                          NAME,NAME: exit 0 only if every one is\n"
"      --action-script SCRIPT  run SCRIPT at each hook (pre-dump, post-dump, post-restore, ...),\n"
"                          with CRTOOLS_SCRIPT_ACTION set; a failing script fails the action\n"
"      --config FILE       options from FILE, one a line: long name without dashes, argument\n"
"      --no-default-config  read neither /etc/criu/default.conf nor ~/.criu/default.conf\n"
"                          (read before the command line, then $CRIU_CONFIG_FILE, when they exist)\n"
"\n"
"Mounts (a tree in a mount namespace of its own; Documentation/mounts.md):\n"
"  -r, --root DIR          restore: the root mount is a bind of DIR (dump: accepted, not needed)\n"
"      --external mnt[KEY]:VAL, -M, --ext-mount-map KEY:VAL\n"
"                          dump: the mount at path KEY is external, saved as the key VAL;\n"
"                          restore: bind the host path VAL where the mount with key KEY was\n"
"  -M auto                 accepted (LXC); at restore the binds of criu's own filesystems\n"
"                          are not checked by device and inode\n"
"      --enable-external-sharing  mounts may share peer groups with criu's namespace\n"
"      --enable-external-masters  mounts may be slaves of peer groups of criu's namespace\n"
"      --enable-fs NAME    mounts of filesystem NAME may be made anew from their options\n");
}

static void compel_log(int level, const char *fmt, va_list args)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, args);
	print_on_level(level, "%s", buf);
}

enum {
	OPT_PIDFILE = 1000,
	OPT_FEATURE,
	OPT_LINK_REMAP,
	OPT_GHOST_FIEMAP,
	OPT_EXT_UNIX_SK,
	OPT_TCP_ESTABLISHED,
	OPT_FORCE_VDSO_PROXY,
	OPT_GHOST_LIMIT,
	OPT_ALLOW_CHANGED,
	OPT_EXTERNAL,
	OPT_INHERIT_FD,
	OPT_ACTION_SCRIPT,
	OPT_CONFIG,
	OPT_EXT_SHARING,
	OPT_EXT_MASTERS,
	OPT_ENABLE_FS,
	OPT_MANAGE_CGROUPS,
	OPT_CGROUP_ROOT,
	OPT_FREEZE_CGROUP,
	OPT_ORPHAN_PTS_MASTER,
	OPT_EVASIVE_DEVICES,
	OPT_FORCE_IRMAP,
	OPT_LSM_PROFILE,
	OPT_LSM_MOUNT_CONTEXT,
	OPT_VETH_PAIR,
	OPT_TCP_CLOSE,
	OPT_SKIP_IN_FLIGHT,
	OPT_NETWORK_LOCK,
	OPT_JOIN_NS,
	OPT_EMPTY_NS,
	OPT_PREV_IMAGES_DIR,
	OPT_TRACK_MEM,
	OPT_AUTO_DEDUP,
	OPT_COMPRESS,
	OPT_PAGE_SERVER,
	OPT_ADDRESS,
	OPT_PORT,
	OPT_STATUS_FD,
	OPT_LAZY_PAGES,
	OPT_SNAPSHOT,
	OPT_DAEMON,
	OPT_NO_DEFAULT_CONFIG,
	OPT_TIMEOUT,
	OPT_WEAK_SYSCTLS,
	OPT_PRE_DUMP_MODE,
	OPT_CPU_CAP,
	OPT_IRMAP_SCAN_PATH,
	OPT_EXEC_CMD,
	OPT_MNTNS_COMPAT_MODE,
	OPT_SKIP_MNT,
	OPT_CGROUP_PROPS,
	OPT_CGROUP_PROPS_FILE,
};

static const struct option longopts[] = {
	{ "tree", required_argument, NULL, 't' },
	{ "images-dir", required_argument, NULL, 'D' },
	{ "work-dir", required_argument, NULL, 'W' },
	{ "log-file", required_argument, NULL, 'o' },
	{ "verbosity", optional_argument, NULL, 'v' },
	{ "leave-running", no_argument, NULL, 'R' },
	{ "leave-stopped", no_argument, NULL, 's' },
	{ "shell-job", no_argument, NULL, 'j' },
	{ "restore-detached", no_argument, NULL, 'd' },
	{ "restore-sibling", no_argument, NULL, 'S' },
	{ "file-locks", no_argument, NULL, 'l' },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "feature", required_argument, NULL, OPT_FEATURE },
	{ "link-remap", no_argument, NULL, OPT_LINK_REMAP },
	{ "ext-unix-sk", no_argument, NULL, OPT_EXT_UNIX_SK },
	{ "tcp-established", no_argument, NULL, OPT_TCP_ESTABLISHED },
	{ "force-vdso-proxy", no_argument, NULL, OPT_FORCE_VDSO_PROXY },
	{ "ghost-limit", required_argument, NULL, OPT_GHOST_LIMIT },
	{ "ghost-fiemap", no_argument, NULL, OPT_GHOST_FIEMAP },
	{ "no-ghost-fiemap", no_argument, NULL, OPT_GHOST_FIEMAP },
	{ "allow-changed-files", no_argument, NULL, OPT_ALLOW_CHANGED },
	{ "external", required_argument, NULL, OPT_EXTERNAL },
	{ "inherit-fd", required_argument, NULL, OPT_INHERIT_FD },
	{ "action-script", required_argument, NULL, OPT_ACTION_SCRIPT },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "root", required_argument, NULL, 'r' },
	{ "ext-mount-map", required_argument, NULL, 'M' },
	{ "enable-external-sharing", no_argument, NULL, OPT_EXT_SHARING },
	{ "enable-external-masters", no_argument, NULL, OPT_EXT_MASTERS },
	{ "enable-fs", required_argument, NULL, OPT_ENABLE_FS },
	{ "manage-cgroups", optional_argument, NULL, OPT_MANAGE_CGROUPS },
	{ "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
	{ "freeze-cgroup", required_argument, NULL, OPT_FREEZE_CGROUP },
	{ "orphan-pts-master", no_argument, NULL, OPT_ORPHAN_PTS_MASTER },
	{ "evasive-devices", no_argument, NULL, OPT_EVASIVE_DEVICES },
	{ "force-irmap", no_argument, NULL, OPT_FORCE_IRMAP },
	{ "lsm-profile", required_argument, NULL, OPT_LSM_PROFILE },
	{ "lsm-mount-context", required_argument, NULL, OPT_LSM_MOUNT_CONTEXT },
	{ "veth-pair", required_argument, NULL, OPT_VETH_PAIR },
	{ "tcp-close", no_argument, NULL, OPT_TCP_CLOSE },
	{ "skip-in-flight", no_argument, NULL, OPT_SKIP_IN_FLIGHT },
	{ "network-lock", required_argument, NULL, OPT_NETWORK_LOCK },
	{ "join-ns", required_argument, NULL, OPT_JOIN_NS },
	{ "empty-ns", required_argument, NULL, OPT_EMPTY_NS },
	{ "prev-images-dir", required_argument, NULL, OPT_PREV_IMAGES_DIR },
	{ "track-mem", no_argument, NULL, OPT_TRACK_MEM },
	{ "auto-dedup", no_argument, NULL, OPT_AUTO_DEDUP },
	{ "compress", no_argument, NULL, OPT_COMPRESS },
	{ "page-server", no_argument, NULL, OPT_PAGE_SERVER },
	{ "address", required_argument, NULL, OPT_ADDRESS },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "status-fd", required_argument, NULL, OPT_STATUS_FD },
	{ "lazy-pages", no_argument, NULL, OPT_LAZY_PAGES },
	{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
	{ "daemon", no_argument, NULL, OPT_DAEMON },
	{ "no-default-config", no_argument, NULL, OPT_NO_DEFAULT_CONFIG },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "weak-sysctls", no_argument, NULL, OPT_WEAK_SYSCTLS },
	{ "pre-dump-mode", required_argument, NULL, OPT_PRE_DUMP_MODE },
	{ "cpu-cap", optional_argument, NULL, OPT_CPU_CAP },
	{ "irmap-scan-path", required_argument, NULL, OPT_IRMAP_SCAN_PATH },
	{ "exec-cmd", no_argument, NULL, OPT_EXEC_CMD },
	{ "mntns-compat-mode", no_argument, NULL, OPT_MNTNS_COMPAT_MODE },
	{ "skip-mnt", required_argument, NULL, OPT_SKIP_MNT },
	{ "cgroup-props", required_argument, NULL, OPT_CGROUP_PROPS },
	{ "cgroup-props-file", required_argument, NULL, OPT_CGROUP_PROPS_FILE },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ },
};

/* The actions an option means something for; any other use is an error. */
enum { A_DUMP = 1, A_RESTORE = 2, A_CHECK = 4, A_SHOW = 8, A_PAGE_SERVER = 16, A_LAZY = 32, A_ALL = 63 };

static const struct opt_use {
	int opt;
	const char *name;
	int actions;
} opt_uses[] = {
	{ 't', "-t/--tree", A_DUMP },
	{ 'D', "-D/--images-dir", A_DUMP | A_RESTORE | A_PAGE_SERVER | A_LAZY },
	{ 'W', "-W/--work-dir", A_DUMP | A_RESTORE | A_PAGE_SERVER | A_LAZY },
	{ 'o', "-o/--log-file", A_DUMP | A_RESTORE | A_CHECK | A_PAGE_SERVER | A_LAZY },
	{ 'v', "-v/--verbosity", A_ALL },
	{ 'R', "-R/--leave-running", A_DUMP },
	{ 's', "-s/--leave-stopped", A_DUMP },
	{ 'j', "-j/--shell-job", A_DUMP | A_RESTORE },
	{ 'd', "-d/--restore-detached", A_RESTORE | A_PAGE_SERVER | A_LAZY },
	{ OPT_DAEMON, "--daemon", A_PAGE_SERVER | A_LAZY },
	{ 'S', "-S/--restore-sibling", A_RESTORE },
	/* these name how the images were made: restore takes them as well */
	{ 'l', "-l/--file-locks", A_DUMP | A_RESTORE },
	{ OPT_LINK_REMAP, "--link-remap", A_DUMP | A_RESTORE },
	{ OPT_EXT_UNIX_SK, "--ext-unix-sk", A_DUMP | A_RESTORE },
	{ OPT_TCP_ESTABLISHED, "--tcp-established", A_DUMP | A_RESTORE },
	{ OPT_TCP_CLOSE, "--tcp-close", A_DUMP | A_RESTORE },
	{ OPT_SKIP_IN_FLIGHT, "--skip-in-flight", A_DUMP },
	{ OPT_NETWORK_LOCK, "--network-lock", A_DUMP | A_RESTORE },
	{ OPT_PIDFILE, "--pidfile", A_RESTORE | A_PAGE_SERVER | A_LAZY },
	{ OPT_FEATURE, "--feature", A_CHECK },
	{ OPT_FORCE_VDSO_PROXY, "--force-vdso-proxy", A_RESTORE },
	{ OPT_GHOST_LIMIT, "--ghost-limit", A_DUMP },
	{ OPT_ALLOW_CHANGED, "--allow-changed-files", A_RESTORE },
	/* mnt[KEY]:PATH, veth[IN]:OUT[@BR] and macvlan[IN]:OUT at restore; the other kinds only at dump */
	{ OPT_EXTERNAL, "--external", A_DUMP | A_RESTORE },
	{ OPT_VETH_PAIR, "--veth-pair", A_RESTORE },
	{ OPT_JOIN_NS, "--join-ns", A_RESTORE },
	{ OPT_EMPTY_NS, "--empty-ns", A_DUMP | A_RESTORE },
	{ 'r', "-r/--root", A_DUMP | A_RESTORE },
	{ 'M', "-M/--ext-mount-map", A_DUMP | A_RESTORE },
	{ OPT_EXT_SHARING, "--enable-external-sharing", A_DUMP | A_RESTORE },
	{ OPT_EXT_MASTERS, "--enable-external-masters", A_DUMP | A_RESTORE },
	{ OPT_ENABLE_FS, "--enable-fs", A_DUMP | A_RESTORE },
	{ OPT_INHERIT_FD, "--inherit-fd", A_RESTORE },
	{ OPT_ACTION_SCRIPT, "--action-script", A_DUMP | A_RESTORE },
	{ OPT_MANAGE_CGROUPS, "--manage-cgroups", A_DUMP | A_RESTORE },
	{ OPT_CGROUP_ROOT, "--cgroup-root", A_DUMP | A_RESTORE },
	{ OPT_FREEZE_CGROUP, "--freeze-cgroup", A_DUMP },
	{ OPT_ORPHAN_PTS_MASTER, "--orphan-pts-master", A_DUMP | A_RESTORE },
	{ OPT_EVASIVE_DEVICES, "--evasive-devices", A_DUMP | A_RESTORE },
	/* pre-dump takes what dump takes (A_DUMP); these name how the images were made, too */
	{ OPT_PREV_IMAGES_DIR, "--prev-images-dir", A_DUMP },
	{ OPT_TRACK_MEM, "--track-mem", A_DUMP | A_RESTORE },
	{ OPT_AUTO_DEDUP, "--auto-dedup", A_DUMP | A_RESTORE | A_PAGE_SERVER },
	{ OPT_COMPRESS, "--compress", A_DUMP | A_RESTORE },
	{ OPT_PAGE_SERVER, "--page-server", A_DUMP | A_LAZY },
	{ OPT_ADDRESS, "--address", A_DUMP | A_PAGE_SERVER | A_LAZY },
	{ OPT_PORT, "--port", A_DUMP | A_PAGE_SERVER | A_LAZY },
	{ OPT_STATUS_FD, "--status-fd", A_DUMP | A_PAGE_SERVER | A_LAZY },
	/* dump: the lazy pages stay in the tree, served to criu lazy-pages --page-server; pre-dump refuses it */
	{ OPT_LAZY_PAGES, "--lazy-pages", A_DUMP | A_RESTORE | A_PAGE_SERVER },
	{ OPT_SNAPSHOT, "--snapshot", A_DUMP },
	{ OPT_FORCE_IRMAP, "--force-irmap", A_DUMP },
	{ OPT_LSM_PROFILE, "--lsm-profile", A_RESTORE },
	{ OPT_LSM_MOUNT_CONTEXT, "--lsm-mount-context", A_RESTORE },
	{ OPT_TIMEOUT, "--timeout", A_DUMP },
	{ OPT_WEAK_SYSCTLS, "--weak-sysctls", A_RESTORE },
	/* pre-dump only (A_DUMP covers both): a dump copies its pages frozen whatever it is told */
	{ OPT_PRE_DUMP_MODE, "--pre-dump-mode", A_DUMP },
	{ OPT_CPU_CAP, "--cpu-cap", A_DUMP | A_RESTORE },
	{ OPT_IRMAP_SCAN_PATH, "--irmap-scan-path", A_DUMP },
	{ OPT_EXEC_CMD, "--exec-cmd", A_RESTORE },
	{ OPT_MNTNS_COMPAT_MODE, "--mntns-compat-mode", A_RESTORE },
};

static bool exec_cmd_asked;		/* --exec-cmd, from wherever: its command must come */
static unsigned char opts_seen[2048];	/* given on the command line (or its --config) */
static bool ext_dump, ext_restore;	/* an --external of a dump's kind (not mnt[]), of a restore's kind */

static int action_bit(const char *action)
{
	static const struct { const char *name; int bit; } acts[] = {
		{ "dump", A_DUMP }, { "restore", A_RESTORE }, { "check", A_CHECK }, { "show", A_SHOW },
		{ "pre-dump", A_DUMP }, { "page-server", A_PAGE_SERVER }, { "lazy-pages", A_LAZY },
	};

	for (size_t i = 0; i < ARRAY_SIZE(acts); i++)
		if (!strcmp(action, acts[i].name))
			return acts[i].bit;
	return 0;
}

/*
 * --snapshot (snapshot.c): the tree runs on while its pages are copied, so
 * it is for a dump that leaves it running; a dump that kills the tree may
 * let nothing run after the instant its images are of.
 */
static int check_snapshot_use(const char *action)
{
	if (strcmp(action, "dump")) {
		pr_err("--snapshot means nothing for %s (it is for dump -R)\n", action);
		return -1;
	}
	if (!opts.leave_running) {
		pr_err("--snapshot needs -R/--leave-running: the tree runs while its pages are copied, and a tree "
		       "that is then killed (or stopped) would lose or repeat what it did meanwhile\n");
		return -1;
	}
	/*
	 * --prev-images-dir and --page-server go with it; going on tracking
	 * would register the areas with the tracking's userfaultfd, so that
	 * none could be write-protected for the copy (all read frozen).
	 */
	if (opts.track_mem || opts.lazy_pages) {
		pr_err("--snapshot can't be used with %s\n", opts.track_mem ?
		       "--track-mem (memory tracking can't go on after a snapshot dump yet: its userfaultfd would "
		       "hold the areas the snapshot write-protects)" :
		       "--lazy-pages (the tree runs on: there is no frozen memory to serve)");
		return -1;
	}
	return 0;
}

/* Options that don't apply to @action, conflicts, stray arguments: errors. */
static int check_option_use(const char *action, int nr_args, char **args, const char *field)
{
	int bit = action_bit(action), max_args = !strcmp(action, "show") ? 1 : 0;

	if (!bit)
		return 0;	/* swrk takes its own; unknown actions are reported as such */
	for (size_t i = 0; i < ARRAY_SIZE(opt_uses); i++)
		if (opts_seen[opt_uses[i].opt] && !(opt_uses[i].actions & bit)) {
			/*
			 * libcriu's criu_check() sends whatever its caller set
			 * for a dump: a check has nothing they could get wrong
			 */
			if (field && !strcmp(action, "check")) {
				pr_warn("%s (%s) means nothing for check: ignored\n", field, opt_uses[i].name);
				continue;
			}
			if (field)	/* a swrk request's: named as the client knows it */
				pr_err("%s (%s) means nothing for %s\n", field, opt_uses[i].name, action);
			else
				pr_err("%s means nothing for %s\n", opt_uses[i].name, action);
			return -1;
		}
	if ((bit == A_RESTORE && ext_dump) || (bit == A_DUMP && ext_restore)) {
		if (bit == A_RESTORE)
			pr_err("--external RES means nothing for restore (only mnt[KEY]:PATH, veth[IN]:OUT[@BRIDGE] "
			       "and macvlan[IN]:OUT do)\n");
		else
			pr_err("--external veth/macvlan means nothing for dump (veth[IN]:OUT[@BRIDGE] and "
			       "macvlan[IN]:OUT are for restore)\n");
		return -1;
	}
	/* cr_pre_dump_tasks() always lets the tree go on: a stopped tree was asked for and not had */
	if (!strcmp(action, "pre-dump") && opts.leave_stopped) {
		pr_err("%s-s/--leave-stopped means nothing for pre-dump: the tree always runs on after it\n",
		       field ? "criu_opts.leave_stopped: " : "");
		return -1;
	}
	/* as dump without --lazy-pages: nothing would be written to it, and its reader would wait on */
	if (!strcmp(action, "pre-dump") && opts.status_fd >= 0) {
		pr_err("%s--status-fd means nothing for pre-dump: it has no moment to say it is ready at "
		       "(only dump --lazy-pages has)\n", field ? "criu_opts.status_fd: " : "");
		return -1;
	}
	if (opts.leave_running && opts.leave_stopped) {
		pr_err("-R/--leave-running and -s/--leave-stopped exclude each other\n");
		return -1;
	}
	/* only a server can take any port: it says which it got (the log; a swrk reply's ps.port) */
	if (opts.port_any && bit != A_PAGE_SERVER) {
		pr_err("%s--port 0 (any free port) is only for page-server: %s needs the port it is given\n",
		       field ? "criu_opts.ps.port: " : "", action);
		return -1;
	}
	if (opts.snapshot && check_snapshot_use(action))
		return -1;
	/* the page server takes no other (security.md, "Over the network"): said now, not once the tree is frozen */
	if (bit == A_DUMP && opts.page_server && opts.prev_images_dir && !ps_parent_ok(opts.prev_images_dir, 0)) {
		pr_err("--prev-images-dir %s: with --page-server it must be relative to -D, in it or next to it "
		       "(NAME or ../NAME): the page server takes no other\n", opts.prev_images_dir);
		return -1;
	}
	if (bit == A_PAGE_SERVER && opts.auto_dedup && opts.lazy_pages) {
		pr_err("--auto-dedup means nothing for page-server --lazy-pages: it serves images, it writes none\n");
		return -1;
	}
	if (bit == A_RESTORE && opts.auto_dedup && opts.lazy_pages) {
		pr_err("restore --auto-dedup can't be used with --lazy-pages: the lazy-pages daemon reads the "
		       "pages images after restore returns\n");
		return -1;
	}
	if (exec_cmd_asked && !opts.exec_cmd && bit == A_RESTORE) {
		pr_err("--exec-cmd needs the command after the options: criu restore ... --exec-cmd -- CMD [ARG...]\n");
		return -1;
	}
	if (nr_args > max_args) {
		pr_err("unexpected argument '%s' after %s\n", args[max_args], action);
		return -1;
	}
	return 0;
}

static int parse_pid(const char *arg, pid_t *pid)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || end == arg || v <= 0 || v > INT_MAX) {
		pr_err("bad pid '%s'\n", arg);
		return -1;
	}
	*pid = v;
	return 0;
}

static int parse_size(const char *arg, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(arg, &end, 10);

	if (end == arg)
		return -1;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end || v > (1ULL << 32))
		return -1;
	*out = v;
	return 0;
}

static const char *keep_arg(const char *arg);

/*
 * --cpu-cap[=CAP,...]: what to check of the CPU at restore (the original
 * tool's names: fpu, cpu, ins, image, all, none; ^CAP takes one away).
 * Restore always checks that the FPU state fits this CPU (every XSAVE
 * feature the tasks used is on here, images.c): that is "fpu", and what
 * "none" gets as well, since registers the CPU can't load can't be
 * restored. cpu (the same CPUID features), ins (the instruction sets the
 * tasks may have seen) and image (a cpuinfo image at dump) need the dump's
 * CPUID, which is not saved: refused by name rather than taken and not
 * done. No argument means "all", as in the original tool.
 */
static int cpu_cap_parse(const char *arg)
{
	enum { FPU = 1, CPU = 2, INS = 4, IMAGE = 8, ALL = FPU | CPU | INS | IMAGE };
	static const struct { const char *name; int bits; } caps[] = {
		{ "fpu", FPU }, { "cpu", CPU }, { "ins", INS }, { "image", IMAGE }, { "all", ALL }, { "none", ALL },
	};
	char buf[256], *tok, *save = NULL;
	int mask = FPU;

	if (!arg)
		arg = "all";
	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf)) {
		pr_err("bad --cpu-cap '%.64s...': too long\n", arg);
		return -1;
	}
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool off = tok[0] == '^';
		size_t i;

		tok += off;
		for (i = 0; i < ARRAY_SIZE(caps); i++)
			if (!strcmp(tok, caps[i].name))
				break;
		if (i == ARRAY_SIZE(caps)) {
			pr_err("bad --cpu-cap '%s': '%s' is none of fpu, cpu, ins, image, all, none\n", arg, tok);
			return -1;
		}
		if (off || !strcmp(tok, "none"))
			mask &= ~caps[i].bits;
		else
			mask |= caps[i].bits;
	}
	for (size_t i = 0; i < 3; i++)
		if (mask & caps[i + 1].bits) {
			pr_err("--cpu-cap %s: '%s' is not supported yet: the dump does not save its CPU's features "
			       "(CPUID) to compare with (only fpu, always checked: the FPU state must fit this CPU; "
			       "or none)\n", arg, caps[i + 1].name);
			return -1;
		}
	return 0;
}

/*
 * One option, from the command line, a config file or a swrk request: all
 * three end here, so an option means the same wherever it comes from.
 * arg must stay valid for the whole run.
 */
static int handle_option(int c, const char *arg)
{
	switch (c) {
	case 't': return parse_pid(arg, &opts.pid);
	case 'D': opts.imgs_dir = arg; break;
	case 'W': opts.work_dir = arg; break;
	case 'o': opts.log_file = arg; break;
	case 'v':
		if (!arg)
			opts.log_level++;
		else if (arg[0] == 'v' && strspn(arg, "v") == strlen(arg))	/* -vvv */
			opts.log_level += strlen(arg) + 1;
		else if (arg[0] >= '0' && arg[0] <= '9' && !arg[1])
			opts.log_level = arg[0] - '0';
		else {
			pr_err("bad verbosity '%s': 0 to 4\n", arg);
			return -1;
		}
		break;
	case 'R': opts.leave_running = true; break;
	case 's': opts.leave_stopped = true; break;
	case 'j': opts.shell_job = true; break;
	case 'd': opts.restore_detached = true; break;
	case OPT_DAEMON: opts.daemon = true; break;
	case 'S': opts.restore_sibling = true; break;
	case 'l': opts.file_locks = true; break;
	case OPT_PIDFILE: opts.pidfile = arg; break;
	case OPT_FEATURE:
		/* each --feature is asked, not only the last: kept as one list, NAME,NAME */
		if (opts.feature) {
			char *both;

			if (asprintf(&both, "%s,%s", opts.feature, arg) < 0)
				return -1;
			arg = keep_arg(both);
			free(both);
			if (!arg)
				return -1;
		}
		opts.feature = arg;
		break;
	case OPT_LINK_REMAP: opts.link_remap = true; break;
	case OPT_GHOST_FIEMAP: break;	/* holes are always found with SEEK_DATA/SEEK_HOLE */
	case OPT_EXT_UNIX_SK: opts.ext_unix_sk = true; break;
	case OPT_TCP_ESTABLISHED: opts.tcp_established = true; break;
	case OPT_TCP_CLOSE: opts.tcp_close = true; break;
	case OPT_SKIP_IN_FLIGHT: opts.skip_in_flight = true; break;
	case OPT_NETWORK_LOCK:
		opts.network_lock = net_lock_method(arg);
		if (opts.network_lock < 0) {
			pr_err("bad --network-lock '%s': nftables, iptables or skip\n", arg);
			return -1;
		}
		break;
	case OPT_PREV_IMAGES_DIR: opts.prev_images_dir = arg; break;
	case OPT_TRACK_MEM: opts.track_mem = true; break;
	case OPT_AUTO_DEDUP: opts.auto_dedup = true; break;
	case OPT_COMPRESS: opts.compress = true; break;
	case OPT_PAGE_SERVER: opts.page_server = true; break;
	case OPT_LAZY_PAGES: opts.lazy_pages = true; break;
	case OPT_SNAPSHOT: opts.snapshot = true; break;
	case OPT_ADDRESS: opts.address = arg; break;
	case OPT_PORT: {
		char *end;
		long v = strtol(arg, &end, 10);

		if (*end || end == arg || v < 0 || v > 65535) {
			pr_err("bad --port '%s'\n", arg);
			return -1;
		}
		opts.port = v;
		opts.port_any = v == 0;
		break;
	}
	case OPT_STATUS_FD: {
		char *end;
		long v = strtol(arg, &end, 10);

		if (*end || end == arg || v < 0 || v > INT_MAX) {
			pr_err("bad --status-fd '%s'\n", arg);
			return -1;
		}
		opts.status_fd = v;
		break;
	}
	case OPT_FORCE_VDSO_PROXY: opts.force_vdso_proxy = true; break;
	case OPT_ALLOW_CHANGED: opts.allow_changed_files = true; break;
	case OPT_EXTERNAL:
		if (!strncmp(arg, "mnt[", 4))
			return mnt_opt_external(arg);
		/* LXC names the tasks' profile this way too */
		if (lsm_is_arg(arg))
			return lsm_opt_profile(arg);
		if (netns_is_ext_arg(arg)) {
			ext_restore = true;
			return netns_ext_add(arg);
		}
		ext_dump = true;
		return external_add(arg);
	case OPT_VETH_PAIR: {
		char buf[128];
		const char *eq = strchr(arg, '=');

		if (!eq || snprintf(buf, sizeof(buf), "veth[%.*s]:%s", (int)(eq - arg), arg, eq + 1) >= (int)sizeof(buf)) {
			pr_err("bad --veth-pair '%s': expected IN=OUT[@BRIDGE]\n", arg);
			return -1;
		}
		return netns_ext_add(buf);
	}
	case 'r': opts.root = arg; break;
	case 'M': return mnt_opt_ext_map(arg);
	case OPT_EXT_SHARING: opts.enable_external_sharing = true; break;
	case OPT_EXT_MASTERS: opts.enable_external_masters = true; break;
	case OPT_ENABLE_FS: return mnt_opt_enable_fs(arg);
	case OPT_EVASIVE_DEVICES: opts.evasive_devices = true; break;
	/* LXC's: watches are always saved by file handle and found again on the restored mount */
	case OPT_FORCE_IRMAP: break;
	case OPT_LSM_PROFILE: return lsm_opt_profile(arg);
	case OPT_LSM_MOUNT_CONTEXT: return lsm_opt_mount_context(arg);
	case OPT_INHERIT_FD: return inherit_fd_add(arg);
	case OPT_JOIN_NS: return ns_join_add(arg);
	case OPT_EMPTY_NS: return ns_empty_add(arg);
	case OPT_ACTION_SCRIPT: return action_script_add(arg);
	case OPT_CONFIG: return parse_config_file(arg, false);
	case OPT_NO_DEFAULT_CONFIG: break;	/* seen by read_default_configs() */
	case OPT_MANAGE_CGROUPS:
		opts.manage_cgroups = cg_mode_parse(arg);
		if (opts.manage_cgroups < 0) {
			pr_err("bad --manage-cgroups mode '%s': none, props, soft, full, strict or ignore\n", arg);
			return -1;
		}
		break;
	case OPT_CGROUP_ROOT: return cgroup_root_add(arg);
	case OPT_FREEZE_CGROUP: opts.freeze_cgroup = arg; break;
	case OPT_ORPHAN_PTS_MASTER: opts.orphan_pts_master = true; break;
	case OPT_GHOST_LIMIT:
		if (parse_size(arg, &opts.ghost_limit)) {
			pr_err("bad --ghost-limit '%s'\n", arg);
			return -1;
		}
		break;
	case OPT_TIMEOUT: {
		char *end;
		unsigned long v = strtoul(arg, &end, 10);

		if (*end || end == arg || arg[0] == '-' || v == 0 || v > 3600) {
			pr_err("bad --timeout '%s': seconds, 1 to 3600\n", arg);
			return -1;
		}
		opts.timeout = v;
		break;
	}
	case OPT_WEAK_SYSCTLS: opts.weak_sysctls = true; break;
	case OPT_PRE_DUMP_MODE:
		if (!strcmp(arg, "read"))
			opts.pre_dump_mode = PRE_DUMP_READ;
		else if (!strcmp(arg, "splice"))
			opts.pre_dump_mode = PRE_DUMP_SPLICE;
		else {
			pr_err("bad --pre-dump-mode '%s': read or splice\n", arg);
			return -1;
		}
		break;
	case OPT_CPU_CAP: return cpu_cap_parse(arg);
	/* hints for finding watched files by inode: watches are saved by file handle here, nothing to search */
	case OPT_IRMAP_SCAN_PATH:
		if (arg[0] != '/') {
			pr_err("bad --irmap-scan-path '%s': an absolute path\n", arg);
			return -1;
		}
		break;
	case OPT_EXEC_CMD:
		exec_cmd_asked = true;
		opts.restore_detached = true;
		break;
	/* there is one way mounts are restored here, which needs no compat mode */
	case OPT_MNTNS_COMPAT_MODE: break;
	case OPT_SKIP_MNT:
		pr_err("--skip-mnt %s is not supported yet: a mount can't be left out of the dump (its files, and "
		       "the mounts below it, would be restored wrong or not at all)\n", arg);
		return -1;
	case OPT_CGROUP_PROPS:
	case OPT_CGROUP_PROPS_FILE:
		pr_err("--cgroup-props%s is not supported yet: criu saves its own list of every settable property "
		       "of the tree's cgroups (Documentation/cgroups.md), not a list of the caller's\n",
		       c == OPT_CGROUP_PROPS_FILE ? "-file" : "");
		return -1;
	case 'V':
		printf("Version: %s\n", CR_VERSION);
		exit(0);
	case 'h':
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		return -1;
	}
	return 0;
}

/*
 * Option arguments from a config file or a swrk request are pointed at by
 * opts for the rest of the run: copies, kept in a list and freed at exit
 * (so that LeakSanitizer has nothing to say about them).
 */
struct kept_arg {
	struct kept_arg *next;
	char s[];
};
static struct kept_arg *kept_args;
static int kept_args_registered;

static void free_kept_args(void)
{
	while (kept_args) {
		struct kept_arg *k = kept_args;

		kept_args = k->next;
		free(k);
	}
}

static const char *keep_arg(const char *arg)
{
	size_t len = strlen(arg) + 1;
	struct kept_arg *k = malloc(sizeof(*k) + len);

	if (!k)
		return NULL;
	if (!kept_args_registered && !atexit(free_kept_args))
		kept_args_registered = 1;
	memcpy(k->s, arg, len);
	k->next = kept_args;
	kept_args = k;
	return k->s;
}

/*
 * name given by the user (a swrk request's field) rather than by a config
 * file: like an option of the command line, it is then checked against
 * the action with cr_option_check_use(). A config file's options are not,
 * as on the command line: one file serves every action.
 */
static int option_set(const char *name, const char *arg, bool given)
{
	const struct option *o;

	for (o = longopts; o->name; o++)
		if (!strcmp(o->name, name))
			break;
	if (given && o->name && o->val >= 0 && o->val < (int)sizeof(opts_seen))
		opts_seen[o->val] = 1;
	if (!o->name || o->val == 'V' || o->val == 'h') {
		pr_err("option --%s is not supported yet\n", name);
		return -2;
	}
	if (o->has_arg == required_argument && !arg) {
		pr_err("option --%s needs an argument\n", name);
		return -1;
	}
	if (o->has_arg == no_argument && arg) {
		pr_err("option --%s takes no argument\n", name);
		return -1;
	}
	if (arg && !(arg = keep_arg(arg))) {
		pr_err("out of memory\n");
		return -1;
	}
	return handle_option(o->val, arg);
}

int cr_option_set(const char *name, const char *arg)
{
	return option_set(name, arg, false);
}

int cr_option_given(const char *name, const char *arg)
{
	return option_set(name, arg, true);
}

/* The options given so far (cr_option_given) against @action, as for a command line; field: the last one's name. */
int cr_option_check_use(const char *action, const char *field)
{
	return check_option_use(action, 0, NULL, field);
}

/*
 * A swrk request's exec_cmd: the command a RESTORE execs once the tree
 * runs (as the command line's --exec-cmd -- CMD [ARG...]).
 */
int cr_option_exec_cmd(char *const *argv, size_t n)
{
	static const char *args[64];

	if (!n || n >= ARRAY_SIZE(args)) {
		pr_err("exec_cmd: 1 to %zu words, not %zu\n", ARRAY_SIZE(args) - 1, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!(args[i] = keep_arg(argv[i]))) {
			pr_err("out of memory\n");
			return -1;
		}
	args[n] = NULL;
	opts.exec_cmd = args;
	return cr_option_given("exec-cmd", NULL);
}

/*
 * restore --exec-cmd: once the tree runs, criu becomes the command, so
 * that the restored root (criu's child unless -S) is the command's child.
 * Returns only if the exec failed (the tree runs on).
 */
void cr_exec_cmd(void)
{
	pr_info("the tree runs: exec %s\n", opts.exec_cmd[0]);
	execvp(opts.exec_cmd[0], (char *const *)opts.exec_cmd);
	pr_perror("--exec-cmd: can't exec %s (the restored tree runs on)", opts.exec_cmd[0]);
}

/*
 * A config file: one option a line, its long name without the dashes and
 * its argument after a space ("tcp-established", "ghost-limit 4M");
 * blank lines and lines starting with # are skipped.
 */
int parse_config_file(const char *path, bool missing_ok)
{
	char line[4096];
	int n = 0, ret = 0, rd = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		if (missing_ok && errno == ENOENT) {
			pr_warn("config file %s does not exist: skipped\n", path);
			return 0;
		}
		pr_perror("can't open config file %s", path);
		return -1;
	}
	while (!ret && (rd = read_line(f, line, sizeof(line), path)) > 0) {
		char *name = line, *arg, *e;

		n++;
		e = name + strlen(name);
		while (e > name && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		while (*name == ' ' || *name == '\t')
			name++;
		if (!*name || *name == '#')
			continue;
		if (!strncmp(name, "--", 2))
			name += 2;
		arg = strpbrk(name, " \t=");
		if (arg) {
			*arg++ = '\0';
			arg += strspn(arg, " \t");
			if (*arg == '"' && e > arg + 1 && e[-1] == '"') {
				arg++;
				e[-1] = '\0';
			}
		}
		if (!strcmp(name, "config")) {
			pr_err("%s:%d: a config file can't name another one\n", path, n);
			ret = -1;
		} else if (cr_option_set(name, arg)) {
			pr_err("%s:%d: bad option line\n", path, n);
			ret = -1;
		}
	}
	fclose(f);
	return rd < 0 ? -1 : ret;
}

/*
 * The config files every criu reads before its command line, as users of
 * criu expect (a "tcp-established" in /etc/criu/default.conf): the
 * system's, the user's (~/.criu/default.conf), then $CRIU_CONFIG_FILE's,
 * each overriding the one before and the command line all of them. A
 * default file that is not there is skipped; one that can't be read or
 * holds a bad line fails the command, rather than be left out unsaid.
 * --no-default-config skips the two default files.
 */
static int read_default_configs(int argc, char **argv)
{
	const char *home = getenv("HOME"), *env = getenv("CRIU_CONFIG_FILE");
	char path[PATH_MAX];
	bool defaults = true;

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--no-default-config"))
			defaults = false;
	if (defaults) {
		if (access("/etc/criu/default.conf", F_OK) == 0 && parse_config_file("/etc/criu/default.conf", false))
			return -1;
		if (home && *home && snprintf(path, sizeof(path), "%s/.criu/default.conf", home) < (int)sizeof(path) &&
		    access(path, F_OK) == 0 && parse_config_file(path, false))
			return -1;
	}
	if (env && *env && parse_config_file(env, false))
		return -1;
	return 0;
}

static int parse_options(int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, "t:D:W:o:v::RsjdSlVhr:M:", longopts, NULL)) != -1) {
		if (c >= 0 && c < (int)sizeof(opts_seen))
			opts_seen[c] = 1;
		if (handle_option(c, optarg))
			return -1;
	}
	if (opts.log_level > LOG_DEBUG)
		opts.log_level = LOG_DEBUG;
	return 0;
}

/* The log goes to the work dir (default: images dir) unless given absolute. */
int cr_setup_log(void)
{
	char path[PATH_MAX];

	if (opts.log_level > LOG_DEBUG)
		opts.log_level = LOG_DEBUG;
	const char *dir = opts.work_dir ? opts.work_dir : opts.imgs_dir;

	if (!opts.log_file)
		return log_init(NULL, opts.log_level);
	if (opts.log_file[0] == '/' || !strcmp(opts.log_file, "-"))
		return log_init(opts.log_file, opts.log_level);
	if (snprintf(path, sizeof(path), "%s/%s", dir, opts.log_file) >= (int)sizeof(path)) {
		pr_err("log file %s/%.64s...: the path is too long\n", dir, opts.log_file);
		return -1;
	}
	return log_init_in_dir(path, opts.log_level, 1);
}

/*
 * page-server, lazy-pages with --daemon (-d): the server runs in a child
 * out of our session, its output to its log only; we return once it
 * listens (its ready byte comes on a pipe of ours, which it takes as its
 * --status-fd), after writing its pid to --pidfile and passing the byte
 * on to the caller's --status-fd. A server that fails before that fails
 * the command.
 */
static int run_daemon(const char *action, int (*serve)(void))
{
	int p[2], user_fd = opts.status_fd, null;
	ssize_t n;
	pid_t child;
	char c;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("%s --daemon: can't make a pipe", action);
		return 1;
	}
	child = fork();
	if (child < 0) {
		pr_perror("%s --daemon: can't fork", action);
		return 1;
	}
	if (child == 0) {
		close(p[0]);
		if (user_fd >= 0)
			close(user_fd);
		opts.status_fd = p[1];
		if (setsid() < 0)
			pr_pwarn("%s --daemon: setsid", action);
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			close(null);
		}
		_exit(serve() ? 1 : 0);
	}
	close(p[1]);
	do
		n = read(p[0], &c, 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n != 1) {
		waitpid(child, NULL, 0);
		pr_err("%s --daemon failed before it was listening: see its log (%s)\n", action,
		       opts.log_file ? opts.log_file : "none");
		return 1;
	}
	if (user_fd >= 0) {
		if (write(user_fd, "\0", 1) != 1)
			pr_pwarn("can't write --status-fd %d", user_fd);
		close(user_fd);
	}
	if (opts.pidfile && write_pidfile(opts.pidfile, child)) {
		kill(child, SIGTERM);
		return 1;
	}
	pr_info("%s: running in the background as %d\n", action, child);
	return 0;
}

static int run_server(const char *action, int (*serve)(void))
{
	if (opts.daemon)
		return run_daemon(action, serve);
	if (opts.pidfile && write_pidfile(opts.pidfile, getpid()))
		return 1;
	return serve();
}

int main(int argc, char **argv)
{
	const char *action;
	int ret, nr_args;

	/* first: a SIGINT, SIGTERM or SIGHUP from now on rolls back what was done */
	interrupt_setup();
	log_init(NULL, DEFAULT_LOGLEVEL);
	fault_init();
	compel_set_fault(fault_hit);
	if (read_default_configs(argc, argv) || parse_options(argc, argv))
		return 1;
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	action = argv[optind];
	nr_args = argc - optind - 1;
	/* restore --exec-cmd -- CMD [ARG...]: the arguments after the action are the command */
	if (exec_cmd_asked && !strcmp(action, "restore") && nr_args > 0) {
		opts.exec_cmd = (const char *const *)argv + optind + 1;
		nr_args = 0;
	}
	if (check_option_use(action, nr_args, argv + optind + 1, NULL))
		return 1;
	compel_set_log(compel_log);
	compel_set_interrupt(interrupted);

	if (!strcmp(action, "swrk")) {
		if (optind + 1 >= argc) {
			pr_err("swrk needs the number of its socket fd\n");
			return 1;
		}
		return cr_service_work(argv[optind + 1]) ? 1 : 0;
	}

	if (!strcmp(action, "show")) {
		if (optind + 1 >= argc) {
			pr_err("show needs an image file\n");
			return 1;
		}
		log_set_level(opts.log_level);
		return show_image(argv[optind + 1], stdout) ? 1 : 0;
	}

	if ((!strcmp(action, "dump") || !strcmp(action, "pre-dump")) && !opts.pid) {
		pr_err("%s needs -t PID\n", action);
		return 1;
	}
	if (!strcmp(action, "dump") || !strcmp(action, "pre-dump") || !strcmp(action, "restore") ||
	    !strcmp(action, "page-server") || !strcmp(action, "lazy-pages")) {
		if (opts.work_dir && mkdir(opts.work_dir, 0700) && errno != EEXIST) {
			pr_perror("can't create work dir %s", opts.work_dir);
			return 1;
		}
		/* page-server --lazy-pages serves images that must be there */
		if (strcmp(action, "restore") && strcmp(action, "lazy-pages") &&
		    !(!strcmp(action, "page-server") && opts.lazy_pages) && mkdir(opts.imgs_dir, 0700) && errno != EEXIST) {
			pr_perror("can't create images dir %s", opts.imgs_dir);
			return 1;
		}
	}
	if (!strcmp(action, "page-server") || !strcmp(action, "lazy-pages")) {
		opts.daemon |= opts.restore_detached;
		if (opts.daemon && !opts.log_file)
			opts.log_file = !strcmp(action, "page-server") ? "page-server.log" : "lazy-pages.log";
	}
	if (cr_setup_log())
		return 1;
	pr_info("criu %s: %s\n", CR_VERSION, action);
	kerndat_init();

	if (!strcmp(action, "dump")) {
		if (!opts.pid) {
			pr_err("dump needs -t PID\n");
			return 1;
		}
		ret = cr_dump_tasks(opts.pid);
	} else if (!strcmp(action, "restore")) {
		ret = cr_restore_tasks();
		if (!ret && opts.exec_cmd)
			cr_exec_cmd();	/* returns only if the exec failed */
		log_fini();
		return ret ? ret : (opts.exec_cmd ? 1 : 0);
	} else if (!strcmp(action, "check")) {
		ret = cr_check(opts.feature);
	} else if (!strcmp(action, "pre-dump")) {
		ret = cr_pre_dump_tasks(opts.pid);
	} else if (!strcmp(action, "page-server")) {
		ret = run_server(action, opts.lazy_pages ? cr_lazy_page_server : cr_page_server);
	} else if (!strcmp(action, "lazy-pages")) {
		ret = run_server(action, cr_lazy_pages);
	} else {
		pr_err("unknown action '%s'\n", action);
		usage(stderr);
		ret = 1;
	}
	log_fini();
	return ret ? 1 : 0;
}
