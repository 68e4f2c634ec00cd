/*
 * MemorySanitizer knows what libc's intercepted calls write, but not what
 * the kernel writes through the queue calls that it does not intercept
 * (msgctl IPC_STAT, msgrcv, mq_getattr, mq_timedreceive): after those the
 * bytes written are marked as set, or every read of them is a false report.
 * Nothing anywhere else, and nothing at all outside the msan preset.
 */
#ifndef IPC_MSAN_H
#define IPC_MSAN_H

#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#include <sanitizer/msan_interface.h>
#define IPC_WRITTEN_BY_KERNEL(p, n) __msan_unpoison((p), (n))
#endif
#endif
#ifndef IPC_WRITTEN_BY_KERNEL
#define IPC_WRITTEN_BY_KERNEL(p, n) ((void)(p), (void)(n))
#endif

#endif
