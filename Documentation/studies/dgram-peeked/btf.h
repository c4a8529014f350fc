/* Minimal vmlinux BTF reader: struct member offsets (through anonymous members), func ids. No libbpf. */
#include <linux/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *btf_raw;
static struct btf_header *btf_hdr;
static const struct btf_type **btf_types;
static int btf_n;

static const char *bname(unsigned off)
{
	return (char *)btf_raw + btf_hdr->hdr_len + btf_hdr->str_off + off;
}

static int btf_load(void)
{
	FILE *f = fopen("/sys/kernel/btf/vmlinux", "r");
	size_t cap = 1 << 24, n = 0, r;

	if (!f)
		return -1;
	btf_raw = malloc(cap);
	while ((r = fread(btf_raw + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			btf_raw = realloc(btf_raw, cap *= 2);
	}
	fclose(f);
	btf_hdr = (void *)btf_raw;
	char *p = btf_raw + btf_hdr->hdr_len + btf_hdr->type_off, *end = p + btf_hdr->type_len;
	btf_types = calloc(1 << 20, sizeof(*btf_types));
	btf_n = 1;
	while (p < end) {
		const struct btf_type *t = (void *)p;
		int vlen = BTF_INFO_VLEN(t->info);
		btf_types[btf_n++] = t;
		p += sizeof(*t);
		switch (BTF_INFO_KIND(t->info)) {
		case BTF_KIND_INT: p += 4; break;
		case BTF_KIND_ARRAY: p += 12; break;
		case BTF_KIND_STRUCT: case BTF_KIND_UNION: p += vlen * 12; break;
		case BTF_KIND_ENUM: p += vlen * 8; break;
		case BTF_KIND_FUNC_PROTO: p += vlen * 8; break;
		case BTF_KIND_VAR: p += 4; break;
		case BTF_KIND_DATASEC: p += vlen * 12; break;
		case 17 /* DECL_TAG */: p += 4; break;
		case 19 /* ENUM64 */: p += vlen * 12; break;
		default: break;
		}
	}
	return 0;
}

static int btf_find(const char *name, int kind)
{
	for (int i = 1; i < btf_n; i++)
		if (BTF_INFO_KIND(btf_types[i]->info) == kind && !strcmp(bname(btf_types[i]->name_off), name))
			return i;
	return -1;
}

static int btf_skip_mods(int id)
{
	for (;;) {
		int k = BTF_INFO_KIND(btf_types[id]->info);
		if (k == BTF_KIND_TYPEDEF || k == BTF_KIND_CONST || k == BTF_KIND_VOLATILE || k == BTF_KIND_RESTRICT ||
		    k == 18)
			id = btf_types[id]->type;
		else
			return id;
	}
}

/* bit offset of member @m in struct id @sid, searching anonymous members; -1 if none */
static long btf_member_bits(int sid, const char *m, int *bitsz)
{
	const struct btf_type *t = btf_types[sid];
	const struct btf_member *mb = (void *)(t + 1);
	int kf = BTF_INFO_KFLAG(t->info);

	for (int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		long off = kf ? BTF_MEMBER_BIT_OFFSET(mb[i].offset) : mb[i].offset;
		int bs = kf ? BTF_MEMBER_BITFIELD_SIZE(mb[i].offset) : 0;
		if (mb[i].name_off && !strcmp(bname(mb[i].name_off), m)) {
			if (bitsz)
				*bitsz = bs;
			return off;
		}
		if (!mb[i].name_off) {
			int sub = btf_skip_mods(mb[i].type);
			int k = BTF_INFO_KIND(btf_types[sub]->info);
			if (k == BTF_KIND_STRUCT || k == BTF_KIND_UNION) {
				long r = btf_member_bits(sub, m, bitsz);
				if (r >= 0)
					return off + r;
			}
		}
	}
	return -1;
}

static long off_of(const char *st, const char *m)
{
	int sid = btf_find(st, BTF_KIND_STRUCT);
	long b = sid < 0 ? -1 : btf_member_bits(sid, m, NULL);

	if (b < 0) {
		fprintf(stderr, "BTF: no %s.%s\n", st, m);
		exit(2);
	}
	return b / 8;
}
