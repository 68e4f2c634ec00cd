/*
 * bench-run's shared pieces: the clock, messages and exits, the objects to
 * remove on every way out, and the two processes of a measurement.
 *
 * Exit status: 2 for a bad command line (bench_usage_error), 1 for a
 * failure while measuring (bench_fail), which names the subject and the
 * message size set by bench_set_context. Standard output carries only the
 * one JSON line of the result.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_MAX_SIZE (16u << 20)

/* The first byte of every message says whether it ends its round (or, in
 * latency mode, the run); the rest is the payload's pattern. */
#define BENCH_MORE 0x00
#define BENCH_LAST 0x01

uint64_t bench_now_ns(void);

/* "pipe, 65536 bytes": what bench_fail's messages start with. */
void bench_set_context(const char *subject, size_t size);

__attribute__((noreturn, format(printf, 1, 2)))
void bench_usage_error(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2)))
void bench_fail(const char *fmt, ...);
/* bench_fail with ": strerror(errno)" appended. */
__attribute__((noreturn, format(printf, 1, 2)))
void bench_fail_errno(const char *fmt, ...);

/* A message of size bytes: byte 0 is BENCH_MORE or BENCH_LAST, the rest a
 * pattern that is not constant. Freed with free(). */
uint8_t *bench_payload(size_t size, uint8_t mark);
void *bench_alloc(size_t size);

/* ---- cleanup: what the parent made, removed on every way out ------------- */

/* Called before fork: the objects are the calling process's, and only it
 * removes them (at exit, on bench_fail, or when its watchdog fires), never
 * a forked child that exits. */
void bench_cleanup_init(void);
void bench_cleanup_sysv_queue(int id);      /* IPC_RMID */
void bench_cleanup_mq(const char *name);    /* mq_unlink (two at most) */
void bench_cleanup_path(const char *path);  /* unlink (a FIFO) */
void bench_cleanup_dir(const char *path);   /* rmdir, after the paths */
void bench_cleanup_unlink_mqs(void);        /* mq_unlink them now */
void bench_cleanup_child(pid_t child);      /* SIGKILL and reap */
/* Removes everything now (the normal end of a run). */
void bench_cleanup_run(void);

/* ---- the two processes --------------------------------------------------- */

/* Seconds a process of a run of `seconds` may take before it is stopped. */
unsigned bench_bound_s(double seconds);

struct bench_pin {
	int on;
	int cpu[2]; /* [0] the parent's, [1] the child's */
};

/* Checks that both CPUs exist and this process may run on them; a bad
 * --pin is a usage error. */
void bench_pin_check(const struct bench_pin *pin);

/*
 * Forks the child, which runs child_main(arg) and exits with its status,
 * pinned to pin->cpu[1] (if pinned), killed when the parent dies or after
 * bound_s seconds. The parent is pinned to pin->cpu[0] and gets a watchdog
 * of bound_s + 10 seconds that removes everything and exits 1. Both ignore
 * SIGPIPE. `report` is a pipe made before: the child keeps its write end,
 * the parent its read end.
 */
pid_t bench_fork(const struct bench_pin *pin, unsigned bound_s,
		 int report[2], int (*child_main)(void *arg), void *arg);

/* Whether the child has ended (a SIGCHLD came): an end that waits without
 * a descriptor looks at it between slices. */
int bench_child_gone(void);

/* Reads exactly len bytes of the child's report; EOF is the child's
 * failure (its message is above on stderr). */
void bench_read_report(int fd, void *buf, size_t len);
/* Writes a report (child side); a failure exits the child. */
void bench_write_report(int fd, const void *buf, size_t len);

/* Waits at most bound_s for the child to exit; kills it on overrun. Its
 * failure is this run's. */
void bench_wait_child(pid_t child, unsigned bound_s);

#endif
