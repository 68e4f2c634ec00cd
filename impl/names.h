/*
 * Names and keys the project makes for its kernel objects (private to
 * impl/): fresh POSIX names "/ipch.<pid>.<hex>" (queues, shared memory,
 * semaphores), the check every POSIX name gets, and fresh System V keys of
 * the project's range. A sweeper knows the project's objects by them.
 */
#ifndef IPC_NAMES_H
#define IPC_NAMES_H

#include <stddef.h>
#include <sys/types.h>

/* prefix (e.g. "/ipch."), this process's pid, a dot, random hex digits. */
int ipc_fresh_name(const char *prefix, char *out, size_t len);

/* "/" and one more component of at most longest bytes: 0, or -1 with
 * EINVAL (no leading "/", a later "/", nothing after it) or ENAMETOOLONG. */
int ipc_check_posix_name(const char *name, size_t longest);

/*
 * Makes an object under a fresh key of the project's range (never
 * IPC_PRIVATE): calls create(key, arg) with new keys while it fails with
 * EEXIST, at most 64 times (then EEXIST). Returns what create returned; on
 * success *key is the key used. Random bits are not for secrecy (IPC_EXCL
 * keeps a taken key from being used), only to make a collision rare.
 */
int ipc_create_with_fresh_key(key_t *key, int (*create)(key_t key, const void *arg),
			      const void *arg);

#endif
