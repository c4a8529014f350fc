/* The uts namespace: its host and domain names. */
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "log.h"
#include "namespaces.h"
#include "nsfs.h"

static int read_names(void *arg)
{
	if (uname(arg)) {
		pr_perror("uname");
		return -1;
	}
	return 0;
}

int uts_ns_dump(pid_t pid, NsEntry *e)
{
	struct utsname *u = mmap(NULL, sizeof(*u), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (u == MAP_FAILED) {
		pr_perror("mmap");
		return -1;
	}
	ret = ns_in_child(pid, CLONE_NEWUTS, read_names, u);
	if (!ret) {
		e->hostname = strdup(u->nodename);
		e->domainname = strdup(u->domainname);
		if (!e->hostname || !e->domainname)
			ret = -1;
		else
			pr_info("uts namespace: hostname %s, domainname %s\n", e->hostname, e->domainname);
	}
	munmap(u, sizeof(*u));
	return ret;
}

int uts_ns_restore(const NsEntry *e)
{
	if (e->hostname && sethostname(e->hostname, strlen(e->hostname))) {
		pr_perror("can't set the hostname %s", e->hostname);
		return -1;
	}
	if (e->domainname && setdomainname(e->domainname, strlen(e->domainname))) {
		pr_perror("can't set the domainname %s", e->domainname);
		return -1;
	}
	return 0;
}
