/*
 * make_objects OUT SECONDS: makes one object of each kind the registry
 * knows, through the library, writes what it made to OUT, then waits to be
 * killed. The sweeper test (test_sweep_cli.py) kills it and checks that the
 * sweeper removes all of it.
 *
 * OUT (written to OUT.tmp, then renamed, so a reader sees all or nothing):
 *   pid PID
 *   sysv-msg ID KEY        (a queue under IPC_PRIVATE: KEY 0)
 *   sysv-msg ID KEY        (a queue under a key of the project's range)
 *   posix-mq NAME
 *   dir PATH               (a private directory holding a listening socket)
 *
 * Not killed within SECONDS, it removes everything and exits 0, so it never
 * outlives a test that forgot it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <time.h>
#include <unistd.h>

#include "ipc/channel.h"
#include "ipc/posix_mq.h"
#include "ipc/sysv_msg.h"

struct objects {
	int private_id, keyed_id;
	key_t key;
	char mq_name[64];
	mqd_t mq;
	struct ipc_listener *listener;
};

static void remove_objects(struct objects *o)
{
	if (o->private_id >= 0)
		ipc_sysv_msg_remove(o->private_id);
	if (o->keyed_id >= 0)
		ipc_sysv_msg_remove(o->keyed_id);
	if (o->mq != (mqd_t)-1) {
		ipc_mq_close(o->mq);
		ipc_mq_unlink(o->mq_name);
	}
	if (o->listener != NULL)
		ipc_listener_close(o->listener);
}

static int make_objects(struct objects *o)
{
	if ((o->private_id = ipc_sysv_msg_create(IPC_PRIVATE)) < 0) {
		perror("make_objects: ipc_sysv_msg_create(IPC_PRIVATE)");
		return -1;
	}
	if ((o->keyed_id = ipc_sysv_msg_create_keyed(&o->key)) < 0) {
		perror("make_objects: ipc_sysv_msg_create_keyed");
		return -1;
	}
	if (ipc_mq_fresh_name(o->mq_name, sizeof o->mq_name) != 0 ||
	    (o->mq = ipc_mq_create(o->mq_name, 0, 0, O_RDWR)) == (mqd_t)-1) {
		perror("make_objects: ipc_mq_create");
		return -1;
	}
	if (ipc_listen("unix:", NULL, &o->listener) != IPC_OK) {
		fprintf(stderr, "make_objects: ipc_listen(\"unix:\") failed\n");
		o->listener = NULL;
		return -1;
	}
	return 0;
}

/* The private directory of a listener at "unix:DIR/sock". */
static int listener_dir(const struct ipc_listener *l, char *out, size_t len)
{
	const char *address = ipc_listener_address(l);
	const char *slash = strrchr(address, '/');

	if (strncmp(address, "unix:/", 6) != 0 || slash == NULL ||
	    (size_t)(slash - address - 5) >= len)
		return -1;
	memcpy(out, address + 5, (size_t)(slash - address - 5));
	out[slash - address - 5] = '\0';
	return 0;
}

static int write_report(const char *path, const struct objects *o)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	FILE *f;
	int ok;

	if (listener_dir(o->listener, dir, sizeof dir) != 0 ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp ||
	    (f = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(f, "pid %ld\n", (long)getpid());
	fprintf(f, "sysv-msg %d 0\n", o->private_id);
	fprintf(f, "sysv-msg %d %ld\n", o->keyed_id, (long)o->key);
	fprintf(f, "posix-mq %s\n", o->mq_name);
	fprintf(f, "dir %s\n", dir);
	ok = fclose(f) == 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct objects o = {.private_id = -1, .keyed_id = -1, .mq = (mqd_t)-1};
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
	long seconds;
	int status = 1;

	if (argc != 3 || (seconds = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: make_objects OUT SECONDS\n");
		return 2;
	}
	if (make_objects(&o) == 0) {
		if (write_report(argv[1], &o) == 0) {
			/* Killed here, as the test means to. */
			for (long i = 0; i < seconds * 10; i++)
				nanosleep(&pause, NULL);
			status = 0;
		} else {
			perror("make_objects: writing the report");
		}
	}
	remove_objects(&o);
	return status;
}
