/*
 * Options about mounts: external mounts by key, and filesystems that may
 * be made anew.
 *
 * An external mount is named twice. At dump, --external mnt[MOUNTPOINT]:KEY
 * (or -M MOUNTPOINT:KEY) says that the mount at MOUNTPOINT is not ours to
 * save: only KEY goes into the image. At restore, --external mnt[KEY]:PATH
 * (or -M KEY:PATH) says where KEY is on this host; criu binds PATH there.
 * Keys that name nothing are ignored: runc passes every device path.
 * "-M auto" (LXC) is accepted at both ends: mounts of filesystems criu's
 * own namespace has are found there by themselves (see mnt-dump.c), and
 * at restore their device and inode numbers are then not checked, so a
 * host with the same paths will do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_options.h"
#include "log.h"
#include "mnt.h"
#include "mntns.h"

#define MAX_EXT_MNT	512
#define MAX_ENABLED_FS	16

static struct {
	char *key, *val;
	bool used;
} ext[MAX_EXT_MNT];
static int nr_ext;
static bool ext_auto;
static char *enabled_fs[MAX_ENABLED_FS];
static int nr_enabled_fs;

static int add_pair(const char *key, size_t klen, const char *val, const char *arg)
{
	if (!klen || !*val) {
		pr_err("bad external mount '%s': expected KEY:VALUE\n", arg);
		return -1;
	}
	if (nr_ext == MAX_EXT_MNT) {
		pr_err("too many external mounts (at most %d)\n", MAX_EXT_MNT);
		return -1;
	}
	for (int i = 0; i < nr_ext; i++)
		if (strlen(ext[i].key) == klen && !strncmp(ext[i].key, key, klen)) {
			/* runc names /dev/null both as a masked path and as a device */
			if (!strcmp(ext[i].val, val))
				return 0;
			pr_err("external mount key %.*s given twice (%s and %s)\n",
			       (int)klen, key, ext[i].val, val);
			return -1;
		}
	ext[nr_ext].key = strndup(key, klen);
	ext[nr_ext].val = strdup(val);
	if (!ext[nr_ext].key || !ext[nr_ext].val) {
		pr_err("out of memory\n");
		return -1;
	}
	nr_ext++;
	return 0;
}

int mnt_opt_external(const char *arg)
{
	const char *end;

	if (strncmp(arg, "mnt[", 4) || !(end = strstr(arg + 4, "]:"))) {
		pr_err("bad --external '%s': expected mnt[KEY]:VALUE\n", arg);
		return -1;
	}
	return add_pair(arg + 4, end - arg - 4, end + 2, arg);
}

int mnt_opt_ext_map(const char *arg)
{
	const char *colon = strchr(arg, ':');

	if (!strcmp(arg, "auto")) {
		ext_auto = true;
		return 0;
	}
	if (!colon) {
		pr_err("bad --ext-mount-map '%s': expected KEY:VALUE or auto\n", arg);
		return -1;
	}
	return add_pair(arg, colon - arg, colon + 1, arg);
}

int mnt_opt_enable_fs(const char *arg)
{
	char *list = strdup(arg), *tok, *save = NULL;

	if (!list)
		return -1;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nr_enabled_fs == MAX_ENABLED_FS) {
			pr_err("too many --enable-fs filesystems (at most %d)\n", MAX_ENABLED_FS);
			free(list);
			return -1;
		}
		enabled_fs[nr_enabled_fs] = strdup(tok);
		if (!enabled_fs[nr_enabled_fs++]) {
			free(list);
			return -1;
		}
	}
	free(list);
	return 0;
}

bool mnt_fs_enabled(const char *fstype)
{
	for (int i = 0; i < nr_enabled_fs; i++)
		if (!strcmp(enabled_fs[i], fstype) || !strcmp(enabled_fs[i], "all"))
			return true;
	return false;
}

/* Keys may be given with or without the leading slash of a path ("dev/null", "/dev/null"). */
static bool key_is(const char *key, const char *want)
{
	if (!strcmp(key, want))
		return true;
	return key[0] == '/' && want[0] != '/' ? !strcmp(key + 1, want) :
	       want[0] == '/' && key[0] != '/' ? !strcmp(key, want + 1) : false;
}

const char *mnt_ext_key(const char *mountpoint)
{
	for (int i = 0; i < nr_ext; i++)
		if (key_is(ext[i].key, mountpoint)) {
			ext[i].used = true;
			return ext[i].val;
		}
	return NULL;
}

const char *mnt_ext_path(const char *key)
{
	for (int i = 0; i < nr_ext; i++)
		if (!strcmp(ext[i].key, key)) {
			ext[i].used = true;
			return ext[i].val;
		}
	return NULL;
}

void mnt_ext_report_unused(void)
{
	for (int i = 0; i < nr_ext; i++)
		if (!ext[i].used)
			pr_info("external mount %s:%s names no mount of the tree: ignored\n", ext[i].key, ext[i].val);
}

bool mnt_ext_auto(void)
{
	return ext_auto;
}

bool mnt_ext_sharing(void)
{
	return opts.enable_external_sharing;
}

bool mnt_ext_masters(void)
{
	return opts.enable_external_masters;
}

void mnt_opt_free(void)
{
	for (int i = 0; i < nr_ext; i++) {
		free(ext[i].key);
		free(ext[i].val);
	}
	nr_ext = 0;
	for (int i = 0; i < nr_enabled_fs; i++)
		free(enabled_fs[i]);
	nr_enabled_fs = 0;
}
