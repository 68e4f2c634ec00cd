/*
 * make_objects [--sysv-shm] [--sysv-sem] [--posix-shm] [--posix-sem] OUT
 * SECONDS: makes one object of each kind the registry knows, through the
 * library, writes what it made to OUT, then waits to be killed. The sweeper
 * test (test_sweep_cli.py) kills it and checks that the sweeper removes all
 * of it.
 *
 * OUT (written to OUT.tmp, then renamed, so a reader sees all or nothing):
 *   pid PID
 *   sysv-msg ID KEY        (a queue under IPC_PRIVATE: KEY 0)
 *   sysv-msg ID KEY        (a queue under a key of the project's range)
 *   posix-mq NAME
 *   dir PATH               (a private directory holding a listening socket)
 * and with each option, in this order:
 *   sysv-shm ID KEY        (--sysv-shm: a segment under IPC_PRIVATE, not
 *   sysv-shm ID KEY         removed, and one under a key of the range)
 *   sysv-sem ID KEY        (--sysv-sem: the same for semaphore sets, made
 *   sysv-sem ID KEY         with semget and noted in the registry here)
 *   posix-shm NAME         (--posix-shm: a shared memory object, mapped)
 *   posix-sem NAME         (--posix-sem: a named semaphore, made with
 *                           sem_open and noted here)
 * Semaphores are made with libc, not the library's sem.h: what the sweeper
 * is shown is the kernel object and the registry entry, however made.
 *
 * Not killed within SECONDS, it removes everything and exits 0, so it never
 * outlives a test that forgot it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

#include "ipc/channel.h"
#include "ipc/posix_mq.h"
#include "ipc/registry.h"
#include "ipc/shm.h"
#include "ipc/sysv_msg.h"

struct objects {
	int private_id, keyed_id;
	key_t key;
	char mq_name[64];
	mqd_t mq;
	struct ipc_listener *listener;
	/* The options' objects: -1, "" or NULL when not asked for. */
	int want_sysv_shm, want_sysv_sem, want_posix_shm, want_posix_sem;
	int shm_ids[2], sem_ids[2];
	key_t shm_key, sem_key;
	struct ipc_shm region;
	char sem_name[64];
	sem_t *sem;
};

static void note_id(const char *kind, int id)
{
	char text[24];

	snprintf(text, sizeof text, "%d", id);
	ipc_registry_note(kind, text);
}

static void remove_set(int id)
{
	char text[24];

	if (semctl(id, 0, IPC_RMID) == 0) {
		snprintf(text, sizeof text, "%d", id);
		ipc_registry_forget("sysv-sem", text);
	}
}

/* A set of one semaphore, 0600, noted; under a fresh key of the project's
 * range when key is not NULL. */
static int make_set(key_t *key)
{
	for (unsigned tries = 0; tries < 64; tries++) {
		key_t k = IPC_PRIVATE;
		int id;

		if (key != NULL)
			k = (key_t)(IPC_SYSV_KEY_PREFIX |
				    (((uint32_t)getpid() * 40503u + tries * 2654435761u) &
				     ~IPC_SYSV_KEY_MASK));
		id = semget(k, 1, IPC_CREAT | IPC_EXCL | 0600);
		if (id >= 0) {
			note_id("sysv-sem", id);
			if (key != NULL)
				*key = k;
			return id;
		}
		if (errno != EEXIST || key == NULL)
			return -1;
	}
	return -1;
}

static int make_named_sem(struct objects *o)
{
	snprintf(o->sem_name, sizeof o->sem_name, "/ipch.%ld.%08lxsem", (long)getpid(),
		 (unsigned long)time(NULL));
	o->sem = sem_open(o->sem_name, O_CREAT | O_EXCL, 0600, 1);
	if (o->sem == SEM_FAILED)
		return -1;
	ipc_registry_note("posix-sem", o->sem_name);
	return 0;
}

/* The objects of the options. */
static int make_more_objects(struct objects *o)
{
	if (o->want_sysv_shm &&
	    ((o->shm_ids[0] = ipc_sysv_shm_create(IPC_PRIVATE, 4096)) < 0 ||
	     (o->shm_ids[1] = ipc_sysv_shm_create_keyed(&o->shm_key, 4096)) < 0)) {
		perror("make_objects: ipc_sysv_shm_create");
		return -1;
	}
	if (o->want_sysv_sem &&
	    ((o->sem_ids[0] = make_set(NULL)) < 0 ||
	     (o->sem_ids[1] = make_set(&o->sem_key)) < 0)) {
		perror("make_objects: semget");
		return -1;
	}
	if (o->want_posix_shm && ipc_posix_shm_create(4096, &o->region) != 0) {
		perror("make_objects: ipc_posix_shm_create");
		return -1;
	}
	if (o->want_posix_sem && make_named_sem(o) != 0) {
		perror("make_objects: sem_open");
		return -1;
	}
	return 0;
}

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
	for (size_t i = 0; i < 2; i++) {
		if (o->shm_ids[i] >= 0)
			ipc_sysv_shm_remove(o->shm_ids[i]);
		if (o->sem_ids[i] >= 0)
			remove_set(o->sem_ids[i]);
	}
	if (o->region.addr != NULL) {
		ipc_posix_shm_unlink(o->region.name);
		ipc_shm_unmap(&o->region);
	}
	if (o->sem != SEM_FAILED) {
		sem_close(o->sem);
		sem_unlink(o->sem_name);
		ipc_registry_forget("posix-sem", o->sem_name);
	}
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
	if (o->want_sysv_shm) {
		fprintf(f, "sysv-shm %d 0\n", o->shm_ids[0]);
		fprintf(f, "sysv-shm %d %ld\n", o->shm_ids[1], (long)o->shm_key);
	}
	if (o->want_sysv_sem) {
		fprintf(f, "sysv-sem %d 0\n", o->sem_ids[0]);
		fprintf(f, "sysv-sem %d %ld\n", o->sem_ids[1], (long)o->sem_key);
	}
	if (o->want_posix_shm)
		fprintf(f, "posix-shm %s\n", o->region.name);
	if (o->want_posix_sem)
		fprintf(f, "posix-sem %s\n", o->sem_name);
	ok = fclose(f) == 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The options before OUT SECONDS; the index of OUT, or -1. */
static int parse_options(int argc, char **argv, struct objects *o)
{
	int i = 1;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--sysv-shm") == 0)
			o->want_sysv_shm = 1;
		else if (strcmp(argv[i], "--sysv-sem") == 0)
			o->want_sysv_sem = 1;
		else if (strcmp(argv[i], "--posix-shm") == 0)
			o->want_posix_shm = 1;
		else if (strcmp(argv[i], "--posix-sem") == 0)
			o->want_posix_sem = 1;
		else
			return -1;
	}
	return argc - i == 2 ? i : -1;
}

int main(int argc, char **argv)
{
	struct objects o = {.private_id = -1, .keyed_id = -1, .mq = (mqd_t)-1,
			    .shm_ids = {-1, -1}, .sem_ids = {-1, -1},
			    .region = {.fd = -1, .id = -1}, .sem = SEM_FAILED};
	struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
	int status = 1, out = parse_options(argc, argv, &o);
	long seconds;

	if (out < 0 || (seconds = strtol(argv[out + 1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: make_objects [--sysv-shm] [--sysv-sem] "
			"[--posix-shm] [--posix-sem] OUT SECONDS\n");
		return 2;
	}
	if (make_objects(&o) == 0 && make_more_objects(&o) == 0) {
		if (write_report(argv[out], &o) == 0) {
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
