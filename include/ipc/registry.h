/*
 * The object registry: every kernel object or file the project makes that
 * could outlive its process (System V queues, named POSIX queues, private
 * directories of sockets and FIFOs, and the harness's scratch directories)
 * is noted while it exists, so that `ipch clean` and the test sweeper can
 * remove it after its creator was killed. See docs/cleanup.md. The library
 * notes its own objects; a harness notes what it makes itself.
 *
 * Only when IPCH_REGISTRY names a directory: a library used on its own
 * writes nothing. An entry is a file "<kind>@<id>" holding
 * "<pid> <uid> <id>\n". Registry files are the harness's bookkeeping, not
 * the mechanism: they use libc directly, never the fault seam, so they
 * shift no fault plan, and their failure is ignored (an object without an
 * entry is still found by its name or key).
 */
#ifndef IPC_REGISTRY_H
#define IPC_REGISTRY_H

/* kind: "sysv-msg" (id: the queue id), "posix-mq" (id: the name), "dir"
 * (id: the path of an ipc-XXXXXX directory), "scratch" (id: the path of a
 * harness's ipch-NAME-XXXXXX directory, removed with what it holds). */
void ipc_registry_note(const char *kind, const char *id);
void ipc_registry_forget(const char *kind, const char *id);

#endif
