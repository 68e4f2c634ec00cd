/* Shared memory: see include/ipc/shm.h. */
#include "ipc/shm.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "channel_impl.h"
#include "msan.h"
#include "ipc/registry.h"
#include "ipc/sysv_msg.h"
#include "names.h"
#include "sys.h"

/* The header spells the seals as a number, so that it needs no fcntl.h. */
_Static_assert(IPC_MEMFD_SEALS_REQUIRED == (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW),
	       "IPC_MEMFD_SEALS_REQUIRED is not the three seals");

/* The largest file offset, so the largest size ftruncate can be asked for. */
#define OFF_MAX_SIZE ((size_t)INT64_MAX)

/* ---- limits -------------------------------------------------------------- */

/*
 * A number from a /proc/sys file, saturated at SIZE_MAX. Not
 * ipc_read_proc_long: Linux's default shmmax and shmall are ULONG_MAX less
 * 2^24, beyond a long, which that reader rightly refuses.
 */
static int read_proc_size(const char *path, size_t *out)
{
	char text[32], *end;
	unsigned long long v;

	if (ipc_read_proc_line(path, text, sizeof text) != 0)
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || end == text || *end != '\n') {
		errno = EIO;
		return -1;
	}
	*out = errno == ERANGE || v > SIZE_MAX ? SIZE_MAX : (size_t)v;
	return 0;
}

static size_t times_saturated(size_t a, size_t b)
{
	size_t p;

	return __builtin_mul_overflow(a, b, &p) ? SIZE_MAX : p;
}

int ipc_shm_limits(struct ipc_shm_limits *out)
{
	size_t max, all_pages, mni;
	long page = sysconf(_SC_PAGESIZE);
	struct rlimit fsize;

	if (read_proc_size("/proc/sys/kernel/shmmax", &max) != 0 ||
	    read_proc_size("/proc/sys/kernel/shmall", &all_pages) != 0 ||
	    read_proc_size("/proc/sys/kernel/shmmni", &mni) != 0)
		return -1;
	/* A query of this process's own limit: it cannot fail here. */
	if (page <= 0 || getrlimit(RLIMIT_FSIZE, &fsize) != 0) {
		errno = EINVAL;
		return -1;
	}
	*out = (struct ipc_shm_limits){
		.shmmax = max,
		.shmall = times_saturated(all_pages, (size_t)page), /* it counts pages */
		.shmmni = mni,
		.page = (size_t)page,
		.fsize = fsize.rlim_cur == RLIM_INFINITY || fsize.rlim_cur > SIZE_MAX
				 ? SIZE_MAX
				 : (size_t)fsize.rlim_cur,
	};
	return 0;
}

/* Bytes of System V segments in use in this IPC namespace (SHM_INFO counts
 * pages); 0 if the kernel will not say, and shmget then judges. */
static size_t sysv_bytes_in_use(size_t page)
{
	struct shm_info info;

	if (sys_shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info) < 0)
		return 0;
	IPC_WRITTEN_BY_KERNEL(&info, sizeof info);
	return times_saturated(info.shm_tot, page);
}

/* Pages a segment of size bytes takes, in bytes: shmall counts whole pages. */
static size_t page_rounded(size_t size, size_t page)
{
	return size > SIZE_MAX - (page - 1) ? SIZE_MAX : (size + page - 1) / page * page;
}

/*
 * The errno for a region of size bytes of kind (0 if it may be made), and,
 * when buf is not NULL, why in words.
 */
static int judge_size(enum ipc_shm_kind kind, size_t size, char *buf, size_t len)
{
	struct ipc_shm_limits lim;
	size_t used, need;

	if (size == 0) {
		if (buf != NULL)
			snprintf(buf, len, "size 0: a shared memory region holds at "
				 "least one byte");
		return EINVAL;
	}
	if (ipc_shm_limits(&lim) != 0) {
		int err = errno;

		if (buf != NULL)
			snprintf(buf, len, "size %zu: the limits cannot be read: %s",
				 size, strerror(err));
		return err;
	}
	if (kind == IPC_SHM_SYSV) {
		if (size > lim.shmmax) {
			if (buf != NULL)
				snprintf(buf, len, "size %zu is above shmmax "
					 "(/proc/sys/kernel/shmmax) of %zu bytes",
					 size, lim.shmmax);
			return EINVAL;
		}
		used = sysv_bytes_in_use(lim.page);
		need = page_rounded(size, lim.page);
		if (used > lim.shmall || need > lim.shmall - used) {
			if (buf != NULL)
				snprintf(buf, len, "size %zu (%zu pages) is above what "
					 "shmall (/proc/sys/kernel/shmall) of %zu pages "
					 "leaves: %zu pages are in use", size,
					 need / lim.page, lim.shmall / lim.page,
					 used / lim.page);
			return ENOSPC;
		}
	} else if (size > lim.fsize || size > OFF_MAX_SIZE) {
		/* ftruncate past RLIMIT_FSIZE raises SIGXFSZ, which kills. */
		if (buf != NULL)
			snprintf(buf, len, "size %zu is above %s of %zu bytes", size,
				 size > lim.fsize ? "RLIMIT_FSIZE (ulimit -f)"
						  : "the largest file offset",
				 size > lim.fsize ? lim.fsize : OFF_MAX_SIZE);
		return EFBIG;
	}
	if (buf != NULL)
		snprintf(buf, len, "size %zu is within the limits", size);
	return 0;
}

int ipc_shm_check_size(enum ipc_shm_kind kind, size_t size)
{
	int err = judge_size(kind, size, NULL, 0);

	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

const char *ipc_shm_size_error(enum ipc_shm_kind kind, size_t size, char *buf,
			       size_t len)
{
	int saved = errno;

	if (len > 0)
		judge_size(kind, size, buf, len);
	errno = saved;
	return buf;
}

/* ---- System V ------------------------------------------------------------ */

static void note_segment(int id)
{
	char text[24];

	snprintf(text, sizeof text, "%d", id);
	ipc_registry_note("sysv-shm", text);
}

static void forget_segment(int id)
{
	char text[24];

	snprintf(text, sizeof text, "%d", id);
	ipc_registry_forget("sysv-shm", text);
}

/* Every segment is noted, IPC_PRIVATE ones too: until IPC_RMID, one is lost
 * with its creator as surely as a keyed one. */
int ipc_sysv_shm_create(key_t key, size_t size)
{
	int id;

	if (ipc_shm_check_size(IPC_SHM_SYSV, size) != 0)
		return -1;
	id = sys_shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);
	if (id >= 0)
		note_segment(id);
	return id;
}

static int create_segment(key_t key, const void *size)
{
	return ipc_sysv_shm_create(key, *(const size_t *)size);
}

int ipc_sysv_shm_create_keyed(key_t *key, size_t size)
{
	if (ipc_shm_check_size(IPC_SHM_SYSV, size) != 0)
		return -1;
	return ipc_create_with_fresh_key(key, create_segment, &size);
}

/* Asking for read and write, as ipc_sysv_msg_open: another user's 0600
 * segment is EACCES here, not an id that fails at shmat. */
int ipc_sysv_shm_open(key_t key)
{
	return sys_shmget(key, 0, S_IRUSR | S_IWUSR);
}

static void unmapped(struct ipc_shm *out)
{
	*out = (struct ipc_shm){.kind = 0, .addr = NULL, .size = 0, .fd = -1, .id = -1};
}

int ipc_sysv_shm_attach(int id, struct ipc_shm *out)
{
	struct shmid_ds ds;
	void *addr;

	if (sys_shmctl(id, IPC_STAT, &ds) != 0)
		return -1;
	IPC_WRITTEN_BY_KERNEL(&ds, sizeof ds);
	addr = sys_shmat(id, NULL, 0);
	if (addr == (void *)-1)
		return -1;
	unmapped(out);
	out->kind = IPC_SHM_SYSV;
	out->addr = addr;
	out->size = ds.shm_segsz;
	out->id = id;
	return 0;
}

int ipc_sysv_shm_remove(int id)
{
	int r = sys_shmctl(id, IPC_RMID, NULL);

	if (r == 0)
		forget_segment(id);
	return r;
}

int ipc_sysv_shm_private(size_t size, struct ipc_shm *out)
{
	int id = ipc_sysv_shm_create(IPC_PRIVATE, size);
	int err;

	if (id < 0)
		return -1;
	if (ipc_sysv_shm_attach(id, out) != 0) {
		err = errno;
		ipc_sysv_shm_remove(id);
		errno = err;
		return -1;
	}
	/* Removed at once: it lives while attached, and goes with the last
	 * process that detaches, a killed one included. */
	if (ipc_sysv_shm_remove(id) != 0) {
		err = errno;
		ipc_shm_unmap(out);
		errno = err;
		return -1;
	}
	return 0;
}

int ipc_sysv_shm_stat(int id, struct ipc_sysv_shm_stat *out)
{
	struct shmid_ds ds;

	if (sys_shmctl(id, IPC_STAT, &ds) != 0)
		return -1;
	IPC_WRITTEN_BY_KERNEL(&ds, sizeof ds);
	*out = (struct ipc_sysv_shm_stat){
		.segsz = ds.shm_segsz,
		.nattch = ds.shm_nattch,
		.cpid = ds.shm_cpid,
		.lpid = ds.shm_lpid,
		.uid = ds.shm_perm.uid,
		.mode = ds.shm_perm.mode & (0777 | SHM_DEST),
		.removed = (ds.shm_perm.mode & SHM_DEST) != 0,
	};
	return 0;
}

/* ---- descriptors: POSIX and memfd ---------------------------------------- */

static int truncate_to(int fd, size_t size)
{
	int r;

	do
		r = sys_ftruncate(fd, (off_t)size);
	while (r != 0 && errno == EINTR);
	return r;
}

/* Maps all of fd's size bytes, shared, read and write, into out. */
static int map_fd(enum ipc_shm_kind kind, int fd, size_t size,
		  struct ipc_shm *out)
{
	void *addr = sys_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (addr == MAP_FAILED)
		return -1;
	unmapped(out);
	out->kind = kind;
	out->addr = addr;
	out->size = size;
	out->fd = fd;
	return 0;
}

/* ---- POSIX --------------------------------------------------------------- */

int ipc_posix_shm_fresh_name(char *out, size_t len)
{
	return ipc_fresh_name(IPC_SHM_NAME_PREFIX, out, len);
}

/* One name under /dev/shm: "/" and at least one more character, no other
 * "/", and short enough for struct ipc_shm's name. */
static int check_name(const char *name)
{
	return ipc_check_posix_name(name, sizeof ((struct ipc_shm *)0)->name - 2);
}

/* Undoes a creation that failed after shm_open, keeping errno. */
static void abandon_object(const char *name, int fd)
{
	int saved = errno;

	ipc_close_quietly(fd);
	ipc_posix_shm_unlink(name);
	errno = saved;
}

int ipc_posix_shm_create_named(const char *name, size_t size, struct ipc_shm *out)
{
	int fd;

	if (check_name(name) != 0 || ipc_shm_check_size(IPC_SHM_POSIX, size) != 0)
		return -1;
	/* O_EXCL: a taken name is EEXIST, never another's object resized. */
	fd = sys_shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ipc_registry_note("posix-shm", name);
	if (truncate_to(fd, size) != 0 || map_fd(IPC_SHM_POSIX, fd, size, out) != 0) {
		abandon_object(name, fd);
		return -1;
	}
	snprintf(out->name, sizeof out->name, "%s", name);
	return 0;
}

int ipc_posix_shm_create(size_t size, struct ipc_shm *out)
{
	char name[sizeof out->name];

	if (ipc_shm_check_size(IPC_SHM_POSIX, size) != 0)
		return -1;
	for (int tries = 0; tries < 64; tries++) {
		if (ipc_posix_shm_fresh_name(name, sizeof name) != 0)
			return -1;
		if (ipc_posix_shm_create_named(name, size, out) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int ipc_posix_shm_open(const char *name, struct ipc_shm *out)
{
	struct stat st;
	int fd;

	if (check_name(name) != 0)
		return -1;
	fd = sys_shm_open(name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (sys_fstat(fd, &st) != 0)
		goto fail;
	if (st.st_size <= 0 || (uintmax_t)st.st_size > SIZE_MAX) {
		errno = EINVAL; /* nothing to map yet, or more than memory */
		goto fail;
	}
	if (map_fd(IPC_SHM_POSIX, fd, (size_t)st.st_size, out) != 0)
		goto fail;
	snprintf(out->name, sizeof out->name, "%s", name);
	return 0;
fail:
	ipc_close_quietly(fd);
	return -1;
}

int ipc_posix_shm_unlink(const char *name)
{
	int r = sys_shm_unlink(name);

	if (r == 0 || errno == ENOENT)
		ipc_registry_forget("posix-shm", name);
	return r;
}

/* ---- memfd --------------------------------------------------------------- */

int ipc_memfd_create(const char *tag, size_t size, struct ipc_shm *out)
{
	int fd;

	if (ipc_shm_check_size(IPC_SHM_MEMFD, size) != 0)
		return -1;
	fd = sys_memfd_create(tag, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	/* Sealed before anyone else can hold it: no peer ever sees a size
	 * that could still change. */
	if (truncate_to(fd, size) != 0 ||
	    sys_fcntl(fd, F_ADD_SEALS, IPC_MEMFD_SEALS_REQUIRED) != 0 ||
	    map_fd(IPC_SHM_MEMFD, fd, size, out) != 0) {
		ipc_close_quietly(fd);
		return -1;
	}
	return 0;
}

int ipc_memfd_map(int fd, size_t size, struct ipc_shm *out)
{
	struct stat st;
	int seals = sys_fcntl(fd, F_GET_SEALS, 0);

	if (seals < 0) {
		if (errno == EINVAL)
			errno = EPERM; /* a file that cannot be sealed at all */
		return -1;
	}
	/* Without F_SEAL_SHRINK the sender could cut the file under our
	 * mapping (SIGBUS at the next touch); without F_SEAL_SEAL it could
	 * still add seals, F_SEAL_GROW without it is only a promise. */
	if ((seals & IPC_MEMFD_SEALS_REQUIRED) != IPC_MEMFD_SEALS_REQUIRED) {
		errno = EPERM;
		return -1;
	}
	if (sys_fstat(fd, &st) != 0)
		return -1;
	if (size == 0 || st.st_size < 0 || (uintmax_t)st.st_size != size) {
		errno = EINVAL;
		return -1;
	}
	return map_fd(IPC_SHM_MEMFD, fd, size, out);
}

/* ---- every kind ---------------------------------------------------------- */

int ipc_shm_unmap(struct ipc_shm *r)
{
	int err = 0;

	if (r->addr != NULL) {
		int done = r->kind == IPC_SHM_SYSV ? sys_shmdt(r->addr)
						   : sys_munmap(r->addr, r->size);

		if (done != 0)
			err = errno;
	}
	if (r->fd >= 0 && sys_close(r->fd) != 0 && err == 0)
		err = errno;
	r->addr = NULL;
	r->size = 0;
	r->fd = -1;
	r->id = -1;
	r->name[0] = '\0';
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}
