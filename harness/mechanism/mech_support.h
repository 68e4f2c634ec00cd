/*
 * What the mechanism suites share: a per-test check that nothing leaks (no
 * descriptor, no file left in a private $TMPDIR), forked children that
 * cannot hang a test and the reports they leave, deterministic payloads,
 * and the checks several suites make the same way.
 */
#ifndef IPCH_MECH_SUPPORT_H
#define IPCH_MECH_SUPPORT_H

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/types.h>

#include "ipc/channel.h"

/*
 * Per-test setup and teardown, for cmocka_unit_test_setup_teardown: setup
 * points $TMPDIR at a fresh empty directory (so ipc_private_dir works
 * inside it) and counts the open descriptors; teardown fails the test if a
 * descriptor more is open or anything is left in that directory, then
 * removes it. mech_tmpdir() is its path during the test.
 */
int mech_setup(void **state);
int mech_teardown(void **state);
const char *mech_tmpdir(void);
/* Entries in a directory (0 for an empty one); fails the test if it cannot
 * be read. */
size_t mech_dir_entries(const char *dir);
size_t mech_open_fds(void);

/* 1 under valgrind: suites shrink their big cases and stretch timeouts. */
int mech_slow(void);
/* Seconds scaled for valgrind. */
unsigned mech_seconds(unsigned seconds);

/* CLOCK_MONOTONIC in milliseconds; and a sleep of ms milliseconds. */
long long mech_now_ms(void);
void mech_nap_ms(long ms);

/*
 * Runs fn(arg) in a child whose exit status is fn's return value; an alarm
 * kills the child after `seconds` (scaled) so a hang is a failure. The
 * child never returns into cmocka.
 */
pid_t mech_fork(int (*fn)(void *arg), void *arg, unsigned seconds);
/* Waits for the child up to `seconds` (scaled), killing it after that;
 * fails the test unless it exited with status 0. */
void mech_reap(pid_t pid, unsigned seconds);
/* SIGKILL for a child of mech_fork, which must die of it: reaped here. */
void mech_kill_and_reap(pid_t pid);
/* A child of mech_fork that the code under test reaped (a waitpid of its
 * own): the teardown no longer kills and reaps it. */
void mech_child_reaped(pid_t pid);

/* What a child saw, in memory shared with the test: each step's result and
 * errno (mech_note), and flags of the suite's choosing. */
#define MECH_REPORT_SLOTS 8
struct mech_report {
	int skipped; /* it could not do what the test needs (not root) */
	int done;    /* its blocking call has returned */
	long r[MECH_REPORT_SLOTS];
	int err[MECH_REPORT_SLOTS];
};
/* A zeroed report shared with the children forked after; NULL, said on
 * standard error, if it cannot be mapped. */
struct mech_report *mech_report_map(void);
void mech_report_unmap(struct mech_report *rep);
/* In a child: step i returned r, with errno if r < 0. */
void mech_note(struct mech_report *rep, int i, long r);
/* Fails the test unless step i returned -1 with errno want. */
void mech_assert_step_failed(const struct mech_report *rep, int i, int want);

/* In a child: no group of root's left, then the group and user
 * MECH_OTHER_UID. 0, or -1 if that cannot be done (not root). */
#define MECH_OTHER_UID 65534
int mech_become_other_user(void);

/* Deterministic bytes: the same (seed, index) always gives the same byte. */
uint8_t mech_byte(uint64_t seed, size_t index);
void mech_fill(uint8_t *buf, size_t len, uint64_t seed);
/* Index of the first byte that differs from mech_fill's, or len. */
size_t mech_check(const uint8_t *buf, size_t len, uint64_t seed);

/* A message of len bytes of mech_fill(seed), sent with a long timeout; and
 * the check that the next one received is exactly that. */
#define MECH_LONG_MS 10000
void mech_send_ok(struct ipc_channel *ch, uint16_t type, size_t len,
		  uint64_t seed);
void mech_recv_expect(struct ipc_channel *ch, uint16_t type, size_t len,
		      uint64_t seed);

/* Makes path a regular file, 0600 and new (O_EXCL), holding text. */
void mech_make_file(const char *path, const char *text);
/* Fails the test unless the file at path holds exactly want. */
void mech_assert_file_holds(const char *path, const char *want);

/* IPCH_REGISTRY put back as mech_setup found it at the suite's first test,
 * after a test pointed it elsewhere. */
void mech_registry_restore(void);

/* That path is a socket file in a private 0700 directory inside the test's
 * $TMPDIR, as "KIND:" listeners make. */
void mech_assert_private_socket(const char *path);
/* A file that is not a socket at path: listening on address, which names
 * it, is EADDRINUSE and leaves the file as it was. The file is removed
 * after. */
void mech_assert_listen_keeps_file(const char *address, const char *path);
/* Someone replaces the socket file of l at path with a file of their own:
 * closing l leaves theirs, which is removed after. */
void mech_close_after_file_replaced(struct ipc_listener *l, const char *path);

/* Sockets in /proc/net/unix whose name contains needle; and those named by
 * the Unix-domain backends' fresh abstract names ("@ipc-PID-...") of this
 * process. */
size_t mech_unix_sockets_named(const char *needle);
size_t mech_own_abstract_sockets(void);

/* A fault plan that fails call `step` with its k-th fitting errno; and the
 * check, after such a run, that no descriptor is open beyond the fds there
 * were before and nothing is left in the test's $TMPDIR. */
void mech_plan_failure_at(size_t step, unsigned k);
void mech_assert_nothing_left(size_t fds, const char *what, size_t step);
/* Runs run(arg) once cleanly to count its calls (at least 10), then once
 * per call and fitting errno with that call failed, checking after each
 * that nothing is left (fds: the descriptors open before). */
void mech_fail_each_call(void (*run)(const void *arg), const void *arg,
			 size_t fds, const char *what);
/* A listener session of a duplex backend, for mech_fail_each_call: listen
 * at the address (a string), connect, accept, one message each way, close;
 * each step only if the one before worked. */
void mech_duplex_session(const void *address);

/* Up to len - 1 bytes of /proc/<pid>/<file>; "" if it cannot be read. */
void mech_proc_text(pid_t pid, const char *file, char *out, size_t len);
/* The state letter of /proc/<pid>/stat ('S' asleep, ...), '?' if none. */
char mech_proc_state(pid_t pid);
/* Waits up to `seconds` (scaled) for *flag, set by a child in shared
 * memory: 1 once set, 0 at the deadline. */
int mech_wait_flag(const int *flag, unsigned seconds);

/* Whether the seam logged a call of that name since its plan was last
 * cleared. */
int mech_seam_logged(const char *call);

/* errno's name ("EAGAIN"); "0" for none. */
const char *mech_errno_name(int e);

/* Fails the test with both names unless errno == want. */
#define assert_errno(want)                                                  \
	do {                                                                \
		int got_ = errno, want_ = (want);                           \
		if (got_ != want_)                                          \
			fail_msg("errno %s, wanted %s",                     \
				 mech_errno_name(got_),                     \
				 mech_errno_name(want_));                   \
	} while (0)

/* Fails the test with the status name, errno and where, unless st == want. */
#define assert_status(st, want)                                              \
	do {                                                                 \
		enum ipc_status st_ = (st), want_ = (want);                  \
		if (st_ != want_)                                            \
			fail_msg("status '%s' (errno %d %s), wanted '%s'",  \
				 ipc_status_name(st_), errno,                \
				 strerrorname_np(errno) != NULL              \
					 ? strerrorname_np(errno)            \
					 : "-",                              \
				 ipc_status_name(want_));                    \
	} while (0)

#endif
