/*
 * Parsers for the fsnotify lines of /proc/PID/fdinfo and for mountinfo.
 * Lines are "prefix key:value key:value ..." with hex values; only the
 * keys we know are read, so later kernels may add some.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fsnotify.h"

/* The value of " key:" in the line (which ends at '\n' or NUL), or NULL. */
static const char *token(const char *line, const char *key)
{
	size_t klen = strlen(key);
	const char *p = line;

	while (*p && *p != '\n') {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return p + klen + 1;
		while (*p && *p != ' ' && *p != '\n')
			p++;
	}
	return NULL;
}

/* A hex number ending at a blank or the end of the line. 0 or -1. */
static int hex_token(const char *line, const char *key, uint64_t max, uint64_t *out)
{
	const char *v = token(line, key);
	char *end;

	if (!v || !((*v >= '0' && *v <= '9') || (*v >= 'a' && *v <= 'f') || (*v >= 'A' && *v <= 'F')))
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 16);
	if (errno || *out > max || (*end && *end != ' ' && *end != '\n'))
		return -1;
	return 0;
}

static int hex_u32(const char *line, const char *key, unsigned int *out)
{
	uint64_t v;

	if (hex_token(line, key, UINT32_MAX, &v))
		return -1;
	*out = v;
	return 0;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* fhandle-bytes, fhandle-type and f_handle; none at all is a handle of 0 bytes. */
static int parse_handle(const char *line, struct fsn_handle *fh)
{
	const char *v;
	unsigned int i, type;

	memset(fh, 0, sizeof(*fh));
	if (!token(line, "fhandle-bytes"))
		return 0;
	if (hex_u32(line, "fhandle-bytes", &fh->bytes) || hex_u32(line, "fhandle-type", &type) ||
	    fh->bytes > FSN_HANDLE_MAX)
		return -1;
	fh->type = (int)type;
	v = token(line, "f_handle");
	if (!v)
		return -1;
	for (i = 0; i < fh->bytes; i++) {
		int hi = nibble(v[2 * i]), lo = hi < 0 ? -1 : nibble(v[2 * i + 1]);

		if (lo < 0)
			return -1;
		fh->data[i] = hi << 4 | lo;
	}
	v += 2 * i;
	return *v && *v != ' ' && *v != '\n' ? -1 : 0;
}

int fsn_parse_inotify_wd(const char *line, struct fsn_inotify_wd *w)
{
	unsigned int wd;

	memset(w, 0, sizeof(*w));
	if (strncmp(line, "inotify ", 8))
		return 0;
	if (hex_u32(line, "wd", &wd) || wd == 0 || wd > INT32_MAX || hex_token(line, "ino", UINT64_MAX, &w->ino) ||
	    hex_u32(line, "sdev", &w->sdev) || hex_u32(line, "mask", &w->mask) ||
	    hex_u32(line, "ignored_mask", &w->ignored_mask) || parse_handle(line, &w->fh))
		return -1;
	w->wd = wd;
	return 1;
}

int fsn_parse_fanotify_group(const char *line, unsigned int *flags, unsigned int *event_flags)
{
	if (strncmp(line, "fanotify ", 9) || !token(line, "event-flags"))
		return 0;
	if (hex_u32(line, "flags", flags) || hex_u32(line, "event-flags", event_flags))
		return -1;
	return 1;
}

int fsn_parse_fanotify_mark(const char *line, struct fsn_fanotify_mark *m)
{
	unsigned int mnt_id;

	memset(m, 0, sizeof(*m));
	m->mnt_id = -1;
	if (strncmp(line, "fanotify ", 9) || token(line, "event-flags"))
		return 0;
	if (hex_u32(line, "mflags", &m->mflags) || hex_u32(line, "mask", &m->mask) ||
	    hex_u32(line, "ignored_mask", &m->ignored_mask))
		return -1;
	if (token(line, "ino")) {
		m->type = FSN_MARK_INODE;
		if (hex_token(line, "ino", UINT64_MAX, &m->ino) || hex_u32(line, "sdev", &m->sdev) ||
		    parse_handle(line, &m->fh))
			return -1;
	} else if (token(line, "mnt_id")) {
		m->type = FSN_MARK_MOUNT;
		if (hex_u32(line, "mnt_id", &mnt_id) || mnt_id > INT32_MAX)
			return -1;
		m->mnt_id = mnt_id;
	} else if (token(line, "sdev")) {
		m->type = FSN_MARK_SB;
		if (hex_u32(line, "sdev", &m->sdev))
			return -1;
	} else {
		return -1;
	}
	return 1;
}

/* A mountinfo path field: up to a blank, with \ooo escapes undone. 0 or -1. */
static int path_field(const char **pp, char *out, size_t size)
{
	const char *p = *pp;
	size_t n = 0;

	while (*p == ' ')
		p++;
	if (!*p || *p == '\n')
		return -1;
	for (; *p && *p != ' ' && *p != '\n'; p++) {
		char c = *p;

		if (c == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			c = (p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0');
			p += 3;
		}
		if (n + 1 >= size)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	*pp = p;
	return 0;
}

int fsn_parse_mountinfo_line(const char *line, struct fsn_mount *m)
{
	const char *p = line;
	char *end;
	long v;

	memset(m, 0, sizeof(*m));
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno || end == p || v < 0 || v > INT32_MAX || *end != ' ')
		return -1;
	m->mnt_id = v;
	p = end;
	strtol(p, &end, 10);		/* parent id */
	if (end == p || *end != ' ')
		return -1;
	p = end;
	v = strtol(p, &end, 10);
	if (end == p || *end != ':' || v < 0)
		return -1;
	m->maj = v;
	p = end + 1;
	v = strtol(p, &end, 10);
	if (end == p || *end != ' ' || v < 0)
		return -1;
	m->min = v;
	p = end;
	if (path_field(&p, m->root, sizeof(m->root)) || path_field(&p, m->point, sizeof(m->point)))
		return -1;
	return 0;
}
