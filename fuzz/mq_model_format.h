/*
 * The input format of the message queue model targets, shared by
 * fuzz/mq_sysv_model.c and fuzz/mq_posix_model.c (whose top comments
 * describe it) and by the seed generator (fuzz/seeds.c); and, at the end,
 * what the two targets do alike when they run an input.
 *
 * An input is a short header, then operations until it ends; each starts
 * with an opcode byte whose low 2 bits say what it is and whose higher bits
 * are its flags.
 */
#ifndef IPCH_MQ_MODEL_FORMAT_H
#define IPCH_MQ_MODEL_FORMAT_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MQF_OP_MASK 0x03u
#define MQF_SEND 0u
#define MQF_RECV 1u
#define MQF_STAT 2u
#define MQF_SYSV_SET_QBYTES 3u /* System V; for POSIX, 3 is MQF_STAT too */

/* System V receive flags, in the opcode byte (IPC_NOWAIT is always set). */
#define MQF_SYSV_NOERROR 0x04u
#define MQF_SYSV_EXCEPT 0x08u

/* POSIX: the operation goes through the blocking descriptor with a timeout
 * of 0, not the O_NONBLOCK one. */
#define MQF_POSIX_TIMED 0x04u

/*
 * System V message types and selectors, one byte each. A type byte below
 * MQF_SPECIAL is that type (0 is refused); a selector byte below 0x80 is
 * that selector (0: any), 0x80..0xEF are -1..-112; for both, 0xF0..0xFF
 * pick from mqf_sysv_specials: the ends of long and int and the values
 * around them, where a type could be cut or a sign lost.
 */
#define MQF_SPECIAL 0xF0u
#define MQF_SELECTOR_NEGATIVE 0x80u
static const long mqf_sysv_specials[16] = {
	LONG_MAX, LONG_MAX - 1, INT_MAX, (long)INT_MAX + 1,
	(long)UINT_MAX, (long)UINT_MAX + 1, 255, 256,
	-1, -2, -255, -256,
	INT_MIN, (long)INT_MIN - 1, LONG_MIN + 1, LONG_MIN,
};

static inline long mqf_sysv_type(uint8_t b)
{
	return b < MQF_SPECIAL ? (long)b : mqf_sysv_specials[b & 0x0Fu];
}

static inline long mqf_sysv_selector(uint8_t b)
{
	if (b >= MQF_SPECIAL)
		return mqf_sysv_specials[b & 0x0Fu];
	if (b >= MQF_SELECTOR_NEGATIVE)
		return -(long)(b - MQF_SELECTOR_NEGATIVE + 1);
	return (long)b;
}

/*
 * POSIX priorities, one byte: below MQF_SPECIAL that priority; 0xF0..0xFF
 * the values around prio_max (sysconf(_SC_MQ_PRIO_MAX)) and the ends of
 * int and unsigned.
 */
static inline unsigned mqf_posix_prio(uint8_t b, unsigned prio_max)
{
	const unsigned specials[16] = {
		prio_max - 1, prio_max, prio_max + 1, 2 * prio_max - 1,
		2 * prio_max, 65535, 65536, INT_MAX,
		(unsigned)INT_MAX + 1, UINT_MAX - 1, UINT_MAX, prio_max / 2,
		255, 256, 1000, prio_max - 2,
	};

	return b < MQF_SPECIAL ? b : specials[b & 0x0Fu];
}

/*
 * POSIX receive buffers, one byte, relative to the queue's msgsize: 0 is
 * exactly msgsize, 0x01..0x7F msgsize plus that, 0x80..0xFF msgsize - 1
 * minus the low 7 bits (at least 0): too small.
 */
#define MQF_CAP_SHORT 0x80u
static inline size_t mqf_posix_cap(uint8_t b, size_t msgsize)
{
	size_t less = (size_t)(b & 0x7Fu) + 1;

	if (!(b & MQF_CAP_SHORT))
		return msgsize + b;
	return less < msgsize ? msgsize - less : 0;
}

/*
 * Message text: byte i of a message with pattern byte p is
 * mqf_text_byte(p + i), so that every text is a window on one sequence,
 * made once and copied from. A byte moved by one or by 256 places shows.
 * Sizes come from 2-byte fields (plus one), so MQF_TEXT_SPAN covers every
 * window.
 */
#define MQF_TEXT_SPAN (256u + 65536u + 2u)
static inline uint8_t mqf_text_byte(size_t k)
{
	return (uint8_t)(7u * k + (k >> 8));
}

/* ---- running an input ---------------------------------------------------- */

/* The sequence every text is a window on, made once. */
static inline void mqf_text_init(uint8_t stream[MQF_TEXT_SPAN])
{
	for (size_t k = 0; k < MQF_TEXT_SPAN; k++)
		stream[k] = mqf_text_byte(k);
}

/* Exactly len bytes (1 for 0), so that a call that reads or writes past
 * them is caught. Out of memory, the process exits (its atexit handlers
 * remove its queue): no input is to blame. */
static inline uint8_t *mqf_alloc_exact(size_t len)
{
	uint8_t *p = malloc(len > 0 ? len : 1);

	if (p == NULL) {
		fprintf(stderr, "%s: out of memory for a message: %s\n",
			program_invocation_short_name, strerror(errno));
		exit(1);
	}
	return p;
}

/* The text of a message: len bytes from pattern of the stream that
 * mqf_text_init made, in exactly len bytes. */
static inline uint8_t *mqf_make_text(const uint8_t *stream, size_t len,
				     uint8_t pattern)
{
	uint8_t *text = mqf_alloc_exact(len);

	if (len > 0)
		memcpy(text, stream + pattern, len);
	return text;
}

/* A call's outcome the models' way: the result, or -errno. */
static inline long mqf_outcome(long r)
{
	return r < 0 ? -errno : r;
}

/* An outcome for a report: "12", or "-EAGAIN". */
static inline const char *mqf_outcome_name(long r, char *buf, size_t len)
{
	const char *name = r < 0 ? strerrorname_np((int)-r) : NULL;

	if (r >= 0)
		snprintf(buf, len, "%ld", r);
	else
		snprintf(buf, len, "-%s", name != NULL ? name : "?");
	return buf;
}

/* Both outcomes' names, for a report's format; the caller declares
 * char got_name[32], want_name[32]. */
#define MQF_OUTCOMES(got, want)                                               \
	mqf_outcome_name(got, got_name, sizeof got_name),                     \
		mqf_outcome_name(want, want_name, sizeof want_name)

#endif
