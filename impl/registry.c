/* The object registry: see registry.h. */
#include "ipc/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* "<dir>/<kind>@<id>", with every "/" of id as "%": ids are paths and
 * queue names. */
static int entry_path(const char *kind, const char *id, char *out, size_t len)
{
	const char *dir = getenv("IPCH_REGISTRY");
	int n;

	if (dir == NULL || dir[0] == '\0')
		return -1;
	n = snprintf(out, len, "%s/%s@", dir, kind);
	if (n < 0 || (size_t)n >= len)
		return -1;
	for (size_t i = (size_t)n; *id != '\0'; id++, i++) {
		if (i + 1 >= len)
			return -1;
		out[i] = *id == '/' ? '%' : *id;
		out[i + 1] = '\0';
	}
	return 0;
}

void ipc_registry_note(const char *kind, const char *id)
{
	char path[PATH_MAX], line[PATH_MAX + 64];
	int saved = errno, fd, n;

	if (entry_path(kind, id, path, sizeof path) == 0 &&
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		       0600)) >= 0) {
		n = snprintf(line, sizeof line, "%ld %ld %s\n", (long)getpid(),
			     (long)geteuid(), id);
		if (n > 0 && (size_t)n < sizeof line && write(fd, line, (size_t)n) != n)
			unlink(path); /* a half entry would mislead the sweeper */
		close(fd);
	}
	errno = saved;
}

void ipc_registry_forget(const char *kind, const char *id)
{
	char path[PATH_MAX];
	int saved = errno;

	if (entry_path(kind, id, path, sizeof path) == 0)
		unlink(path);
	errno = saved;
}
