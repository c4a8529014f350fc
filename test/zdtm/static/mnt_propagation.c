// SPDX-License-Identifier: GPL-2.0-only
/*
 * Propagation in the test's own mount namespace: a shared tmpfs (p) with
 * a peer (p2, a bind of a subdirectory of it); a slave of it that is
 * shared itself (s) with a peer (s2); a slave only (sl); an unbindable
 * bind (u); a private bind (priv). After restore the peer groups and
 * masters relate the same way (the numbers may change) and behave so: a
 * mount made in p shows in p2, s, s2 and sl but not in u or priv; a mount
 * made in s shows in s2 but not in p or sl; u can't be bound.
 */
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static char dir[512];

static const char *P(const char *rel)
{
	static char buf[8][600];
	static int n;

	n = (n + 1) % 8;
	snprintf(buf[n], sizeof(buf[n]), "%s/%s", dir, rel);
	return buf[n];
}

static void bind(const char *from, const char *to, unsigned long prop)
{
	if (mount(P(from), P(to), NULL, MS_BIND, NULL) || (prop && mount(NULL, P(to), NULL, prop, NULL)))
		test_bug("bind %s at %s", from, to);
}

static struct zdtm_mnt get(const char *rel)
{
	struct zdtm_mnt m = { 0 };

	if (zdtm_mountinfo(P(rel), &m))
		fail("no mount at %s", rel);
	return m;
}

static bool is_mounted(const char *rel)
{
	struct zdtm_mnt m;

	return !zdtm_mountinfo(P(rel), &m);
}

int main(int argc, char **argv)
{
	static const char *const dirs[] = { "p", "p2", "s", "s2", "sl", "u", "priv", "ub" };
	struct zdtm_mnt p, p2, s, s2, sl, u, priv;

	test_init(argc, argv);
	snprintf(dir, sizeof(dir), "%s", test_dir());
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdir(P(dirs[i]), 0755))
			test_bug("mkdir");
	zdtm_mntns();
	if (mount("zdtm-prop", P("p"), "tmpfs", 0, "size=1m") || mkdir(P("p/sub"), 0755) ||
	    mount(NULL, P("p"), NULL, MS_SHARED, NULL))
		test_bug("tmpfs p");
	bind("p/sub", "p2", 0);			/* a peer: binds of shared mounts join the group */
	bind("p", "s", MS_SLAVE);
	if (mount(NULL, P("s"), NULL, MS_SHARED, NULL))
		test_bug("shared s");
	bind("s", "s2", 0);
	bind("p", "sl", MS_SLAVE);
	bind("p", "u", MS_UNBINDABLE);
	bind("p", "priv", MS_PRIVATE);

	test_daemon();
	test_waitsig();

	p = get("p"), p2 = get("p2"), s = get("s"), s2 = get("s2"), sl = get("sl"), u = get("u"), priv = get("priv");
	if (!p.shared || p2.shared != p.shared || p.master || p2.master)
		failv("p (shared:%d) and p2 (shared:%d) are not peers", p.shared, p2.shared);
	if (strcmp(p2.root, "/sub"))
		failv("p2 shows %s of the tmpfs", p2.root);
	if (!s.shared || s.shared == p.shared || s2.shared != s.shared || s.master != p.shared ||
	    s2.master != p.shared)
		failv("s (shared:%d master:%d), s2 (shared:%d master:%d): not peers slave to p's group %d", s.shared,
		      s.master, s2.shared, s2.master, p.shared);
	if (sl.shared || sl.master != p.shared)
		failv("sl (shared:%d master:%d) is not a slave of p's group %d", sl.shared, sl.master, p.shared);
	if (!u.unbindable || u.shared || u.master || priv.shared || priv.master || priv.unbindable)
		failv("u or priv: not unbindable and private");
	/* and they behave so */
	if (mkdir(P("p/sub/new"), 0755) || mount("zdtm-new", P("p/sub/new"), "tmpfs", 0, "size=1m"))
		fail("mount in p");
	if (!is_mounted("p2/new") || !is_mounted("s/sub/new") || !is_mounted("s2/sub/new") ||
	    !is_mounted("sl/sub/new") || is_mounted("u/sub/new") || is_mounted("priv/sub/new"))
		failv("a mount in p did not propagate as it should");
	if (mkdir(P("s/mine"), 0755) || mount("zdtm-mine", P("s/mine"), "tmpfs", 0, "size=1m"))
		fail("mount in s");
	if (!is_mounted("s2/mine") || is_mounted("p/mine") || is_mounted("sl/mine"))
		failv("a mount in s did not propagate as it should");
	if (!mount(P("u"), P("ub"), NULL, MS_BIND, NULL) || errno != EINVAL)
		fail("u could be bound");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
