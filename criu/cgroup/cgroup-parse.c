/*
 * Text and path helpers of the cgroup code, kept apart so that the unit
 * tests can link them: /proc/PID/cgroup lines, cgroup paths, option values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"

static const char *const mode_names[] = {
	[CG_MODE_DEFAULT] = "default",
	[CG_MODE_IGNORE] = "ignore",
	[CG_MODE_NONE] = "none",
	[CG_MODE_PROPS] = "props",
	[CG_MODE_SOFT] = "soft",
	[CG_MODE_FULL] = "full",
	[CG_MODE_STRICT] = "strict",
};

int cg_mode_parse(const char *arg)
{
	if (!arg)
		return CG_MODE_DEFAULT;
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(arg, mode_names[i]))
			return i == CG_MODE_DEFAULT ? CG_MODE_SOFT : (int)i;
	return -1;
}

const char *cg_mode_name(int mode)
{
	if (mode == CG_MODE_DEFAULT)
		return "soft";
	if (mode < 0 || mode >= (int)(sizeof(mode_names) / sizeof(mode_names[0])))
		return "?";
	return mode_names[mode];
}

/*
 * "ID:CONTROLLERS:PATH" lines; the path may itself hold colons. A line
 * without two colons, an ID that is not a number or a path that does not
 * start with '/' is malformed.
 */
int cg_parse_proc(char *buf, struct cg_line *out, int max)
{
	int n = 0;
	char *save = NULL;

	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *end;
		unsigned long id;

		if (!c2 || c1 == l)
			return -1;
		id = strtoul(l, &end, 10);
		if (end != c1 || c2[1] != '/')
			return -1;
		if (n == max)
			return -1;
		*c1 = *c2 = '\0';
		out[n].id = id;
		out[n].ctrls = c1 + 1;
		out[n].path = c2 + 1;
		n++;
	}
	return n;
}

bool cg_path_within(const char *path, const char *base)
{
	size_t n = strlen(base);

	if (!strcmp(base, "/"))
		return path[0] == '/';
	return !strncmp(path, base, n) && (path[n] == '\0' || path[n] == '/');
}

void cg_common_ancestor(const char *a, const char *b, char *out, size_t size)
{
	size_t last = 0, i;

	/* the longest common prefix that ends at a path boundary of both */
	for (i = 0; a[i] && a[i] == b[i]; i++)
		if (a[i] == '/')
			last = i;
	if ((a[i] == '\0' || a[i] == '/') && (b[i] == '\0' || b[i] == '/'))
		last = i;
	if (last == 0)
		snprintf(out, size, "/");
	else
		snprintf(out, size, "%.*s", (int)last, a);
}

int cg_relocate(const char *path, const char *from, const char *to, char *out, size_t size)
{
	const char *rest = strcmp(from, "/") ? path + strlen(from) : path;
	int n;

	/* "/" plus "/x" is "/x", not "//x"; "/a" plus "" is "/a" */
	if (!strcmp(to, "/"))
		n = snprintf(out, size, "%s", *rest ? rest : "/");
	else
		n = snprintf(out, size, "%s%s", to, !strcmp(rest, "/") ? "" : rest);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Is @w (of length @n) one of the comma-separated names of @ctrls? */
static bool has_ctrl(const char *ctrls, const char *w, size_t n)
{
	for (const char *p = ctrls; *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p))
		if (!strncmp(p, w, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* A list ("cpu,cpuacct") names a hierarchy if any of its names is one of the hierarchy's. */
bool cg_ctrl_matches(const char *ctrls, const char *want)
{
	if (!ctrls[0])
		return !want[0] || !strcmp(want, "unified") || !strcmp(want, "cgroup2");
	while (*want) {
		size_t n = strcspn(want, ",");

		if (n && has_ctrl(ctrls, want, n))
			return true;
		want += n + (want[n] == ',');
	}
	return false;
}
