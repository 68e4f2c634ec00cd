/*
 * The input format of the sem_model target, shared by fuzz/sem_model.c
 * (whose top comment describes it) and the seed generator (fuzz/seeds.c).
 *
 * An input is a header byte, then steps until it ends; each starts with an
 * opcode byte whose low 2 bits say what it is and whose higher bits are its
 * arguments.
 */
#ifndef IPCH_SEM_MODEL_FORMAT_H
#define IPCH_SEM_MODEL_FORMAT_H

#include <stdint.h>

/* Header: nsems is 1 + the low 3 bits (1..8); the other bits are unused. */
#define SMF_NSEMS_MASK 0x07u

#define SMF_STEP_MASK 0x03u
#define SMF_SEMOP 0u
#define SMF_SETVAL 1u
#define SMF_READ 2u
#define SMF_EXIT 3u

/* Simulated processes: 0 is the target itself, 1..3 threads with semadj
 * lists of their own (fuzz/sem_model.c says how). */
#define SMF_PROCS 4u

/*
 * semop: bits 2-3 the process, bits 4-5 how many operations follow less
 * one (1..4), bits 6-7 how many the call passes: as read, none (EINVAL),
 * or the operations repeated in turn up to semopm or semopm + 1 (E2BIG).
 */
#define SMF_PROC_SHIFT 2
#define SMF_NOPS_SHIFT 4
#define SMF_COUNT_SHIFT 6
#define SMF_OPS_MAX 4u
enum smf_count {
	SMF_COUNT_AS_READ = 0,
	SMF_COUNT_NONE = 1,
	SMF_COUNT_SEMOPM = 2,
	SMF_COUNT_SEMOPM_PLUS_1 = 3,
};

/* A repeated call is cut to this many operations where semopm is larger. */
#define SMF_CALL_MAX 1024u

static inline uint8_t smf_semop_code(unsigned proc, unsigned nops,
				     enum smf_count count)
{
	return (uint8_t)(SMF_SEMOP | proc << SMF_PROC_SHIFT |
			 (nops - 1) << SMF_NOPS_SHIFT |
			 (unsigned)count << SMF_COUNT_SHIFT);
}

/*
 * An operation is two bytes. The first: bits 0-2 sem_num; bit 3 replaces it
 * with smf_far_nums[bits 0-2], numbers beyond every set (EFBIG), among them
 * the ones a 64-bit mask of sem_num % 64 confuses with 0 and 1; bit 4
 * IPC_NOWAIT; bit 5 SEM_UNDO; bits 6-7 unused. The second: sem_op, below
 * 0xF0 (b % 7) - 3, so -3..3; 0xF0..0xFF from smf_far_ops, the ends of the
 * value and semadj ranges.
 */
#define SMF_NUM_MASK 0x07u
#define SMF_NUM_FAR 0x08u
#define SMF_OP_NOWAIT 0x10u
#define SMF_OP_UNDO 0x20u
#define SMF_FAR_OP 0xF0u

static const unsigned short smf_far_nums[8] = {
	8, 9, 63, 64, 65, 255, 32768, 65535,
};

static const short smf_far_ops[16] = {
	32767, -32767, 32766, -32766, -32768, 16384, -16384, 1000,
	-1000, 255, -255, 256, -256, 4, -4, 0,
};

static inline unsigned short smf_sem_num(uint8_t b)
{
	return b & SMF_NUM_FAR ? smf_far_nums[b & SMF_NUM_MASK]
			       : (unsigned short)(b & SMF_NUM_MASK);
}

static inline short smf_sem_op(uint8_t b)
{
	return b >= SMF_FAR_OP ? smf_far_ops[b & 0x0Fu] : (short)(b % 7 - 3);
}

/* The byte of sem_op v in -3..3. */
static inline uint8_t smf_small_op(int v)
{
	return (uint8_t)(v + 3);
}

/*
 * SETVAL: the semaphore (one byte, read as a signed char: -128..127), then
 * the value (2 bytes, big-endian; 0xFF00..0xFFFF are -256..-1, so that
 * negative values and those above SEMVMX both occur).
 */
static inline int smf_setval_value(uint16_t v)
{
	return v >= 0xFF00u ? (int)v - 0x10000 : (int)v;
}

static inline int smf_semnum(uint8_t b)
{
	return (int)(int8_t)b;
}

/* Read: bit 2 GETVAL of the semaphore in the next byte (as SETVAL's), else
 * GETALL. */
#define SMF_READ_GETVAL 0x04u

/* Exit: bits 2-3 the process 1..3 that exits; 0: each of them in turn.
 * Bit 4: the process's thread ends; else the thread renews its undo list
 * with unshare(CLONE_SYSVSEM), the cheaper exit. */
#define SMF_EXIT_THREAD 0x10u

#endif
