/*
 * The system-call seam (private to impl/): every system call impl/ makes is
 * one of these. Built plain (IPC_SEAM undefined) they are the libc calls,
 * inlined, at no cost. Built with IPC_SEAM (the ipc::seam library) they are
 * defined in seam.c, where the process's fault plan decides each one (see
 * include/ipc/fault.h).
 */
#ifndef IPC_SYS_H
#define IPC_SYS_H

#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/sem.h" /* union ipc_semun */

#define IPC_SYS_CALLS(X)                                                     \
	X(ssize_t, read, (int fd, void *buf, size_t len), (fd, buf, len))          \
	X(ssize_t, write, (int fd, const void *buf, size_t len), (fd, buf, len))   \
	X(ssize_t, pread, (int fd, void *buf, size_t len, off_t at),               \
	  (fd, buf, len, at))                                                      \
	X(ssize_t, writev, (int fd, const struct iovec *iov, int n), (fd, iov, n)) \
	X(ssize_t, recvmsg, (int fd, struct msghdr *m, int flags), (fd, m, flags)) \
	X(ssize_t, sendmsg, (int fd, const struct msghdr *m, int flags),           \
	  (fd, m, flags))                                                          \
	X(int, poll, (struct pollfd *fds, nfds_t n, int ms), (fds, n, ms))         \
	X(int, ppoll, (struct pollfd *fds, nfds_t n, const struct timespec *t,     \
		       const sigset_t *mask),                                      \
	  (fds, n, t, mask))                                                       \
	X(int, open, (const char *path, int flags, mode_t mode),                   \
	  (path, flags, mode))                                                     \
	X(int, close, (int fd), (fd))                                              \
	X(int, pipe2, (int fds[2], int flags), (fds, flags))                       \
	X(int, mkfifo, (const char *path, mode_t mode), (path, mode))              \
	X(char *, mkdtemp, (char *tmpl), (tmpl))                                   \
	X(int, unlink, (const char *path), (path))                                 \
	X(int, rmdir, (const char *path), (path))                                  \
	X(int, socket, (int domain, int type, int proto), (domain, type, proto))   \
	X(int, bind, (int fd, const struct sockaddr *a, socklen_t n), (fd, a, n))  \
	X(int, listen, (int fd, int backlog), (fd, backlog))                       \
	X(int, accept4, (int fd, struct sockaddr *a, socklen_t *n, int flags),     \
	  (fd, a, n, flags))                                                       \
	X(int, connect, (int fd, const struct sockaddr *a, socklen_t n),           \
	  (fd, a, n))                                                              \
	X(int, getsockopt, (int fd, int lvl, int opt, void *v, socklen_t *n),      \
	  (fd, lvl, opt, v, n))                                                    \
	X(int, setsockopt, (int fd, int lvl, int opt, const void *v, socklen_t n), \
	  (fd, lvl, opt, v, n))                                                    \
	X(int, getsockname, (int fd, struct sockaddr *a, socklen_t *n), (fd, a, n)) \
	X(int, fcntl, (int fd, int cmd, int arg), (fd, cmd, arg))                  \
	X(int, fstat, (int fd, struct stat *st), (fd, st))                         \
	X(int, lstat, (const char *path, struct stat *st), (path, st))             \
	X(pid_t, getpid, (void), ())                                               \
	X(uid_t, geteuid, (void), ())                                              \
	X(int, posix_spawnp, (pid_t *pid, const char *file,                        \
			      const posix_spawn_file_actions_t *fa,                \
			      const posix_spawnattr_t *attr, char *const argv[],   \
			      char *const envp[]),                                 \
	  (pid, file, fa, attr, argv, envp))                                       \
	X(pid_t, waitpid, (pid_t pid, int *status, int options),                   \
	  (pid, status, options))                                                  \
	X(int, kill, (pid_t pid, int sig), (pid, sig))                             \
	X(int, pthread_sigmask, (int how, const sigset_t *set, sigset_t *old),     \
	  (how, set, old))                                                         \
	X(int, sigpending, (sigset_t *set), (set))                                 \
	X(int, sigtimedwait, (const sigset_t *set, siginfo_t *info,                \
			      const struct timespec *timeout),                     \
	  (set, info, timeout))                                                    \
	X(int, socketpair, (int domain, int type, int proto, int sv[2]),           \
	  (domain, type, proto, sv))                                               \
	X(int, msgget, (key_t key, int flags), (key, flags))                       \
	X(int, msgsnd, (int id, const void *msg, size_t len, int flags),           \
	  (id, msg, len, flags))                                                   \
	X(ssize_t, msgrcv, (int id, void *msg, size_t len, long type, int flags),  \
	  (id, msg, len, type, flags))                                             \
	X(int, msgctl, (int id, int cmd, struct msqid_ds *ds), (id, cmd, ds))      \
	X(key_t, ftok, (const char *path, int id), (path, id))                     \
	X(mqd_t, mq_open, (const char *name, int flags, mode_t mode,               \
			   struct mq_attr *attr),                                  \
	  (name, flags, mode, attr))                                               \
	X(int, mq_close, (mqd_t q), (q))                                           \
	X(int, mq_unlink, (const char *name), (name))                              \
	X(int, mq_timedsend, (mqd_t q, const char *msg, size_t len, unsigned prio, \
			      const struct timespec *at),                          \
	  (q, msg, len, prio, at))                                                 \
	X(ssize_t, mq_timedreceive, (mqd_t q, char *msg, size_t len,               \
				     unsigned *prio, const struct timespec *at),   \
	  (q, msg, len, prio, at))                                                 \
	X(int, mq_getattr, (mqd_t q, struct mq_attr *attr), (q, attr))             \
	X(int, mq_setattr, (mqd_t q, const struct mq_attr *attr,                   \
			    struct mq_attr *old),                                  \
	  (q, attr, old))                                                          \
	X(int, mq_notify, (mqd_t q, const struct sigevent *sev), (q, sev))         \
	X(int, sigaction, (int sig, const struct sigaction *act,                   \
			   struct sigaction *old),                                 \
	  (sig, act, old))                                                         \
	X(int, sigsuspend, (const sigset_t *mask), (mask))                         \
	X(int, sigqueue, (pid_t pid, int sig, const union sigval value),           \
	  (pid, sig, value))                                                       \
	X(unsigned, alarm, (unsigned seconds), (seconds))                          \
	X(int, timer_create, (clockid_t clock, struct sigevent *sev,               \
			      timer_t *t),                                         \
	  (clock, sev, t))                                                         \
	X(int, timer_settime, (timer_t t, int flags,                               \
			       const struct itimerspec *value,                     \
			       struct itimerspec *old),                            \
	  (t, flags, value, old))                                                  \
	X(int, timer_delete, (timer_t t), (t))                                     \
	X(int, signalfd, (int fd, const sigset_t *mask, int flags),                \
	  (fd, mask, flags))                                                       \
	X(int, pidfd_open, (pid_t pid, unsigned flags), (pid, flags))            \
	X(int, shmget, (key_t key, size_t size, int flags), (key, size, flags))    \
	X(void *, shmat, (int id, const void *addr, int flags), (id, addr, flags)) \
	X(int, shmdt, (const void *addr), (addr))                                  \
	X(int, shmctl, (int id, int cmd, struct shmid_ds *ds), (id, cmd, ds))      \
	X(int, shm_open, (const char *name, int flags, mode_t mode),               \
	  (name, flags, mode))                                                     \
	X(int, shm_unlink, (const char *name), (name))                             \
	X(int, ftruncate, (int fd, off_t len), (fd, len))                          \
	X(void *, mmap, (void *addr, size_t len, int prot, int flags, int fd,      \
			 off_t off),                                               \
	  (addr, len, prot, flags, fd, off))                                       \
	X(int, munmap, (void *addr, size_t len), (addr, len))                      \
	X(int, memfd_create, (const char *name, unsigned flags), (name, flags))    \
	X(int, semget, (key_t key, int nsems, int flags), (key, nsems, flags))     \
	X(int, semtimedop, (int id, struct sembuf *ops, size_t n,                  \
			    const struct timespec *timeout),                       \
	  (id, ops, n, timeout))                                                   \
	X(int, semctl, (int id, int num, int cmd, union ipc_semun arg),            \
	  (id, num, cmd, arg))                                                     \
	X(sem_t *, sem_open, (const char *name, int flags, mode_t mode,            \
			      unsigned value),                                     \
	  (name, flags, mode, value))                                              \
	X(int, sem_close, (sem_t *s), (s))                                         \
	X(int, sem_unlink, (const char *name), (name))                             \
	X(int, sem_init, (sem_t *s, int pshared, unsigned value),                  \
	  (s, pshared, value))                                                     \
	X(int, sem_destroy, (sem_t *s), (s))                                       \
	X(int, sem_wait, (sem_t *s), (s))                                          \
	X(int, sem_timedwait, (sem_t *s, const struct timespec *at), (s, at))      \
	X(int, sem_trywait, (sem_t *s), (s))                                       \
	X(int, sem_post, (sem_t *s), (s))                                          \
	X(int, sem_getvalue, (sem_t *s, int *value), (s, value))                   \
	X(long, futex, (uint32_t *word, int op, uint32_t val,                      \
			const struct timespec *timeout),                           \
	  (word, op, val, timeout))

#ifdef IPC_SEAM
#define IPC_SYS_DECLARE(ret, name, params, args) ret sys_##name params;
IPC_SYS_CALLS(IPC_SYS_DECLARE)
#undef IPC_SYS_DECLARE
#else
#include <pthread.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
/* futex(2) has no libc wrapper. */
static inline long futex(uint32_t *word, int op, uint32_t val,
			 const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}
#define IPC_SYS_INLINE(ret, name, params, args)                               \
	static inline ret sys_##name params { return name args; }
IPC_SYS_CALLS(IPC_SYS_INLINE)
#undef IPC_SYS_INLINE
#endif

#endif
