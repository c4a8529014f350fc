/*
 * Whose images criu believes (Documentation/security.md). An image says
 * which credentials, executable, files and memory a task gets; criu run
 * by root restores them as written. So restore reads images only from
 * files and a directory that no one but root and the caller can have
 * written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "log.h"

int image_trust_required;

static int trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* An image file (or the images directory) as opened: 0, or -1 with the reason. */
int image_trusted(int fd, const char *path)
{
	struct stat st;

	/* given by criu's image server, which checked it where its owner shows as it is */
	if (img_served())
		return 0;

	if (fstat(fd, &st)) {
		pr_perror("can't stat %s", path);
		return -1;
	}
	if (!trusted_owner(st.st_uid)) {
		pr_err("refusing %s: it belongs to uid %u, neither root nor the caller (uid %u); see "
		       "Documentation/security.md\n", path, st.st_uid, geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		pr_err("refusing %s: it is writable by %s (mode %04o); see Documentation/security.md\n", path,
		       st.st_mode & S_IWOTH ? "anyone" : "its group", st.st_mode & 07777);
		return -1;
	}
	return 0;
}

/*
 * @dir names an fd's directory itself: "/proc/self/fd/N", nothing after N
 * but a slash. A name past it ("/proc/self/fd/N/sub", ".../N/..") is in a
 * directory the fd does not pin, checked as any path.
 */
static int is_fd_dir(const char *dir)
{
	const char *p;
	size_t n;

	if (strncmp(dir, "/proc/self/fd/", strlen("/proc/self/fd/")))
		return 0;
	p = dir + strlen("/proc/self/fd/");
	n = strspn(p, "0123456789");
	return n && (!p[n] || !strcmp(p + n, "/"));
}

/*
 * The images directory and each directory above it: whoever can write one
 * of them could put other images in its place. A directory above that
 * everyone may write is fine with the sticky bit (/tmp): only its owner
 * may then rename or remove what is in it.
 */
int images_dir_trusted(const char *dir)
{
	char path[PATH_MAX], *slash;
	struct stat st;
	int fd;

	if (!realpath(dir, path)) {
		pr_perror("can't resolve the images dir %s", dir);
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open the images dir %s", path);
		return -1;
	}
	if (image_trusted(fd, path)) {
		close(fd);
		return -1;
	}
	close(fd);
	/*
	 * A directory the caller opened and gave criu as an fd (swrk's
	 * images_dir_fd, or -D /proc/self/fd/N): every image is read through
	 * that fd, which renaming the directories above can't redirect. The
	 * caller vouched for the path when it opened it: podman's bundle
	 * of a container with a user namespace is the container root's.
	 */
	if (is_fd_dir(dir))
		return 0;
	while ((slash = strrchr(path, '/'))) {
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(path, &st)) {
			pr_perror("can't stat %s", path);
			return -1;
		}
		if (!trusted_owner(st.st_uid) ||
		    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
			pr_err("refusing the images in %s: %s above them is %s (owner uid %u, mode %04o); see "
			       "Documentation/security.md\n", dir, path,
			       trusted_owner(st.st_uid) ? "writable by others" : "someone else's", st.st_uid,
			       st.st_mode & 07777);
			return -1;
		}
		if (!strcmp(path, "/"))
			break;
	}
	return 0;
}
