/*
 * "criu show FILE": print any image as JSON.
 *
 * Messages are walked generically through their protobuf-c descriptors, so
 * new fields and new image types need no code here. The whole document is
 * built in memory first, so a corrupt image produces an error and no
 * half-printed JSON. Opening an image checks it whole (image.c); raw
 * images are checked against the checksums of the image next to them
 * that describes them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "csum.h"
#include "image.h"
#include "ipc.pb-c.h"
#include "log.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "proc_parse.h"
#include "sparse.h"

#define INDENT_WIDTH	4

static void print_indent(FILE *f, int depth)
{
	fprintf(f, "%*s", depth * INDENT_WIDTH, "");
}

/* Length of a well-formed UTF-8 sequence at @s (of @left bytes), 0 if bad. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
	size_t len, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (left < len)
		return 0;

	/* Reject overlong forms, surrogates and code points past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* JSON escape for @c, or NULL when it needs none (or a \u one). */
static const char *json_escape(unsigned char c)
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	}
	return NULL;
}

/* Bytes that are not valid UTF-8 come out as \u00XX so the JSON stays valid. */
static void print_json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t left = strlen(str), n;
	const char *esc;

	fputc('"', f);
	while (left) {
		esc = json_escape(*s);
		n = utf8_seq_len(s, left);
		if (esc) {
			fputs(esc, f);
		} else if (*s < 0x20 || n == 0) {
			fprintf(f, "\\u%04x", *s);
			n = 1;
		} else {
			fwrite(s, 1, n, f);
		}
		s += n;
		left -= n;
	}
	fputc('"', f);
}

static void print_hex(FILE *f, const ProtobufCBinaryData *b)
{
	size_t i;

	fputc('"', f);
	for (i = 0; b->data && i < b->len; i++)
		fprintf(f, "%02x", b->data[i]);
	fputc('"', f);
}

/* uint64 fields whose name has one of these words (split on '_') are addresses. */
static bool is_addr_field(const char *name)
{
	static const char *const words[] = {
		"start", "end", "addr", "ip", "sp", "base", "vaddr", "brk",
		"code", "data", "stack", "handler", "restorer",
	};
	const char *p = name;

	while (*p) {
		size_t len = strcspn(p, "_");
		size_t i;

		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i]) == len && !strncmp(p, words[i], len))
				return true;
		p += len;
		if (*p == '_')
			p++;
	}
	return false;
}

static void print_double(FILE *f, double v, const char *fmt)
{
	if (isnan(v))
		fputs("\"nan\"", f);
	else if (isinf(v))
		fputs(v > 0 ? "\"inf\"" : "\"-inf\"", f);
	else
		fprintf(f, fmt, v);
}

static void print_enum(FILE *f, const ProtobufCFieldDescriptor *fd, int v)
{
	const ProtobufCEnumValue *ev;

	ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, v);
	if (ev)
		print_json_string(f, ev->name);
	else
		fprintf(f, "%d", v);	/* unknown value: keep the number */
}

static void print_message(FILE *f, const ProtobufCMessage *m, int depth);

/* Print one value of field @fd stored at @p. */
static void print_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *p, int depth)
{
	const ProtobufCMessage *sub;
	const char *str;
	uint64_t u64;

	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(f, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(f, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		u64 = *(const uint64_t *)p;
		if (is_addr_field(fd->name))
			fprintf(f, "\"0x%" PRIx64 "\"", u64);
		else
			fprintf(f, "%" PRIu64, u64);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		print_double(f, *(const float *)p, "%.9g");
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		print_double(f, *(const double *)p, "%.17g");
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		print_enum(f, fd, *(const int *)p);
		break;
	case PROTOBUF_C_TYPE_STRING:
		str = *(const char *const *)p;
		if (str)
			print_json_string(f, str);
		else
			fputs("null", f);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		print_hex(f, p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		sub = *(const ProtobufCMessage *const *)p;
		if (sub)
			print_message(f, sub, depth);
		else
			fputs("null", f);
		break;
	default:
		fprintf(f, "\"<unsupported type %d>\"", fd->type);
	}
}

/* Size of one element of a repeated field's array. */
static size_t elem_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(uint32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
	default:
		return sizeof(void *);
	}
}

static void print_array(FILE *f, const ProtobufCFieldDescriptor *fd,
			const char *arr, size_t n, int depth)
{
	bool multiline = fd->type == PROTOBUF_C_TYPE_MESSAGE;
	size_t size = elem_size(fd->type);
	size_t i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		if (multiline) {
			fputc('\n', f);
			print_indent(f, depth + 1);
		} else if (i) {
			fputc(' ', f);
		}
		print_value(f, fd, arr + i * size, depth + 1);
	}
	if (multiline) {
		fputc('\n', f);
		print_indent(f, depth);
	}
	fputc(']', f);
}

static bool is_pointer_type(ProtobufCType type)
{
	return type == PROTOBUF_C_TYPE_STRING || type == PROTOBUF_C_TYPE_MESSAGE;
}

/* Whether a non-repeated field holds a value worth printing. */
static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
	const char *base = (const char *)m;
	const void *member = base + fd->offset;

	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
	if (is_pointer_type(fd->type))
		return *(const void *const *)member != NULL;
	if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset)
		return *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
	return true;
}

/* Print the field name and value; returns false when there was nothing to print. */
static bool print_field(FILE *f, const ProtobufCMessage *m,
			const ProtobufCFieldDescriptor *fd, bool first, int depth)
{
	const char *base = (const char *)m;
	const void *member = base + fd->offset;
	const char *arr = NULL;
	size_t n = 0;

	if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
		n = *(const size_t *)(base + fd->quantifier_offset);
		arr = *(const char *const *)member;
		if (!n || !arr)
			return false;
	} else if (!field_present(m, fd)) {
		return false;
	}

	fputs(first ? "\n" : ",\n", f);
	print_indent(f, depth);
	print_json_string(f, fd->name);
	fputs(": ", f);
	if (arr)
		print_array(f, fd, arr, n, depth);
	else
		print_value(f, fd, member, depth);
	return true;
}

static void print_message(FILE *f, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	bool first = true;
	unsigned int i;

	fputc('{', f);
	for (i = 0; i < desc->n_fields; i++)
		if (print_field(f, m, &desc->fields[i], first, depth + 1))
			first = false;
	if (!first) {
		fputc('\n', f);
		print_indent(f, depth);
	}
	fputc('}', f);
}

/* The directory holding @path, opened (for the images that describe a raw one). */
static int open_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("can't open the directory of %s", path);
	return fd;
}

/* The id in a raw image's name ("pages-7.img", "pages-7.1.img": 7). */
static unsigned long raw_id(const char *path)
{
	const char *base = strrchr(path, '/'), *dash;

	base = base ? base + 1 : path;
	dash = strrchr(base, '-');
	return dash ? strtoul(dash + 1, NULL, 10) : 0;
}

/* A compressed frame (--compress): expanded, its pages checked against their checksums. */
static int check_frame(struct cr_img *img, const PagemapEntry *pe, unsigned long nr, const char *by)
{
	size_t len = (size_t)pe->nr_pages * CSUM_PAGE, bad;
	char *frame = malloc(pe->clen), *pages = malloc(len);
	int ret = -1;

	if (!frame || !pages) {
		pr_err("out of memory for a compressed frame\n");
		goto out;
	}
	if (pread(img->fd, frame, pe->clen, pe->off) != (ssize_t)pe->clen) {
		pr_perror("%s: can't read the %u-byte frame at offset %lu", img->path, pe->clen,
			  (unsigned long)pe->off);
		goto out;
	}
	if (decomp_frame(frame, pe->clen, pages, pe->nr_pages)) {
		pr_err("%s: the compressed frame at offset %lu (%s entry #%lu) is damaged\n", img->path,
		       (unsigned long)pe->off, by, nr);
		goto out;
	}
	bad = csum_check_pages(pages, pe->nr_pages, pe->csum);
	if (bad < pe->nr_pages) {
		pr_err("%s: the page at address %lx of the compressed frame at offset %lu (%s entry #%lu) is "
		       "damaged (checksum mismatch)\n", img->path, (unsigned long)(pe->vaddr + bad * CSUM_PAGE),
		       (unsigned long)pe->off, by, nr);
		goto out;
	}
	ret = 0;
out:
	free(frame);
	free(pages);
	return ret;
}

/* Check the pages placed by pagemap entry @pe (#@nr of @by) against their checksums. */
static int check_pm_entry(struct cr_img *img, const PagemapEntry *pe, unsigned long nr, const char *by,
			  off_t size, char *buf)
{
	uint64_t len = (uint64_t)pe->nr_pages * CSUM_PAGE;
	uint64_t stored = pe->has_clen ? pe->clen : len;

	/* no data here: the parent process's pages, or those of the images up the chain */
	if ((pe->has_in_parent && pe->in_parent) || (pe->has_in_prev && pe->in_prev) || (pe->has_lazy && pe->lazy))
		return 0;
	if (pe->n_csum != pe->nr_pages || pe->off % CSUM_PAGE || pe->off + stored > (uint64_t)size ||
	    pe->off + stored < pe->off || (pe->has_clen && (!pe->clen || pe->clen > len))) {
		pr_err("%s: entry #%lu (%u pages at offset %lu, %zu checksums) does not fit %s\n", by, nr,
		       pe->nr_pages, (unsigned long)pe->off, pe->n_csum, img->path);
		return -1;
	}
	if (pe->has_clen)
		return check_frame(img, pe, nr, by);
	for (uint64_t done = 0; done < len; done += 64 * CSUM_PAGE) {
		size_t piece = len - done < 64 * CSUM_PAGE ? len - done : 64 * CSUM_PAGE, bad;

		if (pread(img->fd, buf, piece, pe->off + done) != (ssize_t)piece) {
			pr_perror("%s: can't read %zu bytes at offset %lu", img->path, piece,
				  (unsigned long)(pe->off + done));
			return -1;
		}
		bad = csum_check_pages(buf, piece / CSUM_PAGE, pe->csum + done / CSUM_PAGE);
		if (bad < piece / CSUM_PAGE) {
			pr_err("%s: the page at offset %lu (address %lx, %s entry #%lu) is damaged "
			       "(checksum mismatch)\n", img->path, (unsigned long)(pe->off + done + bad * CSUM_PAGE),
			       (unsigned long)(pe->vaddr + done + bad * CSUM_PAGE), by, nr);
			return -1;
		}
	}
	return 0;
}

/*
 * A pages file is checked against the pagemap that names it, when there
 * is one next to it. Returns 1 (checked, *by names the pagemap), 0 (none
 * found) or -1 (damage, logged).
 */
static int check_pages_file(struct cr_img *img, off_t size, char *by, size_t by_len, bool *compressed)
{
	unsigned long id = raw_id(img->path);
	int dfd = open_dir_of(img->path), ret = 0;
	uint32_t file = img->type == CR_FD_PAGES_1;	/* which of the pagemap's pages files (nr_files) */
	struct dirent *de;
	char *buf = NULL;
	DIR *d;

	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	while (!ret && (ret = next_dirent(d, &de, "the images directory")) > 0) {
		PagemapHead *head;
		struct cr_img *pm;
		char *end;
		long pid;
		void *msg;
		int r = 0;

		ret = 0;
		if (strncmp(de->d_name, "pagemap-", 8))
			continue;
		pid = strtol(de->d_name + 8, &end, 10);
		if (pid <= 0 || strcmp(end, ".img"))
			continue;
		pm = open_image_at(dirfd(d), CR_FD_PAGEMAP, O_RDONLY, (int)pid);
		if (!pm || pb_read_one_required(pm, (void **)&head)) {
			close_image(pm);
			ret = -1;
			break;
		}
		if (head->pages_id != id) {
			pb_free(pm, head);
			close_image(pm);
			continue;
		}
		/* compressed frames (--compress) take what they take: the file need not be whole pages */
		*compressed = head->has_compress && head->compress;
		/* show reads one pagemap at a time: each is checked with its own kind of page checksum */
		csum_reset_kind();
		if (csum_take_kind(head->has_csum_kind ? head->csum_kind : CSUM_KIND_XXH3, de->d_name)) {
			pb_free(pm, head);
			close_image(pm);
			ret = -1;
			break;
		}
		pb_free(pm, head);
		snprintf(by, by_len, "%s", de->d_name);
		buf = buf ?: malloc(64 * CSUM_PAGE);
		ret = buf ? 1 : -1;
		while (ret > 0 && (r = pb_read_one(pm, &msg)) > 0) {
			PagemapEntry *pe = msg;

			/* the entries of this file only */
			if ((pe->has_file ? pe->file : 0) == file && check_pm_entry(img, pe, pm->nr_read - 1, by, size, buf))
				ret = -1;
			pb_free(pm, msg);
		}
		if (r < 0)
			ret = -1;
		close_image(pm);
	}
	free(buf);
	closedir(d);
	return ret;
}

/* A sparse object's bytes, checked against the entry of @type that describes object @id, if any. */
static int check_sparse_file(struct cr_img *img, int type, char *by, size_t by_len)
{
	unsigned long id = raw_id(img->path);
	int dfd = open_dir_of(img->path), ret = 0;
	struct cr_img *desc;
	void *msg;
	int r = 0;

	if (dfd < 0)
		return -1;
	ret = image_exists(dfd, type);
	if (ret <= 0)
		goto out;
	desc = open_image_at(dfd, type, O_RDONLY);
	ret = desc ? 0 : -1;
	while (!ret && desc && (r = pb_read_one(desc, &msg)) > 0) {
		if (type == CR_FD_SHMEM) {
			ShmemEntry *se = msg;

			if (se->id == id)
				ret = load_sparse(img, se->size, NULL, se->csum, se->n_csum) ? -1 : 1;
		} else {
			IpcNsEntry *ns = msg;

			for (size_t i = 0; i < ns->n_shms && !ret; i++)
				if (ns->shms[i]->perm && (unsigned long)ns->shms[i]->perm->id == id)
					ret = load_sparse(img, ns->shms[i]->size, NULL, ns->shms[i]->csum,
							  ns->shms[i]->n_csum) ? -1 : 1;
		}
		pb_free(desc, msg);
	}
	if (r < 0)
		ret = -1;
	if (ret > 0)
		snprintf(by, by_len, "%s", img_descs[type].name_fmt);
	close_image(desc);
out:
	close(dfd);
	return ret;
}

/*
 * A raw image has no entries: say what it is and how big, and check it
 * against the checksums of the image that describes it, when it is there.
 */
static int show_raw(struct cr_img *img, FILE *out)
{
	long page_size = sysconf(_SC_PAGESIZE);
	char by[NAME_MAX + 1] = "", checked[NAME_MAX + 32] = "";
	bool compressed = false;
	struct stat st;
	int ret;

	if (fstat(img->fd, &st)) {
		pr_perror("%s: can't stat", img->path);
		return -1;
	}
	if (page_size <= 0)
		page_size = 4096;
	bool pages = img->type == CR_FD_PAGES || img->type == CR_FD_PAGES_1;

	if (pages)
		ret = check_pages_file(img, st.st_size, by, sizeof(by), &compressed);
	else
		ret = check_sparse_file(img, img->type == CR_FD_SHMEM_PAGES ? CR_FD_SHMEM : CR_FD_IPC_NS, by,
					sizeof(by));
	if (ret < 0)
		return -1;
	if (pages && !compressed && st.st_size % page_size) {
		pr_err("%s: size %lld is not a whole number of %ld-byte pages\n",
		       img->path, (long long)st.st_size, page_size);
		return -1;
	}
	if (ret > 0)
		snprintf(checked, sizeof(checked), ", \"checked_with\": \"%s\"", by);
	if (!pages) {
		/* shmem and SysV bytes: sparse, any size */
		fprintf(out, "{\"magic\": \"%s\", \"size\": %lld%s}\n", img_type_name(img->type),
			(long long)st.st_size, checked);
		return 0;
	}
	fprintf(out, "{\"magic\": \"%s\", \"size\": %lld, \"pages\": %lld%s}\n",
		img_type_name(img->type), (long long)st.st_size,
		(long long)(st.st_size / page_size), checked);
	return 0;
}

/* Print all entries of @img into @f. Returns 0 or -1 (logged by pb_read_one). */
static int show_entries(struct cr_img *img, FILE *f)
{
	unsigned long nr = 0;
	void *msg;
	int ret;

	fprintf(f, "{\n");
	print_indent(f, 1);
	fprintf(f, "\"magic\": \"%s\",\n", img_type_name(img->type));
	print_indent(f, 1);
	fprintf(f, "\"entries\": [");

	while ((ret = pb_read_one(img, &msg)) > 0) {
		fputs(nr++ ? ",\n" : "\n", f);
		print_indent(f, 2);
		print_message(f, msg, 2);
		pb_free(img, msg);
	}
	if (ret < 0)
		return -1;

	if (nr) {
		fputc('\n', f);
		print_indent(f, 1);
	}
	fprintf(f, "]\n}\n");
	return 0;
}

static int flush_output(const char *path, const char *buf, size_t size, FILE *out)
{
	if (fwrite(buf, 1, size, out) != size || fflush(out)) {
		pr_perror("%s: can't write the JSON output", path);
		return -1;
	}
	return 0;
}

int show_image(const char *path, FILE *out)
{
	struct cr_img *img;
	char *buf = NULL;
	size_t size = 0;
	FILE *mem;
	int ret = -1;

	img = open_image_path(path);
	if (!img)
		return -1;

	if (!img_descs[img->type].magic) {
		ret = show_raw(img, out);
		goto out_img;
	}

	mem = open_memstream(&buf, &size);
	if (!mem) {
		pr_perror("%s: can't create the output buffer", path);
		goto out_img;
	}
	ret = show_entries(img, mem);
	if (ferror(mem)) {
		pr_err("%s: can't build the JSON output\n", path);
		ret = -1;
	}
	if (fclose(mem)) {
		pr_perror("%s: can't finish the JSON output", path);
		ret = -1;
	}
	if (!ret)
		ret = flush_output(path, buf, size, out);
	free(buf);
out_img:
	close_image(img);
	return ret;
}
