// SPDX-License-Identifier: GPL-2.0-only
/*
 * Parsers for the /proc files the dumper reads: maps, stat, status and
 * fdinfo.  Every parser works on a NUL-terminated text buffer so that it
 * can be unit tested on canned samples; the pid-based wrappers only read
 * the file and hand its contents over.
 *
 * Numbers are scanned by hand rather than with strtoul() & co: those skip
 * leading blanks, accept signs and "0x" prefixes, and would let malformed
 * input through silently.
 */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "proc_parse.h"

#define PROC_READ_CHUNK		4096
#define DELETED_SUFFIX		" (deleted)"
#define ESCAPED_NEWLINE		"\\012"
#define MAX_ERR_QUOTE		128

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

/* ---------------------------------------------------------------------- */
/* Low-level scanning helpers                                             */
/* ---------------------------------------------------------------------- */

static inline bool is_eol(char c)
{
	return c == '\0' || c == '\n';
}

static inline bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

static size_t line_len(const char *p)
{
	return strchrnul(p, '\n') - p;
}

static int digit_value(char c, unsigned int base)
{
	int d;

	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	else
		return -1;

	return d < (int)base ? d : -1;
}

/*
 * Scan an unsigned number in @base at *pp: at least one digit, no sign,
 * no prefix, no leading blanks, no overflow.  Advances *pp past it.
 */
static int scan_u64(const char **pp, unsigned int base, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	int d;

	if (digit_value(*p, base) < 0)
		return -1;

	while ((d = digit_value(*p, base)) >= 0) {
		if (v > (UINT64_MAX - d) / base)
			return -1;
		v = v * base + d;
		p++;
	}

	*pp = p;
	*out = v;
	return 0;
}

/* A decimal number with an optional leading '-'. */
static int scan_s64(const char **pp, int64_t *out)
{
	const char *p = *pp;
	bool neg = false;
	uint64_t v;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (scan_u64(&p, 10, &v))
		return -1;

	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -1;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return -1;
		*out = v;
	}

	*pp = p;
	return 0;
}

static int scan_int(const char **pp, int *out)
{
	int64_t v;

	if (scan_s64(pp, &v) || v < INT_MIN || v > INT_MAX)
		return -1;
	*out = v;
	return 0;
}

static int scan_u32(const char **pp, unsigned int base, unsigned int *out)
{
	uint64_t v;

	if (scan_u64(pp, base, &v) || v > UINT_MAX)
		return -1;
	*out = v;
	return 0;
}

static int expect_char(const char **pp, char c)
{
	if (**pp != c)
		return -1;
	(*pp)++;
	return 0;
}

/* Only blanks may follow a value before the end of its line. */
static int expect_eol(const char *p)
{
	return is_eol(*skip_blanks(p)) ? 0 : -1;
}

static const char *next_line(const char *p)
{
	p = strchrnul(p, '\n');
	return *p ? p + 1 : p;
}

static void report_bad_line(const char *what, const char *line)
{
	size_t len = line_len(line);

	pr_err("Malformed %s line: '%.*s%s'\n", what,
	       (int)(len > MAX_ERR_QUOTE ? MAX_ERR_QUOTE : len), line,
	       len > MAX_ERR_QUOTE ? "..." : "");
}

/* ---------------------------------------------------------------------- */
/* Reading /proc files                                                    */
/* ---------------------------------------------------------------------- */

static int proc_path(char *buf, size_t size, pid_t pid, const char *name)
{
	int n;

	if (pid < 0) {
		pr_err("Bad pid %d for /proc/%s\n", pid, name);
		errno = EINVAL;
		return -1;
	}

	if (pid == 0)
		n = snprintf(buf, size, "/proc/self/%s", name);
	else
		n = snprintf(buf, size, "/proc/%d/%s", pid, name);

	if (n < 0 || (size_t)n >= size) {
		pr_err("Path /proc/%d/%s is too long\n", pid, name);
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Make room for at least one more byte plus the terminating NUL. */
static int grow_read_buf(char **buf, size_t *size, size_t used)
{
	size_t new_size;
	char *tmp;

	if (used + 1 < *size)
		return 0;

	if (*size > SIZE_MAX / 2) {
		errno = EFBIG;
		return -1;
	}
	new_size = *size ? *size * 2 : PROC_READ_CHUNK;
	tmp = realloc(*buf, new_size);
	if (!tmp)
		return -1;

	*buf = tmp;
	*size = new_size;
	return 0;
}

/*
 * Files in /proc report st_size == 0 and are generated on the fly, so
 * just read until EOF with a doubling buffer.
 */
int next_dirent(DIR *d, struct dirent **de, const char *what)
{
	errno = 0;
	*de = readdir(d);
	if (*de)
		return 1;
	if (!errno)
		return 0;
	pr_perror("can't list %s", what);
	return -1;
}

char *read_proc_file(pid_t pid, const char *name, size_t *len)
{
	char path[PATH_MAX];
	char *buf = NULL;
	size_t size = 0, used = 0;
	ssize_t ret;
	int fd, saved_errno;

	if (proc_path(path, sizeof(path), pid, name))
		return NULL;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open %s", path);
		return NULL;
	}

	for (;;) {
		if (grow_read_buf(&buf, &size, used)) {
			pr_perror("Can't allocate buffer for %s", path);
			goto err;
		}

		ret = read(fd, buf + used, size - used - 1);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("Can't read %s", path);
			goto err;
		}
		if (ret == 0)
			break;
		used += ret;
	}

	if (close(fd)) {
		pr_perror("Can't close %s", path);
		fd = -1;
		goto err;
	}

	buf[used] = '\0';
	if (len)
		*len = used;
	return buf;

err:
	saved_errno = errno;
	free(buf);
	if (fd >= 0)
		close(fd);
	errno = saved_errno;
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* /proc/PID/maps                                                         */
/* ---------------------------------------------------------------------- */

static int scan_perms(const char **pp, struct proc_vma *v)
{
	const char *p = *pp;

	if (p[0] != 'r' && p[0] != '-')
		return -1;
	if (p[1] != 'w' && p[1] != '-')
		return -1;
	if (p[2] != 'x' && p[2] != '-')
		return -1;
	if (p[3] != 'p' && p[3] != 's')
		return -1;

	v->prot = PROT_NONE;
	if (p[0] == 'r')
		v->prot |= PROT_READ;
	if (p[1] == 'w')
		v->prot |= PROT_WRITE;
	if (p[2] == 'x')
		v->prot |= PROT_EXEC;
	v->shared = p[3] == 's';

	*pp = p + 4;
	return 0;
}

/*
 * Copy the name running from @p to the end of the line, undoing the
 * kernel's "\012" escaping of newlines and stripping a trailing
 * " (deleted)".
 */
static char *dup_vma_name(const char *p, bool *deleted)
{
	size_t len = line_len(p), esc_len = strlen(ESCAPED_NEWLINE);
	size_t suffix_len = strlen(DELETED_SUFFIX);
	size_t i, o = 0;
	char *name;

	name = malloc(len + 1);
	if (!name) {
		pr_perror("Can't allocate %zu bytes for a vma name", len + 1);
		return NULL;
	}

	for (i = 0; i < len; i++) {
		if (len - i >= esc_len && !memcmp(p + i, ESCAPED_NEWLINE, esc_len)) {
			name[o++] = '\n';
			i += esc_len - 1;
			continue;
		}
		name[o++] = p[i];
	}
	name[o] = '\0';

	*deleted = false;
	if (o > suffix_len && !strcmp(name + o - suffix_len, DELETED_SUFFIX)) {
		name[o - suffix_len] = '\0';
		*deleted = true;
	}
	return name;
}

/* "start-end perms offset maj:min inode" */
static int scan_vma_header(const char **pp, struct proc_vma *v)
{
	const char *p = *pp;

	if (scan_u64(&p, 16, &v->start) || expect_char(&p, '-') ||
	    scan_u64(&p, 16, &v->end) || expect_char(&p, ' ') ||
	    scan_perms(&p, v) || expect_char(&p, ' ') ||
	    scan_u64(&p, 16, &v->pgoff) || expect_char(&p, ' ') ||
	    scan_u32(&p, 16, &v->dev_maj) || expect_char(&p, ':') ||
	    scan_u32(&p, 16, &v->dev_min) || expect_char(&p, ' ') ||
	    scan_u64(&p, 10, &v->ino))
		return -1;

	if (v->start >= v->end)
		return -1;

	*pp = p;
	return 0;
}

int parse_maps_line(const char *line, struct proc_vma *v)
{
	const char *p = line;

	memset(v, 0, sizeof(*v));

	if (scan_vma_header(&p, v))
		goto bad;

	/* The inode is followed by the end of line or by padding blanks. */
	if (!is_eol(*p) && *p != ' ')
		goto bad;
	while (*p == ' ')
		p++;
	if (is_eol(*p))
		return 0;

	v->name = dup_vma_name(p, &v->deleted);
	if (!v->name) {
		memset(v, 0, sizeof(*v));
		return -1;
	}
	return 0;

bad:
	report_bad_line("maps", line);
	memset(v, 0, sizeof(*v));
	errno = EINVAL;
	return -1;
}

static int grow_vmas(struct proc_vma **vmas, int *cap)
{
	struct proc_vma *tmp;
	int new_cap;

	if (*cap > INT_MAX / 2) {
		pr_err("Too many vmas\n");
		errno = EOVERFLOW;
		return -1;
	}
	new_cap = *cap ? *cap * 2 : 64;

	tmp = realloc(*vmas, new_cap * sizeof(**vmas));
	if (!tmp) {
		pr_perror("Can't grow the vma array to %d entries", new_cap);
		return -1;
	}

	*vmas = tmp;
	*cap = new_cap;
	return 0;
}

int parse_maps_buf(const char *buf, struct proc_vma **vmas, int *nr)
{
	struct proc_vma *arr = NULL;
	int n = 0, cap = 0;
	const char *p;

	*vmas = NULL;
	*nr = 0;

	for (p = buf; *p; p = next_line(p)) {
		if (n == cap && grow_vmas(&arr, &cap))
			goto err;
		if (parse_maps_line(p, &arr[n]))
			goto err;
		n++;
	}

	*vmas = arr;
	*nr = n;
	return 0;

err:
	free_maps(arr, n);
	return -1;
}

int parse_maps(pid_t pid, struct proc_vma **vmas, int *nr)
{
	char *buf;
	int ret;

	buf = read_proc_file(pid, "maps", NULL);
	if (!buf)
		return -1;

	ret = parse_maps_buf(buf, vmas, nr);
	if (ret)
		pr_err("Can't parse maps of %d\n", pid);
	free(buf);
	return ret;
}

/* A smaps line of an area's own: "Key: value", the key starting with a capital. */
static bool smaps_key(const char *p, const char *key, size_t len)
{
	return !strncmp(p, key, len);
}

int parse_smaps_buf(const char *buf, struct proc_vma **vmas, int *nr)
{
	struct proc_vma *arr = NULL;
	int n = 0, cap = 0;
	const char *p;

	*vmas = NULL;
	*nr = 0;
	for (p = buf; *p; p = next_line(p)) {
		/* an area's header is a maps line: it starts with a hex digit, the keys with a capital */
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) {
			if (n == cap && grow_vmas(&arr, &cap))
				goto err;
			if (parse_maps_line(p, &arr[n]))
				goto err;
			arr[n].kpage_kb = 4;
			n++;
			continue;
		}
		if (!n)
			goto bad;
		if (smaps_key(p, "VmFlags:", 8))
			arr[n - 1].vmflags = p + 8;
		else if (smaps_key(p, "KernelPageSize:", 15))
			arr[n - 1].kpage_kb = strtoul(p + 15, NULL, 10);
		else if (smaps_key(p, "ProtectionKey:", 14))
			arr[n - 1].pkey = strtoul(p + 14, NULL, 10);
	}
	*vmas = arr;
	*nr = n;
	return 0;
bad:
	report_bad_line("smaps", p);
	errno = EINVAL;
err:
	free_maps(arr, n);
	return -1;
}

int parse_smaps(pid_t pid, struct proc_vma **vmas, int *nr, char **text)
{
	char *buf = read_proc_file(pid, "smaps", NULL);

	*text = NULL;
	if (!buf)
		return -1;
	if (parse_smaps_buf(buf, vmas, nr)) {
		pr_err("Can't parse smaps of %d\n", pid);
		free(buf);
		return -1;
	}
	*text = buf;
	return 0;
}

void free_maps(struct proc_vma *vmas, int nr)
{
	int i;

	if (!vmas)
		return;
	for (i = 0; i < nr; i++)
		free(vmas[i].name);
	free(vmas);
}

/* ---------------------------------------------------------------------- */
/* /proc/PID/stat                                                         */
/* ---------------------------------------------------------------------- */

/* The last field we need; later ones (future kernels) are ignored. */
#define STAT_LAST_FIELD	52

enum stat_kind {
	STAT_INT,
	STAT_LONG,
	STAT_ULONG,
	STAT_U64,
};

struct stat_field {
	int no;			/* field number as in proc(5) */
	enum stat_kind kind;
	size_t off;
};

#define SF(n, k, f) { n, k, offsetof(struct proc_pid_stat, f) }

static const struct stat_field stat_fields[] = {
	SF(4,  STAT_INT,   ppid),
	SF(5,  STAT_INT,   pgid),
	SF(6,  STAT_INT,   sid),
	SF(7,  STAT_INT,   tty_nr),
	SF(8,  STAT_INT,   tpgid),
	SF(9,  STAT_ULONG, flags),
	SF(20, STAT_LONG,  num_threads),
	SF(22, STAT_U64,   start_time),
	SF(26, STAT_U64,   start_code),
	SF(27, STAT_U64,   end_code),
	SF(28, STAT_U64,   start_stack),
	SF(38, STAT_INT,   exit_signal),
	SF(45, STAT_U64,   start_data),
	SF(46, STAT_U64,   end_data),
	SF(47, STAT_U64,   start_brk),
	SF(48, STAT_U64,   arg_start),
	SF(49, STAT_U64,   arg_end),
	SF(50, STAT_U64,   env_start),
	SF(51, STAT_U64,   env_end),
	SF(52, STAT_INT,   exit_code),
};

#undef SF

/*
 * Numeric stat fields are mostly unsigned, but some (tpgid, nice, ...)
 * can be negative.  Keep the raw 64-bit pattern plus the sign so that
 * every field can be range checked for its destination type.
 */
struct stat_value {
	uint64_t u;
	bool neg;
};

static int scan_stat_value(const char **pp, struct stat_value *sv)
{
	int64_t s;

	if (**pp != '-') {
		sv->neg = false;
		return scan_u64(pp, 10, &sv->u);
	}
	if (scan_s64(pp, &s))
		return -1;
	sv->neg = true;
	sv->u = (uint64_t)s;
	return 0;
}

static int store_stat_field(const struct stat_field *f, const struct stat_value *sv,
			    struct proc_pid_stat *s)
{
	void *dst = (char *)s + f->off;
	int64_t sval = (int64_t)sv->u;

	switch (f->kind) {
	case STAT_INT:
		if (sv->neg ? sval < INT_MIN : sv->u > INT_MAX)
			return -1;
		*(int *)dst = sval;
		return 0;
	case STAT_LONG:
		if (!sv->neg && sv->u > LONG_MAX)
			return -1;
		*(long *)dst = sval;
		return 0;
	case STAT_ULONG:
		if (sv->neg)
			return -1;
		*(unsigned long *)dst = sv->u;
		return 0;
	case STAT_U64:
		if (sv->neg)
			return -1;
		*(uint64_t *)dst = sv->u;
		return 0;
	}
	return -1;
}

/* "pid (comm) state": comm may hold anything, so look for the LAST ')'. */
static int scan_stat_head(const char **pp, struct proc_pid_stat *s)
{
	const char *p = *pp, *close;
	size_t len;

	if (scan_int(&p, &s->pid) || s->pid <= 0 ||
	    expect_char(&p, ' ') || expect_char(&p, '('))
		return -1;

	close = strrchr(p, ')');
	if (!close)
		return -1;

	len = close - p;
	if (len >= sizeof(s->comm))
		len = sizeof(s->comm) - 1;
	memcpy(s->comm, p, len);
	s->comm[len] = '\0';

	p = close + 1;
	if (expect_char(&p, ' ') || is_eol(*p) || is_blank(*p))
		return -1;
	s->state = *p++;

	*pp = p;
	return 0;
}

int parse_pid_stat_buf(const char *buf, struct proc_pid_stat *s)
{
	struct stat_value sv;
	const char *p = buf;
	size_t fi = 0;
	int no;

	memset(s, 0, sizeof(*s));

	if (scan_stat_head(&p, s))
		goto bad;

	for (no = 4; no <= STAT_LAST_FIELD; no++) {
		if (expect_char(&p, ' ') || scan_stat_value(&p, &sv))
			goto bad;
		if (fi < ARRAY_SIZE(stat_fields) && stat_fields[fi].no == no) {
			if (store_stat_field(&stat_fields[fi], &sv, s))
				goto bad;
			fi++;
		}
	}

	if (!is_eol(*p) && *p != ' ')
		goto bad;
	return 0;

bad:
	report_bad_line("stat", buf);
	memset(s, 0, sizeof(*s));
	errno = EINVAL;
	return -1;
}

int parse_pid_stat(pid_t pid, struct proc_pid_stat *s)
{
	char *buf;
	int ret;

	buf = read_proc_file(pid, "stat", NULL);
	if (!buf)
		return -1;

	ret = parse_pid_stat_buf(buf, s);
	if (ret)
		pr_err("Can't parse stat of %d\n", pid);
	free(buf);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* "Key:<blanks>value" files: status and fdinfo                           */
/* ---------------------------------------------------------------------- */

enum kv_kind {
	KV_STATE,	/* first non-blank char, the rest is a comment */
	KV_INT,		/* decimal int */
	KV_DEC_U64,
	KV_HEX_U64,
	KV_OCT_U32,
	KV_UMASK,	/* octal, stored in an int */
	KV_IDS4,	/* four unsigned ids: real, effective, saved, fs */
	KV_GROUPS,	/* list of gids, only valid for struct proc_status */
	KV_KB,		/* decimal u64 followed by " kB" */
};

struct kv_field {
	const char *key;
	enum kv_kind kind;
	size_t off;
	bool required;
};

static int scan_ids4(const char *p, unsigned int *ids)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (i && !is_blank(*p))
			return -1;
		p = skip_blanks(p);
		if (scan_u32(&p, 10, &ids[i]))
			return -1;
	}
	return expect_eol(p);
}

static int push_group(struct proc_status *st, int *cap, unsigned int gid)
{
	unsigned int *tmp;
	int new_cap;

	if (st->ngroups < *cap) {
		st->groups[st->ngroups++] = gid;
		return 0;
	}

	if (*cap >= PROC_MAX_GROUPS) {
		pr_err("More than %d supplementary groups\n", PROC_MAX_GROUPS);
		return -1;
	}
	new_cap = *cap ? *cap * 2 : 16;
	if (new_cap > PROC_MAX_GROUPS)
		new_cap = PROC_MAX_GROUPS;

	tmp = realloc(st->groups, new_cap * sizeof(*tmp));
	if (!tmp) {
		pr_perror("Can't grow the groups array to %d entries", new_cap);
		return -1;
	}
	st->groups = tmp;
	*cap = new_cap;
	st->groups[st->ngroups++] = gid;
	return 0;
}

static int scan_groups(const char *p, struct proc_status *st)
{
	unsigned int gid;
	int cap = 0;

	for (p = skip_blanks(p); !is_eol(*p); p = skip_blanks(p)) {
		if (scan_u32(&p, 10, &gid))
			return -1;
		if (!is_eol(*p) && !is_blank(*p))
			return -1;
		if (push_group(st, &cap, gid))
			return -1;
	}
	return 0;
}

static int scan_kv_value(const struct kv_field *f, const char *p, void *obj)
{
	void *dst = (char *)obj + f->off;
	unsigned int u32;
	uint64_t u64;

	switch (f->kind) {
	case KV_STATE:
		if (is_eol(*p))
			return -1;
		*(char *)dst = *p;
		return 0;
	case KV_INT:
		if (scan_int(&p, dst))
			return -1;
		break;
	case KV_DEC_U64:
	case KV_HEX_U64:
		if (scan_u64(&p, f->kind == KV_HEX_U64 ? 16 : 10, &u64))
			return -1;
		*(uint64_t *)dst = u64;
		break;
	case KV_OCT_U32:
		if (scan_u32(&p, 8, dst))
			return -1;
		break;
	case KV_UMASK:
		if (scan_u32(&p, 8, &u32) || u32 > 0777)
			return -1;
		*(int *)dst = u32;
		break;
	case KV_KB:
		if (scan_u64(&p, 10, &u64))
			return -1;
		p = skip_blanks(p);
		if (strncmp(p, "kB", 2))
			return -1;
		p += 2;
		*(uint64_t *)dst = u64;
		break;
	case KV_IDS4:
		return scan_ids4(p, dst);
	case KV_GROUPS:
		return scan_groups(p, obj);
	}
	return expect_eol(p);
}

static const struct kv_field *find_kv_field(const struct kv_field *tbl, size_t n,
					    const char *key, size_t key_len, size_t *idx)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strlen(tbl[i].key) == key_len && !memcmp(tbl[i].key, key, key_len)) {
			*idx = i;
			return &tbl[i];
		}
	}
	return NULL;
}

/*
 * Walk "Key: value" lines and fill @obj according to @tbl (at most 64
 * entries).  Unknown keys and lines without a colon are skipped, since
 * the kernel keeps adding new ones; a known key with a bad value, a
 * known key given twice or a missing required key is an error.
 */
static int parse_kv_buf(const char *what, const char *buf,
			const struct kv_field *tbl, size_t n, void *obj)
{
	const struct kv_field *f;
	const char *p, *colon;
	uint64_t seen = 0;
	size_t i;

	for (p = buf; *p; p = next_line(p)) {
		colon = memchr(p, ':', line_len(p));
		if (!colon)
			continue;
		f = find_kv_field(tbl, n, p, colon - p, &i);
		if (!f)
			continue;
		if ((seen & (1ULL << i)) || scan_kv_value(f, skip_blanks(colon + 1), obj)) {
			report_bad_line(what, p);
			errno = EINVAL;
			return -1;
		}
		seen |= 1ULL << i;
	}

	for (i = 0; i < n; i++) {
		if (tbl[i].required && !(seen & (1ULL << i))) {
			pr_err("No '%s' in %s\n", tbl[i].key, what);
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

#define KV(k, kind, type, f, req) { k, kind, offsetof(type, f), req }

/* ---------------------------------------------------------------------- */
/* /proc/PID/status                                                       */
/* ---------------------------------------------------------------------- */

#define ST(k, kind, f, req) KV(k, kind, struct proc_status, f, req)

static const struct kv_field status_fields[] = {
	ST("State",	 KV_STATE,   state,	 true),
	ST("Tgid",	 KV_INT,     tgid,	 true),
	ST("Pid",	 KV_INT,     pid,	 true),
	ST("PPid",	 KV_INT,     ppid,	 true),
	ST("TracerPid",	 KV_INT,     tracer_pid, false),
	ST("Uid",	 KV_IDS4,    uid,	 true),
	ST("Gid",	 KV_IDS4,    gid,	 true),
	ST("Groups",	 KV_GROUPS,  groups,	 false),
	ST("SigPnd",	 KV_HEX_U64, sigpnd,	 false),
	ST("ShdPnd",	 KV_HEX_U64, shdpnd,	 false),
	ST("SigBlk",	 KV_HEX_U64, sigblk,	 false),
	ST("SigIgn",	 KV_HEX_U64, sigign,	 false),
	ST("SigCgt",	 KV_HEX_U64, sigcgt,	 false),
	ST("CapInh",	 KV_HEX_U64, cap_inh,	 false),
	ST("CapPrm",	 KV_HEX_U64, cap_prm,	 false),
	ST("CapEff",	 KV_HEX_U64, cap_eff,	 false),
	ST("CapBnd",	 KV_HEX_U64, cap_bnd,	 false),
	ST("CapAmb",	 KV_HEX_U64, cap_amb,	 false),
	ST("Threads",	 KV_INT,     threads,	 false),
	ST("FDSize",	 KV_INT,     fdsize,	 false),
	ST("Umask",	 KV_UMASK,   umask,	 false),
	ST("Seccomp",	 KV_INT,     seccomp,	 false),
	ST("NoNewPrivs", KV_INT,     nonewprivs, false),
	ST("VmLck",	 KV_KB,      vm_lck_kb,	 false),
};

#undef ST

int parse_pid_status_buf(const char *buf, struct proc_status *st)
{
	memset(st, 0, sizeof(*st));
	st->umask = -1;
	st->vm_lck_kb = UINT64_MAX;

	if (parse_kv_buf("status", buf, status_fields,
			 ARRAY_SIZE(status_fields), st)) {
		free_pid_status(st);
		return -1;
	}
	return 0;
}

int parse_pid_status(pid_t pid, struct proc_status *st)
{
	char *buf;
	int ret;

	buf = read_proc_file(pid, "status", NULL);
	if (!buf) {
		memset(st, 0, sizeof(*st));
		return -1;
	}

	ret = parse_pid_status_buf(buf, st);
	if (ret)
		pr_err("Can't parse status of %d\n", pid);
	free(buf);
	return ret;
}

void free_pid_status(struct proc_status *st)
{
	free(st->groups);
	st->groups = NULL;
	st->ngroups = 0;
}

/* ---------------------------------------------------------------------- */
/* /proc/PID/fdinfo/FD                                                    */
/* ---------------------------------------------------------------------- */

#define FI(k, kind, f, req) KV(k, kind, struct proc_fdinfo, f, req)

static const struct kv_field fdinfo_fields[] = {
	FI("pos",    KV_DEC_U64, pos,	 true),
	FI("flags",  KV_OCT_U32, flags,	 true),
	FI("mnt_id", KV_INT,     mnt_id, false),
	FI("ino",    KV_DEC_U64, ino,	 false),
};

#undef FI
#undef KV

int parse_fdinfo_buf(const char *buf, struct proc_fdinfo *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->mnt_id = -1;

	if (parse_kv_buf("fdinfo", buf, fdinfo_fields,
			 ARRAY_SIZE(fdinfo_fields), fi)) {
		memset(fi, 0, sizeof(*fi));
		fi->mnt_id = -1;
		return -1;
	}
	return 0;
}

int parse_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi)
{
	char name[32];
	char *buf;
	int ret;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	buf = read_proc_file(pid, name, NULL);
	if (!buf)
		return -1;

	ret = parse_fdinfo_buf(buf, fi);
	if (ret)
		pr_err("Can't parse fdinfo %d of %d\n", fd, pid);
	free(buf);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Lock lines of /proc/locks and fdinfo                                   */
/* ---------------------------------------------------------------------- */

/* A word up to the next blank; fails on an empty or too long one. */
static int scan_word(const char **pp, char *out, size_t size)
{
	const char *p = *pp;
	size_t n = 0;

	while (!is_eol(p[n]) && !is_blank(p[n]))
		n++;
	if (!n || n >= size)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	*pp = p + n;
	return 0;
}

static int scan_lock_fields(const char *p, struct proc_lock *l)
{
	uint64_t v;

	/* the number of the lock, then "->" for a task blocked on it */
	if (scan_u64(&p, 10, &v) || expect_char(&p, ':'))
		return -1;
	p = skip_blanks(p);
	if (!strncmp(p, "->", 2)) {
		l->waiter = true;
		p = skip_blanks(p + 2);
	}
	if (scan_word(&p, l->kind, sizeof(l->kind)))
		return -1;
	p = skip_blanks(p);
	if (scan_word(&p, l->mode, sizeof(l->mode)))
		return -1;
	p = skip_blanks(p);
	if (scan_word(&p, l->type, sizeof(l->type)))
		return -1;
	p = skip_blanks(p);
	if (scan_int(&p, &l->pid))
		return -1;
	p = skip_blanks(p);
	/* MAJ:MIN:INO, major and minor in hex */
	if (scan_u32(&p, 16, &l->maj) || expect_char(&p, ':') || scan_u32(&p, 16, &l->min) ||
	    expect_char(&p, ':') || scan_u64(&p, 10, &l->ino))
		return -1;
	p = skip_blanks(p);
	if (scan_u64(&p, 10, &l->start))
		return -1;
	p = skip_blanks(p);
	if (!strncmp(p, "EOF", 3)) {
		l->end = UINT64_MAX;
		p += 3;
	} else if (scan_u64(&p, 10, &l->end) || l->end < l->start) {
		return -1;
	}
	return expect_eol(p);
}

int parse_lock_line(const char *line, struct proc_lock *l)
{
	memset(l, 0, sizeof(*l));
	if (!strncmp(line, "lock:", 5))
		line = skip_blanks(line + 5);
	if (scan_lock_fields(skip_blanks(line), l)) {
		report_bad_line("lock", line);
		memset(l, 0, sizeof(*l));
		return -1;
	}
	return 0;
}
