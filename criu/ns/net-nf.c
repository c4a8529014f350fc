/*
 * Netfilter rules of the namespace, one table at a time, in the text its
 * own tool reads back:
 *
 * - nftables tables: `nft list table` text, given back with `nft -f`;
 * - a table that holds xtables matches or targets (made by iptables-nft,
 *   which nft can't print: it would drop them) with that family's
 *   `*tables-nft-save` and `*-restore`;
 * - legacy iptables/ip6tables tables with iptables-legacy-save/-restore.
 *
 * Counters go with the rules. The network lock's own table or chain
 * (CRIU-*) is left out.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "netns.h"
#include "util.h"

struct buf {
	char *s;
	size_t len, cap;
};

static int buf_read(struct buf *b, int fd)
{
	ssize_t n;

	if (b->len + 4096 > b->cap) {
		size_t cap = b->cap * 2 + 8192;
		char *ns = realloc(b->s, cap);

		if (!ns)
			return -1;
		b->s = ns;
		b->cap = cap;
	}
	n = read(fd, b->s + b->len, b->cap - b->len - 1);
	if (n > 0) {
		b->len += n;
		b->s[b->len] = '\0';
	}
	return n;
}

int netns_run(char *const argv[], const char *input, char **out)
{
	int in[2] = { -1, -1 }, o[2] = { -1, -1 }, e[2] = { -1, -1 }, status;
	struct buf ob = {}, eb = {};
	size_t inlen = input ? strlen(input) : 0, sent = 0;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) || pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC)) {
		pr_perror("pipe");
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		goto fail;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) < 0 || dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "can't run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	close(e[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (!inlen) {
		close(in[1]);
		in[1] = -1;
	}
	/* both ways at once: the tool may answer before it read all (a long batch) */
	while (o[0] >= 0 || e[0] >= 0) {
		struct pollfd p[3] = { { o[0], POLLIN, 0 }, { e[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents && in[1] >= 0) {
			ssize_t n = write(in[1], input + sent, inlen - sent);

			if (n > 0)
				sent += n;
			if (n < 0 || sent == inlen) {
				close(in[1]);
				in[1] = -1;
			}
		}
		for (int i = 0; i < 2; i++) {
			int *fd = i ? &e[0] : &o[0];

			if (p[i].revents && buf_read(i ? &eb : &ob, *fd) <= 0) {
				close(*fd);
				*fd = -1;
			}
		}
	}
	close_fds(in + 1, 1);
	close_fds(o, 1);
	close_fds(e, 1);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("%s %s failed (status %#x): %s\n", argv[0], argv[1] ? argv[1] : "", status,
		       eb.s ? eb.s : "");
		free(ob.s);
		free(eb.s);
		return -1;
	}
	free(eb.s);
	if (out)
		*out = ob.s ? ob.s : strdup("");
	else
		free(ob.s);
	return out && !*out ? -1 : 0;
fail:
	close_fds(in, 2);
	close_fds(o, 2);
	close_fds(e, 2);
	return -1;
}

static int save(NetnsEntry *ne, const char *tool, const char *family, const char *name, char *text)
{
	NetnsNfTable *t = pb_grow((void ***)&ne->nf, &ne->n_nf, sizeof(*t));

	if (!t) {
		free(text);
		return -1;
	}
	netns_nf_table__init(t);
	t->tool = strdup(tool);
	t->family = strdup(family);
	t->name = strdup(name);
	t->text = text;
	return t->tool && t->family && t->name ? 0 : -1;
}

/* Drop the lines naming the lock's chain (CRIU-...) from *tables-save text, in place. */
static void drop_lock_lines(char *text)
{
	char *w = text;

	for (char *l = text; *l;) {
		char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l + 1) : strlen(l);

		if (!memmem(l, len, "CRIU-", 5)) {
			memmove(w, l, len);
			w += len;
		}
		l += len;
	}
	*w = '\0';
}

/* The xtables tool of an nft family, for a table made by iptables-nft. */
static const char *xt_tool(const char *family)
{
	if (!strcmp(family, "ip"))
		return "iptables-nft";
	if (!strcmp(family, "ip6"))
		return "ip6tables-nft";
	if (!strcmp(family, "arp"))
		return "arptables-nft";
	if (!strcmp(family, "bridge"))
		return "ebtables-nft";
	return NULL;
}

/* A string field @key of a JSON object spanning [p, end): its value copied to @buf, or NULL. */
static const char *json_str(const char *p, const char *end, const char *key, char *buf, size_t size)
{
	char k[32];
	const char *v, *q;

	snprintf(k, sizeof(k), "\"%s\": ", key);
	v = strstr(p, k);
	if (!v || v > end)
		return NULL;
	v += strlen(k);
	if (*v == '"')
		v++;
	q = v + strcspn(v, "\",}");
	if (q > end || (size_t)(q - v) >= size)
		return NULL;
	snprintf(buf, size, "%.*s", (int)(q - v), v);
	return buf;
}

/*
 * The chains of `nft -j list table` output, in their order, each as nft
 * would make it again: "NAME", or "NAME { type T hook H priority P; policy
 * X; }" for a base chain (names: @names_only).
 */
static int json_chains(const char *json, char ***out, size_t *n, int names_only)
{
	for (const char *p = strstr(json, "{\"chain\": {"); p; p = strstr(p + 1, "{\"chain\": {")) {
		const char *end = strstr(p, "}}");
		char name[256], type[32], hook[32], prio[32], policy[32], def[512], **arr;

		if (!end || !json_str(p, end, "name", name, sizeof(name)))
			break;
		if (!names_only && json_str(p, end, "type", type, sizeof(type)) &&
		    json_str(p, end, "hook", hook, sizeof(hook)) && json_str(p, end, "prio", prio, sizeof(prio)))
			snprintf(def, sizeof(def), "%s { type %s hook %s priority %s; policy %s; }", name, type, hook, prio,
				 json_str(p, end, "policy", policy, sizeof(policy)) ? policy : "accept");
		else
			snprintf(def, sizeof(def), "%s", name);
		arr = realloc(*out, (*n + 1) * sizeof(*arr));
		if (!arr)
			return -1;
		*out = arr;
		arr[*n] = strdup(def);
		if (!arr[*n])
			return -1;
		(*n)++;
	}
	return 0;
}

static int dump_xt_table(struct netns_dump *d, const char *family, const char *name, const char *json)
{
	const char *tool = xt_tool(family);
	char save_cmd[64], *text;

	if (!tool) {
		pr_err("can't dump the network namespace of %d: nftables table %s %s holds xtables rules, and no "
		       "xtables tool reads a %s table\n", d->pid, family, name, family);
		return -1;
	}
	snprintf(save_cmd, sizeof(save_cmd), "%s-save", tool);
	{
		char *argv[] = { save_cmd, "-c", "-t", (char *)name, NULL };
		char *argv_eb[] = { save_cmd, "-c", "-t", (char *)name, NULL };

		if (netns_run(!strcmp(family, "bridge") ? argv_eb : argv, NULL, &text))
			return -1;
	}
	if (strstr(text, "incompatible") || strstr(text, "unsupported")) {
		pr_err("can't dump the network namespace of %d: nftables table %s %s mixes xtables rules with ones "
		       "%s can't print:\n%s\n", d->pid, family, name, save_cmd, text);
		free(text);
		return -1;
	}
	drop_lock_lines(text);
	if (save(d->ne, tool, family, name, text))
		return -1;
	{
		NetnsNfTable *t = d->ne->nf[d->ne->n_nf - 1];

		return json_chains(json, &t->chains, &t->n_chains, 0);
	}
}

static int dump_nft(struct netns_dump *d)
{
	char *argv[] = { "nft", "list", "tables", NULL }, *list;
	int ret = 0;

	if (netns_run(argv, NULL, &list))
		return -1;
	for (char *l = list, *nl; !ret && l && *l; l = nl ? nl + 1 : NULL) {
		char family[16], name[256], *json, *text;

		nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		if (sscanf(l, "table %15s %255s", family, name) != 2)
			continue;
		if (!strncmp(name, "CRIU-", 5))
			continue;	/* the network lock */
		char *js[] = { "nft", "-j", "list", "table", family, name, NULL };
		char *tx[] = { "nft", "list", "table", family, name, NULL };

		/* text drops what it can't print (xtables matches): JSON shows them */
		if (netns_run(js, NULL, &json)) {
			ret = -1;
			break;
		}
		if (strstr(json, "\"xt\"")) {
			ret = dump_xt_table(d, family, name, json);
			free(json);
			continue;
		}
		free(json);
		if (netns_run(tx, NULL, &text)) {
			ret = -1;
			break;
		}
		ret = save(d->ne, "nft", family, name, text);
	}
	free(list);
	return ret;
}

static int proc_lines(const char *file)
{
	char path[64], line[256];
	FILE *f;
	int n = 0, r;

	snprintf(path, sizeof(path), "/proc/self/net/%s", file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while ((r = read_line(f, line, sizeof(line), path)) > 0)
		n++;
	fclose(f);
	return r < 0 ? -1 : n;
}

static int dump_legacy(struct netns_dump *d)
{
	static const struct { const char *names, *tool, *family; } t[] = {
		{ "ip_tables_names", "iptables-legacy", "ip" },
		{ "ip6_tables_names", "ip6tables-legacy", "ip6" },
	};

	int n;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char cmd[64], *text;

		n = proc_lines(t[i].names);
		if (n < 0)
			return -1;
		if (!n)
			continue;
		snprintf(cmd, sizeof(cmd), "%s-save", t[i].tool);
		char *argv[] = { cmd, "-c", NULL };

		if (netns_run(argv, NULL, &text))
			return -1;
		drop_lock_lines(text);
		if (save(d->ne, t[i].tool, t[i].family, "*", text))
			return -1;
	}
	n = proc_lines("arp_tables_names");
	if (n < 0)
		return -1;
	if (n) {
		pr_err("can't dump the network namespace of %d: it has legacy arptables tables, which criu can't "
		       "save\n", d->pid);
		return -1;
	}
	return 0;
}

int netns_nf_dump(struct netns_dump *d)
{
	return dump_legacy(d) || dump_nft(d) ? -1 : 0;
}

/* ---- restore ---- */

/* The built-in chains the xtables tool made that the table did not have (it makes them all). */
static int drop_made_chains(const NetnsNfTable *t)
{
	char *js[] = { "nft", "-j", "list", "table", t->family, t->name, NULL };
	char *del[] = { "nft", "-f", "-", NULL };
	char **now = NULL, *json;
	size_t n = 0;
	struct buf b = {};
	int ret = -1;

	if (!t->n_chains)
		return 0;
	if (netns_run(js, NULL, &json))
		return -1;
	if (json_chains(json, &now, &n, 1))
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t j, l = strlen(now[i]);
		char line[600];
		int len;

		for (j = 0; j < t->n_chains && (strncmp(now[i], t->chains[j], l) || (t->chains[j][l] && t->chains[j][l] != ' '));
		     j++)
			;
		if (j < t->n_chains)
			continue;
		len = snprintf(line, sizeof(line), "delete chain %s %s %s\n", t->family, t->name, now[i]);
		if (b.len + len + 1 > b.cap) {
			char *ns = realloc(b.s, b.cap = b.len + len + 4096);

			if (!ns)
				goto out;
			b.s = ns;
		}
		memcpy(b.s + b.len, line, len + 1);
		b.len += len;
	}
	ret = b.len ? netns_run(del, b.s, NULL) : 0;
out:
	for (size_t i = 0; i < n; i++)
		free(now[i]);
	free(now);
	free(json);
	free(b.s);
	return ret;
}

static int buf_add(struct buf *b, const char *text)
{
	size_t len = strlen(text);

	if (b->len + len + 2 > b->cap) {
		size_t cap = b->len + len + 4096;
		char *ns = realloc(b->s, cap);

		if (!ns)
			return -1;
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, text, len + 1);
	b->len += len;
	return 0;
}

/* The nftables batch gathered so far, at once. */
static int nft_flush(struct buf *b)
{
	char *argv[] = { "nft", "-f", "-", NULL };
	int ret;

	if (!b->len)
		return 0;
	ret = netns_run(argv, b->s, NULL);
	if (ret)
		pr_err("can't restore the nftables tables of the network namespace\n");
	b->len = 0;
	return ret;
}

static int known_tool(const char *tool)
{
	static const char *const tools[] = { "nft", "iptables-nft", "ip6tables-nft", "arptables-nft", "ebtables-nft",
					     "iptables-legacy", "ip6tables-legacy" };

	for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
		if (!strcmp(tool, tools[i]))
			return 1;
	return 0;
}

/*
 * In the dump's order (so that nft lists them as before): nftables tables
 * in batches; an xtables table after its table and chains are made in
 * their order (the tool would make its built-in chains first), with the
 * tool filling them.
 */
int netns_nf_restore(struct netns_rst *r)
{
	struct buf nft = {};
	int ret = -1;

	for (size_t i = 0; i < r->ne->n_nf; i++) {
		const NetnsNfTable *t = r->ne->nf[i];
		char cmd[64], line[1024];
		int legacy = !!strstr(t->tool, "-legacy");

		if (!known_tool(t->tool) || strpbrk(t->family, " \n;{}") || strpbrk(t->name, " \n;{}")) {
			pr_err("netns.img: netfilter table %s %s of tool %s\n", t->family, t->name, t->tool);
			goto out;
		}
		if (!strcmp(t->tool, "nft")) {
			if (buf_add(&nft, t->text) || buf_add(&nft, "\n"))
				goto out;
			continue;
		}
		if (!legacy) {
			snprintf(line, sizeof(line), "add table %s %s\n", t->family, t->name);
			if (buf_add(&nft, line))
				goto out;
			for (size_t j = 0; j < t->n_chains; j++) {
				snprintf(line, sizeof(line), "add chain %s %s %s\n", t->family, t->name, t->chains[j]);
				if (strchr(t->chains[j], '\n') || buf_add(&nft, line))
					goto out;
			}
		}
		if (nft_flush(&nft))
			goto out;
		snprintf(cmd, sizeof(cmd), "%s-restore", t->tool);
		char *argv[] = { cmd, "-c", "--noflush", NULL };

		if (netns_run(argv, t->text, NULL)) {
			pr_err("can't restore netfilter table %s %s (%s)\n", t->family, t->name, t->tool);
			goto out;
		}
		if (!legacy && drop_made_chains(t))
			goto out;
	}
	ret = nft_flush(&nft);
out:
	free(nft.s);
	return ret;
}
