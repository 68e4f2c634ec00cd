/*
 * The input format of the signal_timing_* fuzz targets, shared by their
 * driver (fuzz/signal_driver.c, whose top comment describes the format and
 * the invariants) and by the seed generator (fuzz/seeds.c). After the
 * header comes a channel_* input (channel_driver.h).
 */
#ifndef IPCH_SIGNAL_DRIVER_H
#define IPCH_SIGNAL_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/* Byte 0: the handler flavour. */
#define SIGF_RESTART 0x01u   /* SA_RESTART */
#define SIGF_SELF_PIPE 0x02u /* the handler writes to a self-pipe */
#define SIGF_THREAD 0x04u    /* a second thread sends (IPC_SENDER_THREAD) */
#define SIGF_SIGINFO 0x08u   /* SA_SIGINFO handlers, siginfo checked */
#define SIGF_MASK_BOTH 0x10u /* sa_mask blocks both signals */

/* Byte 1: schedule points in its low 4 bits; then 2 bytes per point. */
#define SIGF_POINTS_MASK 0x0Fu
#define SIGF_MAX_POINTS 15u

int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
