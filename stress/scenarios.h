/*
 * The scenarios, one line each: name, setup, op, check, teardown, and what
 * it checks. Adding one is a line here and a scn_NAME.c with its four
 * functions (stress.h says what each does); `ipch-stress --list` prints
 * this table.
 */
#ifndef STRESS_SCENARIOS_H
#define STRESS_SCENARIOS_H

#include "stress.h"

#define STRESS_SCENARIOS(S) \
	S("counter-sysv-sem", counter_setup_sysv_sem, counter_op, counter_check, counter_teardown, \
	  "counter under a System V semaphore lock (SEM_UNDO): counter == sum of done counts") \
	S("counter-posix-sem", counter_setup_posix_sem, counter_op, counter_check, counter_teardown, \
	  "counter under an unnamed POSIX semaphore (no kill while held): counter == sum of done counts") \
	S("counter-robust-mutex", counter_setup_robust_mutex, counter_op, counter_check, counter_teardown, \
	  "counter under a robust mutex, journal rolled back on OWNER_DIED: counter == sum of done counts") \
	S("rw-region", rw_setup, rw_op, rw_check, rw_teardown, \
	  "seqlock over a CRC-32C record: no accepted copy is torn; a killed writer's record repaired") \
	S("sem-conservation", semcons_setup, semcons_op, semcons_check, semcons_teardown, \
	  "T tokens taken with SEM_UNDO: 0 <= value <= T while running, value == T at the end") \
	S("robust-mutex", robust_setup, robust_op, robust_check, robust_teardown, \
	  "a + b == constant in two steps; holders killed inside, the next repairs from the journal") \
	S("sem-init", seminit_setup, seminit_op, seminit_check, seminit_teardown, \
	  "keyed sets made with a slow initialisation, opened by key: no set used before its values") \
	S("channel-pipe", channel_setup_pipe, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-fifo", channel_setup_fifo, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-tcp", channel_setup_tcp, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-unix-stream", channel_setup_unix_stream, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-sysv-msg", channel_setup_sysv_msg, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-unix-dgram", channel_setup_unix_dgram, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-unix-seqpacket", channel_setup_unix_seqpacket, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-posix-mq", channel_setup_posix_mq, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-shm-ring", channel_setup_shm_ring, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-shm-mpmc-sysv-sem", channel_setup_shm_mpmc_sysv_sem, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY) \
	S("channel-shm-mpmc-posix-sem", channel_setup_shm_mpmc_posix_sem, channel_op, channel_check, channel_teardown, CHANNEL_SUMMARY)

/* The channel-<backend> scenarios (scn_channel.c), one per backend of
 * ipc_backends[]. */
#define CHANNEL_SUMMARY \
	"senders and receivers over the backend: each message once, whole, in its sender's order"

/* Deliberate bugs, in ipch-stress-broken only: the variant, the scenario it
 * breaks, the violation that must follow, and the bug. */
#define STRESS_VARIANTS(V) \
	V("counter-unlocked", "counter-robust-mutex", "LOST-UPDATE", \
	  "the counter updated without taking the lock") \
	V("sem-no-undo", "sem-conservation", "TOKENS-LOST", \
	  "tokens taken without SEM_UNDO: a killed holder's are gone (needs --kill-rate)") \
	V("sem-init-no-otime-wait", "sem-init", "UNINITIALISED-SET", \
	  "openers use a set right after semget(key, 0, 0), before sem_otime says it is ready") \
	V("robust-no-repair", "robust-mutex", "INVARIANT-BROKEN", \
	  "OWNER_DIED made consistent without the repair from the journal") \
	V("rw-no-version-check", "rw-region", "TORN-READ", \
	  "readers accept any copy, whatever the version said") \
	V("lock-never-released", "counter-robust-mutex", "DEADLOCK", \
	  "one worker keeps the lock and sleeps: the watchdog's case") \
	V("ring-no-release-order", "channel-shm-ring", "TORN", \
	  "the ring publishes its tail before it copies the bytes (IPC_RING_BROKEN_ORDER)")

#define STRESS_DECLARE(name, setup, op, check, teardown, summary) \
	int setup(struct stress_run *run); \
	enum stress_op op(struct stress_worker *w); \
	void check(struct stress_run *run); \
	void teardown(struct stress_run *run);
STRESS_SCENARIOS(STRESS_DECLARE)
#undef STRESS_DECLARE

extern const struct stress_scenario stress_scenarios[];
extern const size_t stress_nscenarios;
extern const struct stress_variant stress_variants[];
extern const size_t stress_nvariants;

#endif
