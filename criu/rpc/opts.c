/*
 * criu_opts of a swrk request, turned into command-line options: every
 * field goes through cr_option_set() under the long name of the option
 * that means the same, so a request asks exactly what the command line
 * would, and an option the command line does not have yet is refused the
 * same way. The fields that only make sense over the socket (the dir fds,
 * notify_scripts) are the only ones handled here.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cr_options.h"
#include "crtools.h"
#include "log.h"
#include "rpc-int.h"
#include "util.h"

enum how {
	SKIP,		/* handled before the table */
	FLAG,		/* bool: --NAME when true */
	VALUE,		/* int, uint or string: --NAME VALUE */
	EACH,		/* repeated string: --NAME VALUE for each */
	CUSTOM,
};

struct field_opt {
	const char *field;
	const char *cli;
	enum how how;
	int (*custom)(const CriuOpts *o, const char *cli);
};

/* the criu action the request is ("dump", "pre-dump", "restore", "page-server", "check"): its fields are checked against it */
static const char *rpc_action;

static int set(const char *cli, const char *arg)
{
	return cr_option_given(cli, arg) ? -1 : 0;
}

static int opt_log_file(const CriuOpts *o, const char *cli)
{
	if (!*o->log_file || strchr(o->log_file, '/') || !strcmp(o->log_file, "..")) {
		pr_err("log_file '%s' must be a plain file name: the log goes in the work dir\n", o->log_file);
		return -1;
	}
	return set(cli, o->log_file);
}

static int opt_log_to_stderr(const CriuOpts *o, const char *cli)
{
	return o->log_to_stderr ? set(cli, "-") : 0;
}

/*
 * ps: where the pages go. With lazy_pages it is where this dump listens for
 * the destination's lazy-pages daemon (runc's --page-server with
 * --lazy-pages), so only --address/--port: dump --lazy-pages refuses
 * --page-server.
 */
static int opt_page_server(const CriuOpts *o, const char *cli)
{
	char port[16];

	/* a socket the client connected itself, in place of address and port: not yet, and not to be passed over */
	if (o->ps->has_fd) {
		pr_err("criu_opts.ps.fd (a connected socket for the page server's pages) is not supported yet: "
		       "give ps.address and ps.port\n");
		return -1;
	}
	/* a PAGE_SERVER request's ps is where the server listens */
	if (!o->lazy_pages && strcmp(rpc_action, "page-server") && set(cli, NULL))
		return -1;
	if (o->ps->address && set("address", o->ps->address))
		return -1;
	snprintf(port, sizeof(port), "%d", o->ps->port);
	return o->ps->has_port ? set("port", port) : 0;
}

/* status_fd is an fd of the client's (runc's --status-fd), reopened here */
static int opt_status_fd(const CriuOpts *o, const char *cli)
{
	char num[16];
	int fd = rpc_open_peer_fd(o->status_fd, "status_fd", O_WRONLY);

	if (fd < 0)
		return -1;
	snprintf(num, sizeof(num), "%d", fd);
	return set(cli, num);
}

static int opt_notify(const CriuOpts *o, const char *cli)
{
	rpc_notify_enable(o->notify_scripts);
	return 0;
}

static int opt_veths(const CriuOpts *o, const char *cli)
{
	char buf[512];

	for (size_t i = 0; i < o->n_veths; i++) {
		snprintf(buf, sizeof(buf), "%s=%s", o->veths[i]->if_in, o->veths[i]->if_out);
		if (set(cli, buf))
			return -1;
	}
	return 0;
}

/*
 * KEY:VAL splits at the first ':', but runc's and crun's keys are the
 * container's mountpoints, which may hold one ("/mnt/a:b"): such a key
 * goes as --external mnt[KEY]:VAL, which splits at "]:". Joined as
 * KEY:VAL it would name another mount, and the one it meant would be
 * dumped as no external one, then restored from where it was rather
 * than from where the runtime says.
 */
static int opt_ext_mnt(const CriuOpts *o, const char *cli)
{
	char buf[8192];

	for (size_t i = 0; i < o->n_ext_mnt; i++) {
		const char *key = o->ext_mnt[i]->key, *val = o->ext_mnt[i]->val;
		bool colon = strchr(key, ':') != NULL;
		int len;

		if (colon && strstr(key, "]:")) {
			pr_err("ext_mnt key '%s': a key with both ':' and \"]:\" is not supported yet\n", key);
			return -1;
		}
		len = snprintf(buf, sizeof(buf), colon ? "mnt[%s]:%s" : "%s:%s", key, val);
		if (len >= (int)sizeof(buf)) {
			pr_err("ext_mnt %s: too long\n", key);
			return -1;
		}
		if (set(colon ? "external" : cli, buf))
			return -1;
	}
	return 0;
}

static int opt_auto_ext_mnt(const CriuOpts *o, const char *cli)
{
	return o->auto_ext_mnt ? set(cli, "auto") : 0;
}

static int opt_cg_root(const CriuOpts *o, const char *cli)
{
	char buf[8192];

	for (size_t i = 0; i < o->n_cg_root; i++) {
		CgroupRoot *r = o->cg_root[i];

		if (r->ctrl)
			snprintf(buf, sizeof(buf), "%s:%s", r->ctrl, r->path);
		else
			snprintf(buf, sizeof(buf), "%s", r->path);
		if (set(cli, buf))
			return -1;
	}
	return 0;
}

static int opt_inherit_fd(const CriuOpts *o, const char *cli)
{
	char buf[8192];

	for (size_t i = 0; i < o->n_inherit_fd; i++) {
		/* not the client's stdio but what we put there (service.c) */
		if (rpc_fd_filled(o->inherit_fd[i]->fd)) {
			pr_err("inherit_fd %s: fd %d is not open in criu (its client had it closed)\n",
			       o->inherit_fd[i]->key, o->inherit_fd[i]->fd);
			return -1;
		}
		snprintf(buf, sizeof(buf), "fd[%d]:%s", o->inherit_fd[i]->fd, o->inherit_fd[i]->key);
		if (set(cli, buf))
			return -1;
	}
	return 0;
}

static int opt_unix_sk_ino(const CriuOpts *o, const char *cli)
{
	pr_err("unix_sk_ino (an external unix socket named by its inode) is not supported yet; "
	       "ext_unix_sk is\n");
	return -1;
}

static int opt_cg_mode(const CriuOpts *o, const char *cli)
{
	static const char *const modes[] = {
		[CRIU_CG_MODE__IGNORE] = "ignore", [CRIU_CG_MODE__CG_NONE] = "none",
		[CRIU_CG_MODE__PROPS] = "props", [CRIU_CG_MODE__SOFT] = "soft",
		[CRIU_CG_MODE__FULL] = "full", [CRIU_CG_MODE__STRICT] = "strict",
		[CRIU_CG_MODE__DEFAULT] = "default",
	};

	if (o->manage_cgroups_mode < 0 || o->manage_cgroups_mode >= (int)ARRAY_SIZE(modes)) {
		pr_err("manage_cgroups_mode %d: no such mode\n", o->manage_cgroups_mode);
		return -1;
	}
	return set(cli, modes[o->manage_cgroups_mode]);
}

static int opt_empty_ns(const CriuOpts *o, const char *cli)
{
	if (!o->empty_ns)
		return 0;
	if (o->empty_ns != CLONE_NEWNET) {
		pr_err("empty_ns %#x: only CLONE_NEWNET (net) can be left empty\n", o->empty_ns);
		return -1;
	}
	return set(cli, "net");
}

static int opt_join_ns(const CriuOpts *o, const char *cli)
{
	char buf[8192];

	for (size_t i = 0; i < o->n_join_ns; i++) {
		JoinNamespace *j = o->join_ns[i];

		/* the command line has no NS:PATH,EXTRA form (a user namespace's ids) */
		if (j->extra_opt) {
			pr_err("join_ns %s: extra_opt '%s' is not supported yet\n", j->ns, j->extra_opt);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%s:%s", j->ns, j->ns_file);
		if (set(cli, buf))
			return -1;
	}
	return 0;
}

static int opt_pre_dump_mode(const CriuOpts *o, const char *cli)
{
	if (o->pre_dump_mode == CRIU_PRE_DUMP_MODE__SPLICE)
		return set(cli, "splice");
	if (o->pre_dump_mode == CRIU_PRE_DUMP_MODE__VM_READ)
		return set(cli, "read");
	pr_err("pre_dump_mode %d: no such mode\n", o->pre_dump_mode);
	return -1;
}

/* a bit mask of the original tool's: 1 fpu, 2 cpu, 4 ins, 8 image; its default, every bit, is "all" */
static int opt_cpu_cap(const CriuOpts *o, const char *cli)
{
	static const char *const names[] = { "fpu", "cpu", "ins", "image" };
	char buf[64] = "";

	if (o->cpu_cap == 0xffffffff)
		return set(cli, "all");
	if (o->cpu_cap & ~0xfu) {
		pr_err("cpu_cap %#x: no such capability bits (1 fpu, 2 cpu, 4 ins, 8 image)\n", o->cpu_cap);
		return -1;
	}
	for (int i = 0; i < 4; i++)
		if (o->cpu_cap & (1u << i))
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", *buf ? "," : "", names[i]);
	return set(cli, *buf ? buf : "none");
}

/* 0, as in the original tool, is no limit of the request's own: the defaults */
static int opt_timeout(const CriuOpts *o, const char *cli)
{
	char num[16];

	if (!o->timeout)
		return 0;
	snprintf(num, sizeof(num), "%u", o->timeout);
	return set(cli, num);
}

static int opt_exec_cmd(const CriuOpts *o, const char *cli)
{
	return cr_option_exec_cmd(o->exec_cmd, o->n_exec_cmd);
}

static int opt_network_lock(const CriuOpts *o, const char *cli)
{
	static const char *const methods[] = {
		[CRIU_NETWORK_LOCK_METHOD__IPTABLES] = "iptables",
		[CRIU_NETWORK_LOCK_METHOD__NFTABLES] = "nftables",
		[CRIU_NETWORK_LOCK_METHOD__SKIP] = "skip",
	};

	if (o->network_lock > 0 && o->network_lock < (int)ARRAY_SIZE(methods))
		return set(cli, methods[o->network_lock]);
	pr_err("network_lock %d: no such method\n", o->network_lock);
	return -1;
}

static int opt_rpc_only(const CriuOpts *o, const char *cli)
{
	pr_err("%s is not supported yet\n", cli);
	return -1;
}

static const struct field_opt table[] = {
	{ "images_dir_fd", NULL, SKIP },
	{ "work_dir_fd", NULL, SKIP },
	{ "config_file", NULL, SKIP },
	{ "pid", "tree", VALUE },
	{ "leave_running", "leave-running", FLAG },
	{ "leave_stopped", "leave-stopped", FLAG },
	{ "ext_unix_sk", "ext-unix-sk", FLAG },
	{ "tcp_established", "tcp-established", FLAG },
	{ "tcp_close", "tcp-close", FLAG },
	{ "tcp_skip_in_flight", "skip-in-flight", FLAG },
	{ "evasive_devices", "evasive-devices", FLAG },
	{ "shell_job", "shell-job", FLAG },
	{ "file_locks", "file-locks", FLAG },
	{ "log_level", "verbosity", VALUE },
	{ "log_file", "log-file", CUSTOM, opt_log_file },
	{ "log_to_stderr", "log-file", CUSTOM, opt_log_to_stderr },
	{ "ps", "page-server", CUSTOM, opt_page_server },
	{ "notify_scripts", NULL, CUSTOM, opt_notify },
	{ "root", "root", VALUE },
	{ "parent_img", "prev-images-dir", VALUE },
	{ "track_mem", "track-mem", FLAG },
	{ "auto_dedup", "auto-dedup", FLAG },
	{ "link_remap", "link-remap", FLAG },
	{ "veths", "veth-pair", CUSTOM, opt_veths },
	{ "cpu_cap", "cpu-cap", CUSTOM, opt_cpu_cap },
	{ "force_irmap", "force-irmap", FLAG },
	{ "exec_cmd", "exec-cmd", CUSTOM, opt_exec_cmd },
	{ "ext_mnt", "ext-mount-map", CUSTOM, opt_ext_mnt },
	{ "auto_ext_mnt", "ext-mount-map", CUSTOM, opt_auto_ext_mnt },
	{ "ext_sharing", "enable-external-sharing", FLAG },
	{ "ext_masters", "enable-external-masters", FLAG },
	{ "manage_cgroups", "manage-cgroups", FLAG },
	{ "manage_cgroups_mode", "manage-cgroups", CUSTOM, opt_cg_mode },
	{ "cg_root", "cgroup-root", CUSTOM, opt_cg_root },
	{ "cgroup_props", "cgroup-props", VALUE },
	{ "cgroup_props_file", "cgroup-props-file", VALUE },
	{ "cgroup_dump_controller", "cgroup-dump-controller", EACH },
	{ "cgroup_yard", "cgroup-yard", VALUE },
	{ "freeze_cgroup", "freeze-cgroup", VALUE },
	{ "rst_sibling", "restore-sibling", FLAG },
	{ "inherit_fd", "inherit-fd", CUSTOM, opt_inherit_fd },
	{ "skip_mnt", "skip-mnt", EACH },
	{ "enable_fs", "enable-fs", EACH },
	{ "unix_sk_ino", NULL, CUSTOM, opt_unix_sk_ino },
	{ "ghost_limit", "ghost-limit", VALUE },
	{ "irmap_scan_paths", "irmap-scan-path", EACH },
	{ "external", "external", EACH },
	{ "empty_ns", "empty-ns", CUSTOM, opt_empty_ns },
	{ "join_ns", "join-ns", CUSTOM, opt_join_ns },
	{ "timeout", "timeout", CUSTOM, opt_timeout },
	{ "weak_sysctls", "weak-sysctls", FLAG },
	{ "lazy_pages", "lazy-pages", FLAG },
	{ "status_fd", "status-fd", CUSTOM, opt_status_fd },
	{ "orphan_pts_master", "orphan-pts-master", FLAG },
	{ "lsm_profile", "lsm-profile", VALUE },
	{ "lsm_mount_context", "lsm-mount-context", VALUE },
	{ "tls", "tls", FLAG },
	{ "tls_cacert", "tls-cacert", VALUE },
	{ "tls_cacrl", "tls-cacrl", VALUE },
	{ "tls_cert", "tls-cert", VALUE },
	{ "tls_key", "tls-key", VALUE },
	{ "tls_no_cn_verify", "tls-no-cn-verify", FLAG },
	{ "pre_dump_mode", "pre-dump-mode", CUSTOM, opt_pre_dump_mode },
	{ "network_lock", "network-lock", CUSTOM, opt_network_lock },
	{ "pidfd_store_sk", "pidfd_store_sk (a pidfd store for pre-dumps)", CUSTOM, opt_rpc_only },
	{ "mntns_compat_mode", "mntns-compat-mode", FLAG },
	{ "skip_file_rwx_check", "skip-file-rwx-check", FLAG },
	{ "unprivileged", "unprivileged", FLAG },
	{ "display_stats", "display-stats", FLAG },
};

/* Is field f set in message m? (proto2: only what came on the wire) */
static int field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)(base + f->quantifier_offset) != 0;
	if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)(base + f->offset) != NULL;
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return 1;
	return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
}

static int apply_field(const CriuOpts *o, const ProtobufCFieldDescriptor *f, const struct field_opt *fo)
{
	const char *base = (const char *)o;
	char num[24];

	switch (fo->how) {
	case SKIP:
		return 0;
	case CUSTOM:
		return fo->custom(o, fo->cli);
	case FLAG:
		return *(const protobuf_c_boolean *)(base + f->offset) ? set(fo->cli, NULL) : 0;
	case EACH: {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		char *const *v = *(char *const *const *)(base + f->offset);

		for (size_t i = 0; i < n; i++)
			if (set(fo->cli, v[i]))
				return -1;
		return 0;
	}
	case VALUE:
		if (f->type == PROTOBUF_C_TYPE_STRING)
			return set(fo->cli, *(char *const *)(base + f->offset));
		if (f->type == PROTOBUF_C_TYPE_UINT32)
			snprintf(num, sizeof(num), "%u", *(const uint32_t *)(base + f->offset));
		else
			snprintf(num, sizeof(num), "%d", *(const int32_t *)(base + f->offset));
		return set(fo->cli, num);
	}
	return -1;
}

static int is_log_field(const char *name)
{
	return !strcmp(name, "log_level") || !strcmp(name, "log_file") || !strcmp(name, "log_to_stderr");
}

/*
 * The options of a request, but for the dir fds (service.c). First the
 * config file and the log's fields, so that the log is there to tell what
 * is wrong with the rest; then the rest.
 */
int rpc_apply_opts(const CriuOpts *o, bool log_only, const char *action)
{
	const ProtobufCMessageDescriptor *d = o->base.descriptor;

	rpc_action = action;
	/* the request's own fields win over the config file's */
	if (log_only && o->config_file && parse_config_file(o->config_file, true))
		return -1;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const struct field_opt *fo = NULL;
		char name[64];

		if (!field_present(&o->base, f) || is_log_field(f->name) != log_only)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(table); k++)
			if (!strcmp(table[k].field, f->name)) {
				fo = &table[k];
				break;
			}
		if (!fo) {
			pr_err("criu_opts.%s is not supported yet\n", f->name);
			return -1;
		}
		/*
		 * A field that means nothing for this request (rst_sibling in a
		 * DUMP, freeze_cgroup in a RESTORE) is refused as the command
		 * line refuses the option, not taken and forgotten.
		 */
		if (apply_field(o, f, fo) || (snprintf(name, sizeof(name), "criu_opts.%s", f->name),
						cr_option_check_use(rpc_action, name))) {
			pr_err("bad criu_opts.%s in the request\n", f->name);
			return -1;
		}
	}
	return 0;
}

/* A field the schema does not know, anywhere in the message: name it. */
int rpc_unknown_field(const ProtobufCMessage *m, char *buf, size_t len)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (m->n_unknown_fields) {
		snprintf(buf, len, "%s has field %u, which this criu does not know", d->name,
			 m->unknown_fields[0].tag);
		return 1;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);

			for (size_t k = 0; k < n; k++)
				if (rpc_unknown_field(v[k], buf, len))
					return 1;
		} else {
			const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);

			if (sub && rpc_unknown_field(sub, buf, len))
				return 1;
		}
	}
	return 0;
}
