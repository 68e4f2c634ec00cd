/*
 * A pool of worker processes of which at most SLOTS work at once, guarded
 * by a named POSIX semaphore: the parent creates it (O_CREAT|O_EXCL, 0600,
 * under a fresh name: never a fixed one someone else could have made
 * first), each worker opens it by name as an unrelated program would, takes
 * a slot before its job and gives it back after. The parent unlinks the
 * name as soon as every worker has opened it, so nothing is left in
 * /dev/shm whatever happens next; the semaphore itself lives on while
 * workers hold it open.
 *
 * Shared memory (a MAP_SHARED mapping, inherited across fork) counts the
 * workers inside at any moment, so the program can show that the limit
 * held. Every wait has a deadline; every child is reaped.
 *
 * Run: example-worker-pool [WORKERS [SLOTS]]   (default 6 and 2)
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/sem.h"

#define WAIT_MS 10000
#define JOB_MS 20

struct board {
	atomic_int opened;   /* workers that opened the semaphore */
	atomic_int inside;   /* workers between taking and giving a slot */
	atomic_int most;     /* the most ever inside at once */
	atomic_int done;     /* jobs done */
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void note_inside(struct board *b)
{
	int now = atomic_fetch_add(&b->inside, 1) + 1;
	int most = atomic_load(&b->most);

	while (now > most && !atomic_compare_exchange_weak(&b->most, &most, now))
		;
}

/* One worker: open the semaphore by name, take a slot, work, give it back. */
static int worker(const char *name, struct board *b)
{
	sem_t *s = ipc_posix_sem_open(name);
	enum ipc_sem_result r;

	if (s == NULL) {
		fprintf(stderr, "worker %d: cannot open %s: %s\n", (int)getpid(), name,
			strerror(errno));
		return 1;
	}
	atomic_fetch_add(&b->opened, 1);
	do
		r = ipc_posix_sem_wait(s, WAIT_MS);
	while (r == IPC_SEM_INTERRUPTED);
	if (r != IPC_SEM_DONE) {
		fprintf(stderr, "worker %d: no slot: %s\n", (int)getpid(),
			ipc_sem_result_name(r));
		ipc_posix_sem_close(s);
		return 1;
	}
	note_inside(b);
	sleep_ms(JOB_MS); /* the job */
	atomic_fetch_sub(&b->inside, 1);
	atomic_fetch_add(&b->done, 1);
	ipc_posix_sem_post(s);
	ipc_posix_sem_close(s);
	return 0;
}

/* Forks the workers; their pids into pids. The number started. */
static int start_workers(int n, const char *name, struct board *b, pid_t *pids)
{
	for (int i = 0; i < n; i++) {
		fflush(stdout);
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "pool: fork: %s\n", strerror(errno));
			return i;
		}
		if (pids[i] == 0)
			_exit(worker(name, b));
	}
	return n;
}

/* Unlinks the name once every started worker has opened it (or after the
 * deadline: a worker that never opens it fails by itself). */
static void unlink_when_opened(const char *name, struct board *b, int started)
{
	for (int waited = 0; atomic_load(&b->opened) < started && waited < WAIT_MS;
	     waited += 5)
		sleep_ms(5);
	if (ipc_posix_sem_unlink(name) == 0)
		printf("pool: %s unlinked once all %d workers had it open\n", name,
		       started);
}

static int reap_all(const pid_t *pids, int n)
{
	int failed = 0;

	for (int i = 0; i < n; i++) {
		int status;

		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	return failed;
}

int main(int argc, char **argv)
{
	int workers = argc > 1 ? atoi(argv[1]) : 6;
	int slots = argc > 2 ? atoi(argv[2]) : 2;
	char name[64];
	pid_t pids[64];
	struct board *b;
	sem_t *s;
	int started, failed, most, done;

	if (workers < 1 || workers > 64 || slots < 1 || slots > workers) {
		fprintf(stderr, "usage: %s [WORKERS (1..64) [SLOTS (1..WORKERS)]]\n",
			argv[0]);
		return 2;
	}
	b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	if (b == MAP_FAILED || ipc_posix_sem_fresh_name(name, sizeof name) != 0 ||
	    (s = ipc_posix_sem_create(name, (unsigned)slots)) == NULL) {
		fprintf(stderr, "pool: cannot set up: %s\n", strerror(errno));
		return 1;
	}
	memset(b, 0, sizeof *b);
	printf("pool: %d workers, %d at a time, through %s\n", workers, slots, name);
	started = start_workers(workers, name, b, pids);
	unlink_when_opened(name, b, started);
	failed = reap_all(pids, started);
	ipc_posix_sem_close(s);
	done = atomic_load(&b->done);
	most = atomic_load(&b->most);
	munmap(b, sizeof *b);
	printf("pool: %d of %d jobs done, at most %d at once (limit %d)\n", done,
	       workers, most, slots);
	return failed == 0 && done == workers && most <= slots ? 0 : 1;
}
