/* Names and keys for the project's kernel objects: see names.h. */
#include "names.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ipc/sysv_msg.h"
#include "sys.h"

/* Bits that differ from call to call and process to process. */
static uint32_t fresh_bits(void)
{
	static uint32_t counter;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_nsec * 2654435761u ^ (uint32_t)sys_getpid() * 40503u ^
	       ++counter * 97u;
}

int ipc_fresh_name(const char *prefix, char *out, size_t len)
{
	static uint32_t counter;
	int n = snprintf(out, len, "%s%ld.%08x%04x", prefix, (long)sys_getpid(),
			 fresh_bits(), ++counter & 0xFFFFu);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int ipc_check_posix_name(const char *name, size_t longest)
{
	size_t len = strlen(name);

	if (name[0] != '/' || len < 2 || strchr(name + 1, '/') != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (len - 1 > longest) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int ipc_create_with_fresh_key(key_t *key, int (*create)(key_t key, const void *arg),
			      const void *arg)
{
	for (int tries = 0; tries < 64; tries++) {
		key_t k = (key_t)(IPC_SYSV_KEY_PREFIX | (fresh_bits() & ~IPC_SYSV_KEY_MASK));
		int id;

		if (k == IPC_PRIVATE)
			continue;
		id = create(k, arg);
		if (id >= 0 || errno != EEXIST) {
			if (id >= 0)
				*key = k;
			return id;
		}
	}
	errno = EEXIST;
	return -1;
}
