/*
 * The channel conformance suite: one list of cases, run against every
 * backend of ipc_backends[] under every fault plan.
 *
 * A run is one case x one backend x one fault plan x one direction. runner.c
 * lists the runs as cmocka tests; isolate.c gives each run its own process
 * (a deadline, a private TMPDIR, leak checks) so that a hang or a crash is
 * one failed run; cases.c holds the cases, written against the fixture of
 * support.c, which owns everything a case opens so that a case stopped by an
 * injected fault still releases it all.
 */
#ifndef IPCH_CONFORMANCE_H
#define IPCH_CONFORMANCE_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/channel.h"
#include "ipc/fault.h"

/* How a case process or a peer process ends. Other exit codes come from
 * outside the suite: a sanitizer, or valgrind (99). */
enum {
	CONF_EXIT_DONE = 0,     /* the case ran to its end */
	CONF_EXIT_STOPPED = 20, /* an injected hard fault ended it, rightly */
	CONF_EXIT_FAILED = 21,  /* a check failed; the report is on stderr */
};

/* A fault plan installed in every process of a run. */
struct conf_plan {
	const char *name;
	enum ipc_fault_pattern pattern;
	int seeded; /* a seeded random plan instead of the pattern */
};

/* The seeded plan: fixed, so a failure replays; small, so cases get far. */
#define CONF_SEED 0x1FC0FFEEull
#define CONF_SEED_PERCENT 1u

extern const struct conf_plan conf_plans[];
extern const size_t conf_nplans;

/* Sizes and limits that depend on the mode. --light (the valgrind preset)
 * scales the 16 MiB message down to 1 MiB (at a 1 MiB limit) and the
 * thousands of small messages down to hundreds; every case still runs. */
struct conf_settings {
	int light;
	int io_timeout_ms;  /* each send or receive that should succeed */
	int run_deadline_s; /* a whole run, then it is killed */
	size_t limit_message; /* the "at the limit" size */
	uint32_t limit_opts;  /* max_message giving that limit (0: default) */
	size_t many_count;    /* messages of the many-small case */
	size_t mixed_count;   /* messages of the order-and-types case */
};

extern struct conf_settings conf;
void conf_settings_init(int light);

struct fixture;

struct conf_case {
	const char *name;
	void (*run)(struct fixture *fx);
};

extern const struct conf_case conf_cases[];
extern const size_t conf_ncases;

struct conf_run {
	const struct conf_case *kase;
	const struct ipc_backend *backend;
	const struct conf_plan *plan;
	int reversed; /* b sends to a (duplex backends) */
	char name[160];
};

/* ---- messages a case sends: deterministic, so both sides know them ------ */

struct msg_spec {
	uint16_t type;
	size_t length;
	uint64_t seed; /* of its payload bytes */
};

struct workload {
	struct msg_spec *msgs;
	size_t count;
	size_t max_length;
};

void payload_fill(uint8_t *out, size_t len, uint64_t seed);
/* The offset of the first byte that differs from payload_fill's, or len. */
size_t payload_diff(const uint8_t *data, size_t len, uint64_t seed);

/* ---- the fixture --------------------------------------------------------- */

struct fixture {
	const struct conf_run *run;
	const char *role;           /* "case process" or "peer process" */
	struct ipc_channel *end[2]; /* the pair: end[0] is a, end[1] is b */
	pid_t peer;                 /* a forked peer not yet reaped, or 0 */
	uint8_t *scratch;
	size_t scratch_len;
	struct workload work;
	int stopped;  /* an injected hard fault ended the case */
	jmp_buf stop; /* where it lands */
};

/* Installs the run's plan in this process (a peer gets its own seed). */
void plan_install(const struct conf_run *run, int in_peer);

_Noreturn void fx_fail(struct fixture *fx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Checks a status: a mismatch fails, unless the seeded plan injected a hard
 * fault that explains it (here, or in a peer that then stopped), in which
 * case the case ends rightly. */
void fx_expect(struct fixture *fx, struct ipc_channel *ch,
	       enum ipc_status got, enum ipc_status want, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* The same, for a status that must be IPC_CORRUPT with the given fault. */
void fx_expect_fault(struct fixture *fx, struct ipc_channel *ch,
		     enum ipc_status got, enum ipcf_fault want,
		     const char *what);

/* Makes the pair (max_message 0: the default limit), closing any earlier. */
void fx_pair(struct fixture *fx, uint32_t max_message);
struct ipc_channel *fx_tx(struct fixture *fx);
struct ipc_channel *fx_rx(struct fixture *fx);
void fx_close_tx(struct fixture *fx);
void fx_close_rx(struct fixture *fx);
/* A buffer of at least len bytes, owned by the fixture. */
uint8_t *fx_buffer(struct fixture *fx, size_t len);
/* Closes, kills, reaps and frees whatever the fixture still holds. */
void fx_release(struct fixture *fx);

/* Forks the peer process, which runs body with the sending end (PEER_SENDS)
 * or the receiving end, under its own deadline; this process keeps the
 * other end. */
enum peer_role { PEER_SENDS, PEER_RECEIVES };
void fx_start_peer(struct fixture *fx, enum peer_role role,
		   void (*body)(struct fixture *fx));
/* "failed (its report is above)", "was killed by signal SIGPIPE (...)". */
void describe_exit(int status, char *out, size_t len);
/* Reaps the peer: returns if it ran to its end, ends the case if it was
 * stopped by an injected fault, fails otherwise. */
void fx_wait_peer(struct fixture *fx);

/* Workloads into fx->work. */
void workload_single(struct fixture *fx, size_t length);
void workload_mixed(struct fixture *fx, size_t count);
void workload_small(struct fixture *fx, size_t count);

/* Sends fx->work on the sending end, then closes it. */
void send_workload(struct fixture *fx);
/* Receives fx->work on the receiving end, checking each message, then the
 * end of the stream. */
void recv_workload(struct fixture *fx);
/* Checks one received message against its spec. */
void check_message(struct fixture *fx, const struct ipc_msg *got,
		   const struct msg_spec *want, size_t index, size_t count);

/* ---- leak checks ----------------------------------------------------------- */

int open_fd_count(void);
/* Memory leaked so far, as LeakSanitizer sees it (0 without it). */
int conf_leaks_found(void);
/* "0 -> /dev/pts/0, 1 -> pipe:[123], ..." into out. */
void describe_open_fds(char *out, size_t len);

/* The cmocka test of one run: state points at its struct conf_run. */
void conf_run_isolated(void **state);
/* Must run first in main: remembers the process as it was, blocks SIGCHLD
 * for the deadlines. */
void conf_isolation_init(void);

#endif
