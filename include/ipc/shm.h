/*
 * Shared memory, one small function per job: System V segments, POSIX
 * shared memory objects, and sealed memfd regions passed over a Unix
 * socket.
 *
 * As with the queue headers, functions return -1 (or NULL) with errno as the
 * kernel set it, plus the project's own checks:
 *  - sizes are checked against the system's limits before anything is made
 *    (EINVAL: 0 or above shmmax; ENOSPC: above what shmall leaves; EFBIG:
 *    above RLIMIT_FSIZE for a file-backed region), and ipc_shm_size_error
 *    says which limit in words;
 *  - everything is created 0600 and exclusive (IPC_EXCL, O_EXCL), mapped
 *    shared, read and write, close-on-exec.
 *
 * A region is one mapping in this process, of one of three kinds:
 *  - System V: ipc_sysv_shm_private() makes an IPC_PRIVATE segment, attaches
 *    it and marks it removed (IPC_RMID) at once: it lives while attached,
 *    fork() attaches the child too, and a crash leaks nothing. Keyed
 *    segments for unrelated processes: create, attach in each party, then
 *    remove as soon as all have attached (the segment is noted in the object
 *    registry, docs/cleanup.md, until then).
 *  - POSIX: shm_open O_CREAT|O_EXCL under a fresh name "/ipch.<pid>.<hex>",
 *    ftruncate, mmap; the name is noted in the registry until unlinked, and
 *    should be unlinked as soon as the parties have opened it.
 *  - memfd: memfd_create with MFD_ALLOW_SEALING, sized, then sealed
 *    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) before anyone else sees it:
 *    no name, nothing to leak. A receiver maps a descriptor only if those
 *    seals are set and the size is what it expects, so a peer cannot shrink
 *    the region under it (SIGBUS) or hand it a short one.
 */
#ifndef IPC_SHM_H
#define IPC_SHM_H

#include <stddef.h>
#include <sys/types.h>

#define IPC_SHM_NAME_PREFIX "/ipch."

enum ipc_shm_kind {
	IPC_SHM_SYSV = 1,
	IPC_SHM_POSIX,
	IPC_SHM_MEMFD,
};

struct ipc_shm {
	enum ipc_shm_kind kind;
	void *addr;     /* the mapping (NULL when not mapped) */
	size_t size;    /* its length in bytes */
	int fd;         /* POSIX and memfd: the descriptor, or -1 once closed */
	int id;         /* System V: the segment id, else -1 */
	char name[64];  /* POSIX: the object's name while it has one, else "" */
};

/* The system's limits, from /proc/sys/kernel/shm{max,all,mni} and the page
 * size; RLIMIT_FSIZE for file-backed regions. */
struct ipc_shm_limits {
	size_t shmmax;     /* largest System V segment, bytes */
	size_t shmall;     /* all System V segments together, bytes */
	size_t shmmni;     /* System V segments in the system */
	size_t page;       /* the page size */
	size_t fsize;      /* RLIMIT_FSIZE (SIZE_MAX if unlimited) */
};
int ipc_shm_limits(struct ipc_shm_limits *out);

/* 0 if a region of size bytes of kind may be made, else -1 with errno (see
 * above); ipc_shm_size_error then describes it: "size 0 ...", "... is above
 * shmmax (/proc/sys/kernel/shmmax) of N bytes", ... */
int ipc_shm_check_size(enum ipc_shm_kind kind, size_t size);
const char *ipc_shm_size_error(enum ipc_shm_kind kind, size_t size, char *buf,
			       size_t len);

/* ---- System V ------------------------------------------------------------ */

/* A new segment of size bytes (key IPC_PRIVATE, or a key: EEXIST if taken),
 * 0600. Returns its id. The segment is noted in the registry until
 * ipc_sysv_shm_remove (an IPC_PRIVATE one too: until then it is lost with
 * its creator as surely as a keyed one). */
int ipc_sysv_shm_create(key_t key, size_t size);
/* The same under a fresh key of the project's range (IPC_SYSV_KEY_PREFIX,
 * include/ipc/sysv_msg.h), put in *key. */
int ipc_sysv_shm_create_keyed(key_t *key, size_t size);
/* An existing segment by key (ENOENT; EACCES if not ours to read and
 * write); its size is what IPC_STAT says. */
int ipc_sysv_shm_open(key_t key);
/* shmat, read and write: out->addr and out->size. */
int ipc_sysv_shm_attach(int id, struct ipc_shm *out);
/* IPC_RMID: the segment goes when the last process detaches. */
int ipc_sysv_shm_remove(int id);
/* create(IPC_PRIVATE) + attach + remove: see above. */
int ipc_sysv_shm_private(size_t size, struct ipc_shm *out);

struct ipc_sysv_shm_stat {
	size_t segsz;
	size_t nattch;   /* processes attached */
	pid_t cpid, lpid;
	uid_t uid;
	mode_t mode;     /* permission bits, and SHM_DEST once removed */
	int removed;     /* IPC_RMID was done: gone at the last detach */
};
int ipc_sysv_shm_stat(int id, struct ipc_sysv_shm_stat *out);

/* ---- POSIX --------------------------------------------------------------- */

/* A fresh project name into out (at least 64 bytes). */
int ipc_posix_shm_fresh_name(char *out, size_t len);
/* A new object under a fresh name (kept in out->name), sized and mapped. */
int ipc_posix_shm_create(size_t size, struct ipc_shm *out);
/* The same under the caller's name (EEXIST if taken: the object there is
 * left as it was; EINVAL for a bad name, ENAMETOOLONG beyond out->name). */
int ipc_posix_shm_create_named(const char *name, size_t size,
			       struct ipc_shm *out);
/* An existing object by name, mapped whole (its size from fstat): ENOENT,
 * EACCES; EINVAL for a bad name or an empty object. */
int ipc_posix_shm_open(const char *name, struct ipc_shm *out);
/* shm_unlink, and the registry entry; the mappings stay. */
int ipc_posix_shm_unlink(const char *name);

/* ---- memfd --------------------------------------------------------------- */

#define IPC_MEMFD_SEALS_REQUIRED 0x0007 /* F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW */

/* A new sealed region of size bytes, mapped; tag names it in /proc. */
int ipc_memfd_create(const char *tag, size_t size, struct ipc_shm *out);
/* Maps a region received from a peer: EPERM if it lacks the seals above,
 * EINVAL if its size is not exactly size. The descriptor becomes out->fd
 * (the region's, closed by ipc_shm_unmap) only on success. */
int ipc_memfd_map(int fd, size_t size, struct ipc_shm *out);

/* ---- every kind ---------------------------------------------------------- */

/* Unmaps (munmap or shmdt) and closes the descriptor. The object itself is
 * not removed: see ipc_sysv_shm_remove, ipc_posix_shm_unlink. Never fails
 * in a way a caller can mend; returns -1 with errno for a test to see. */
int ipc_shm_unmap(struct ipc_shm *r);

#endif
