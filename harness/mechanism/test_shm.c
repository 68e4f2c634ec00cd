/*
 * Shared memory against the kernel's rules: a private System V segment
 * marked removed at once yet shared with a forked child until the last
 * detach; keys taken (EEXIST); 0600 against another user; sizes refused
 * before anything is made (0, above shmmax, above RLIMIT_FSIZE) with words
 * that name the limit; POSIX names that live in /dev/shm until unlinked,
 * mappings that outlive the name, O_EXCL on a taken name; memfd seals that
 * hold (no growing, no shrinking, no new seals), a receiver that refuses
 * an unsealed or wrongly sized region, and a region passed over a Unix
 * socket that both processes see; EINTR on ftruncate retried; the
 * registry's entries; and a failure at each system call leaving nothing.
 *
 * Every segment, name and mapping a test makes is removed by the teardown,
 * also when the test fails half-way; the teardown then fails the test if a
 * segment this process created or a /dev/shm file of its names is left.
 */
#include "mech_support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/fault.h"
#include "ipc/shm.h"
#include "ipc/sysv_msg.h"
#include "ipc/unix.h"

#define MAX_SEGMENTS 8
#define MAX_NAMES 8
#define MAX_REGIONS 8
#define WAIT_MS 10000

struct fixture {
	struct ipc_shm r[MAX_REGIONS]; /* unmapped by the teardown if mapped */
	struct mech_report *report;    /* shared with the test's children */
	size_t page;
};

static struct fixture fixture;
static int segments[MAX_SEGMENTS];          /* -1 for none */
static char names[MAX_NAMES][NAME_MAX + 1]; /* "" for none */

/* ---- the system's view --------------------------------------------------- */

/* System V segments whose creator is pid, from /proc/sysvipc/shm; with
 * remove, each is removed too (so that one test's leak fails that test
 * only). */
static size_t segments_of(pid_t pid, int remove)
{
	FILE *f = fopen("/proc/sysvipc/shm", "r");
	char line[512];
	size_t n = 0;
	long cpid;
	int id;

	if (f == NULL)
		fail_msg("cannot read /proc/sysvipc/shm: %s", strerror(errno));
	if (fgets(line, sizeof line, f) == NULL) /* the column names */
		line[0] = '\0';
	/* key shmid perms size cpid ... */
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "%*d %d %*o %*u %ld", &id, &cpid) == 2 && cpid == pid) {
			n++;
			if (remove)
				shmctl(id, IPC_RMID, NULL);
		}
	fclose(f);
	return n;
}

static size_t segments_created_by(pid_t pid) { return segments_of(pid, 0); }

static int segment_exists(int id)
{
	FILE *f = fopen("/proc/sysvipc/shm", "r");
	char line[512];
	int found = 0, shmid;

	if (f == NULL)
		fail_msg("cannot read /proc/sysvipc/shm: %s", strerror(errno));
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "%*d %d", &shmid) == 1 && shmid == id)
			found = 1;
	fclose(f);
	return found;
}

/* Files of /dev/shm named as the project names pid's objects; with
 * remove, each is unlinked too. */
static size_t dev_shm_files(pid_t pid, int remove)
{
	DIR *d = opendir("/dev/shm");
	char prefix[64];
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		fail_msg("cannot read /dev/shm: %s", strerror(errno));
	snprintf(prefix, sizeof prefix, "%s%ld.", &IPC_SHM_NAME_PREFIX[1], (long)pid);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			n++;
			if (remove)
				unlinkat(dirfd(d), e->d_name, 0);
		}
	closedir(d);
	return n;
}

static size_t dev_shm_files_of(pid_t pid) { return dev_shm_files(pid, 0); }

static int in_dev_shm(const char *name, struct stat *st)
{
	char path[PATH_MAX];
	struct stat ignored;

	snprintf(path, sizeof path, "/dev/shm/%s", name + 1);
	return lstat(path, st != NULL ? st : &ignored) == 0;
}

/* ---- fixture ------------------------------------------------------------- */

static int track_segment(int id)
{
	if (id < 0)
		fail_msg("cannot make a segment: %s", strerror(errno));
	for (size_t i = 0; i < MAX_SEGMENTS; i++)
		if (segments[i] < 0)
			return segments[i] = id;
	ipc_sysv_shm_remove(id);
	fail_msg("more than %d segments in one test", MAX_SEGMENTS);
	return -1;
}

static void untrack_segment(int id)
{
	for (size_t i = 0; i < MAX_SEGMENTS; i++)
		if (segments[i] == id)
			segments[i] = -1;
}

static void track_name(const char *name)
{
	for (size_t i = 0; i < MAX_NAMES; i++)
		if (names[i][0] == '\0') {
			snprintf(names[i], sizeof names[i], "%s", name);
			return;
		}
	shm_unlink(name);
	fail_msg("more than %d names in one test", MAX_NAMES);
}

static void untrack_name(const char *name)
{
	for (size_t i = 0; i < MAX_NAMES; i++)
		if (strcmp(names[i], name) == 0)
			names[i][0] = '\0';
}

/* A POSIX object made by the API, its name tracked. */
static void posix_create(size_t size, struct ipc_shm *out)
{
	if (ipc_posix_shm_create(size, out) != 0)
		fail_msg("ipc_posix_shm_create(%zu): %s", size, strerror(errno));
	track_name(out->name);
}

static void unlink_tracked(const char *name)
{
	char copy[NAME_MAX + 1];

	snprintf(copy, sizeof copy, "%s", name);
	if (ipc_posix_shm_unlink(copy) != 0)
		fail_msg("shm_unlink %s: %s", copy, strerror(errno));
	untrack_name(copy);
}

static void remove_tracked(int id)
{
	if (ipc_sysv_shm_remove(id) != 0)
		fail_msg("IPC_RMID of segment %d: %s", id, strerror(errno));
	untrack_segment(id);
}

static int shm_setup(void **state)
{
	if (mech_setup(state) != 0)
		return -1;
	for (size_t i = 0; i < MAX_SEGMENTS; i++)
		segments[i] = -1;
	for (size_t i = 0; i < MAX_NAMES; i++)
		names[i][0] = '\0';
	for (size_t i = 0; i < MAX_REGIONS; i++)
		fixture.r[i] = (struct ipc_shm){.fd = -1, .id = -1};
	fixture.page = (size_t)sysconf(_SC_PAGESIZE);
	fixture.report = mech_report_map();
	if (fixture.report == NULL) {
		mech_teardown(state);
		return -1;
	}
	*state = &fixture;
	return 0;
}

/* Unmaps, removes and unlinks what the test left, then fails if anything
 * of this process is still in the system's tables. */
static int shm_teardown(void **state)
{
	int ok = 1;

	for (size_t i = 0; i < MAX_REGIONS; i++)
		if (fixture.r[i].addr != NULL || fixture.r[i].fd >= 0)
			ipc_shm_unmap(&fixture.r[i]);
	for (size_t i = 0; i < MAX_SEGMENTS; i++)
		if (segments[i] >= 0 && ipc_sysv_shm_remove(segments[i]) != 0 &&
		    errno != EINVAL && errno != EIDRM) {
			fprintf(stderr, "teardown: cannot remove segment %d: %s\n",
				segments[i], strerror(errno));
			ok = 0;
		}
	for (size_t i = 0; i < MAX_NAMES; i++)
		if (names[i][0] != '\0' && ipc_posix_shm_unlink(names[i]) != 0 &&
		    errno != ENOENT) {
			fprintf(stderr, "teardown: cannot unlink %s: %s\n", names[i],
				strerror(errno));
			ok = 0;
		}
	mech_registry_restore();
	if (segments_of(getpid(), 1) != 0) {
		fprintf(stderr, "teardown: a segment of this process was left "
			"(removed now)\n");
		ok = 0;
	}
	if (dev_shm_files(getpid(), 1) != 0) {
		fprintf(stderr, "teardown: a /dev/shm/ipch.%ld.* file was left "
			"(unlinked now)\n", (long)getpid());
		ok = 0;
	}
	mech_report_unmap(fixture.report);
	if (mech_teardown(state) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static struct ipc_sysv_shm_stat stat_of(int id)
{
	struct ipc_sysv_shm_stat st;

	if (ipc_sysv_shm_stat(id, &st) != 0)
		fail_msg("IPC_STAT of segment %d: %s", id, strerror(errno));
	return st;
}

static int key_in_project_range(key_t key)
{
	return ((uint32_t)key & IPC_SYSV_KEY_MASK) == IPC_SYSV_KEY_PREFIX;
}

/* No call that makes or maps a region is in the seam's log. */
static void assert_nothing_made(const char *what)
{
	static const char *const calls[] = {"shmget", "shmat", "shm_open",
					    "memfd_create", "ftruncate", "mmap"};

	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		if (mech_seam_logged(calls[i]))
			fail_msg("%s: %s was called", what, calls[i]);
}

/* ---- System V ------------------------------------------------------------ */

struct child_view {
	struct ipc_shm *r;
	int id;
	struct mech_report *report;
};

/* Step 0: nattch as the child sees it; 1: whether removed; then fills the
 * region with seed 11. */
static int child_counts_and_writes(void *arg)
{
	struct child_view *v = arg;
	struct ipc_sysv_shm_stat st;

	if (ipc_sysv_shm_stat(v->id, &st) != 0)
		return 1;
	v->report->r[0] = (long)st.nattch;
	v->report->r[1] = st.removed;
	mech_fill(v->r->addr, v->r->size, 11);
	return 0;
}

/*
 * ipc_sysv_shm_private: the segment is removed (SHM_DEST) as soon as it is
 * made, yet fork attaches the child too (nattch 2), the child's writes are
 * the parent's, and the segment goes with the last detach.
 */
static void shm_sysv_private_is_removed_and_shared_with_child(void **state)
{
	struct fixture *f = *state;
	struct ipc_shm *r = &f->r[0];
	size_t size = 3 * f->page + 5;
	struct ipc_sysv_shm_stat st;
	struct child_view v = {r, -1, f->report};

	assert_int_equal(ipc_sysv_shm_private(size, r), 0);
	assert_int_equal(r->kind, IPC_SHM_SYSV);
	assert_int_equal(r->size, size);
	assert_int_equal(r->fd, -1);
	v.id = r->id;
	st = stat_of(r->id);
	assert_true(st.removed);
	assert_int_equal(st.mode, 0600 | SHM_DEST);
	assert_int_equal(st.nattch, 1);
	assert_int_equal(st.segsz, size);
	assert_int_equal(st.cpid, getpid());

	mech_reap(mech_fork(child_counts_and_writes, &v, 30), 30);
	assert_int_equal(f->report->r[0], 2);
	assert_int_equal(f->report->r[1], 1);
	assert_int_equal(mech_check(r->addr, size, 11), size);
	assert_int_equal(stat_of(v.id).nattch, 1); /* the child's exit detached it */

	assert_int_equal(ipc_shm_unmap(r), 0);
	assert_null(r->addr);
	assert_false(segment_exists(v.id));
	errno = 0;
	assert_int_equal(ipc_sysv_shm_stat(v.id, &st), -1);
	assert_true(errno == EINVAL || errno == EIDRM);
}

/* A key that names a segment is EEXIST (IPC_EXCL), never attached by
 * accident; open finds it; two attachments see the same bytes; after
 * removal the key names nothing. */
static void shm_sysv_keyed_create_twice_is_eexist(void **state)
{
	struct fixture *f = *state;
	key_t key = IPC_PRIVATE;
	int id, other;

	id = track_segment(ipc_sysv_shm_create_keyed(&key, 2 * f->page));
	assert_true(key_in_project_range(key));
	errno = 0;
	other = ipc_sysv_shm_create(key, 2 * f->page);
	if (other >= 0)
		track_segment(other);
	assert_int_equal(other, -1);
	assert_errno(EEXIST);
	assert_int_equal(ipc_sysv_shm_open(key), id);

	assert_int_equal(ipc_sysv_shm_attach(id, &f->r[0]), 0);
	assert_int_equal(ipc_sysv_shm_attach(ipc_sysv_shm_open(key), &f->r[1]), 0);
	assert_int_equal(f->r[1].size, 2 * f->page);
	assert_ptr_not_equal(f->r[0].addr, f->r[1].addr);
	mech_fill(f->r[0].addr, f->r[0].size, 12);
	assert_int_equal(mech_check(f->r[1].addr, f->r[1].size, 12), 2 * f->page);
	assert_int_equal(stat_of(id).nattch, 2);
	assert_false(stat_of(id).removed);

	remove_tracked(id);
	assert_true(stat_of(id).removed); /* attached still: it stays till then */
	errno = 0;
	assert_int_equal(ipc_sysv_shm_open(key), -1);
	assert_errno(ENOENT);
	ipc_shm_unmap(&f->r[0]);
	ipc_shm_unmap(&f->r[1]);
	assert_false(segment_exists(id));
}

/* Segments and POSIX objects are 0600 whatever the umask, and ours. */
static void shm_objects_are_0600(void **state)
{
	struct fixture *f = *state;
	mode_t old = umask(0);
	key_t key;
	int id = ipc_sysv_shm_create_keyed(&key, f->page);
	int made = ipc_sysv_shm_private(f->page, &f->r[0]);
	int posix = ipc_posix_shm_create(f->page, &f->r[1]);
	struct stat st;

	umask(old);
	track_segment(id);
	assert_int_equal(made, 0);
	assert_int_equal(posix, 0);
	track_name(f->r[1].name);
	assert_int_equal(stat_of(id).mode, 0600);
	assert_int_equal(stat_of(id).uid, geteuid());
	assert_int_equal(stat_of(f->r[0].id).mode & 0777, 0600);
	assert_true(in_dev_shm(f->r[1].name, &st));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(fstat(f->r[1].fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

struct other_user {
	key_t key;
	int id;
	const char *name;
	struct mech_report *report;
};

/* As another user: 0 ipc_sysv_shm_open, 1 shmat by id, 2
 * ipc_posix_shm_open, 3 shm_open read-only, 4 IPC_STAT. */
static int child_as_other_user(void *arg)
{
	struct other_user *o = arg;
	struct ipc_shm r = {.fd = -1, .id = -1};
	struct ipc_sysv_shm_stat st;
	void *addr;
	int fd;

	if (mech_become_other_user() != 0) {
		o->report->skipped = 1;
		return 0;
	}
	mech_note(o->report, 0, ipc_sysv_shm_open(o->key));
	addr = shmat(o->id, NULL, 0);
	mech_note(o->report, 1, addr == (void *)-1 ? -1 : 0);
	mech_note(o->report, 2, ipc_posix_shm_open(o->name, &r));
	fd = shm_open(o->name, O_RDONLY, 0);
	mech_note(o->report, 3, fd);
	mech_note(o->report, 4, ipc_sysv_shm_stat(o->id, &st));
	return 0;
}

/* 0600 holds against another user: the segment by key, by id and for
 * IPC_STAT, and the POSIX object even read-only, are EACCES. (Valgrind
 * sizes a shmat's mapping with IPC_STAT before the kernel sees it, and
 * makes that refusal EINVAL.) */
static void shm_other_user_is_refused_by_0600(void **state)
{
	struct fixture *f = *state;
	struct other_user o = {IPC_PRIVATE, -1, NULL, f->report};

	o.id = track_segment(ipc_sysv_shm_create_keyed(&o.key, f->page));
	posix_create(f->page, &f->r[0]);
	o.name = f->r[0].name;
	mech_reap(mech_fork(child_as_other_user, &o, 30), 30);
	if (f->report->skipped)
		skip(); /* not root: no other user to become */
	mech_assert_step_failed(f->report, 0, EACCES);
	mech_assert_step_failed(f->report, 1, mech_slow() ? EINVAL : EACCES);
	mech_assert_step_failed(f->report, 2, EACCES);
	mech_assert_step_failed(f->report, 3, EACCES);
	mech_assert_step_failed(f->report, 4, EACCES);
	assert_int_equal(stat_of(o.id).nattch, 0);
}

/* ---- sizes --------------------------------------------------------------- */

/* EINVAL for kind and size, nothing made, and ipc_shm_size_error's words
 * hold want. */
static void expect_refused(enum ipc_shm_kind kind, size_t size, int err,
			   const char *want)
{
	struct fixture *f = &fixture;
	char text[256];
	key_t key;
	int r;

	ipc_fault_plan_clear();
	errno = 0;
	if (kind == IPC_SHM_SYSV) {
		r = ipc_sysv_shm_private(size, &f->r[0]);
		assert_int_equal(r, -1);
		assert_errno(err);
		r = ipc_sysv_shm_create(IPC_PRIVATE, size);
		if (r >= 0)
			track_segment(r);
		assert_int_equal(r, -1);
		assert_errno(err);
		r = ipc_sysv_shm_create_keyed(&key, size);
		if (r >= 0)
			track_segment(r);
	} else if (kind == IPC_SHM_POSIX) {
		r = ipc_posix_shm_create(size, &f->r[0]);
		if (r == 0)
			track_name(f->r[0].name);
	} else {
		r = ipc_memfd_create("refused", size, &f->r[0]);
	}
	assert_int_equal(r, -1);
	assert_errno(err);
	assert_null(f->r[0].addr);
	assert_nothing_made("a refused size");
	errno = 0;
	assert_int_equal(ipc_shm_check_size(kind, size), -1);
	assert_errno(err);
	ipc_shm_size_error(kind, size, text, sizeof text);
	if (strstr(text, want) == NULL)
		fail_msg("size %zu: '%s' does not say '%s'", size, text, want);
}

/*
 * Size 0 (of every kind) and a System V size above shmmax are EINVAL
 * before any segment, object or descriptor is made, and the words say
 * which limit: "size 0", "shmmax (/proc/sys/kernel/shmmax) of N bytes".
 * shmmax itself still fits the check, or fails it only for shmall.
 */
static void shm_size_zero_and_above_shmmax_refused_before_anything(void **state)
{
	struct fixture *f = *state;
	struct ipc_shm_limits lim;
	char want[128], text[256];

	expect_refused(IPC_SHM_SYSV, 0, EINVAL, "size 0");
	expect_refused(IPC_SHM_POSIX, 0, EINVAL, "size 0");
	expect_refused(IPC_SHM_MEMFD, 0, EINVAL, "size 0");
	assert_int_equal(ipc_shm_limits(&lim), 0);
	if (lim.shmmax == SIZE_MAX)
		skip(); /* no size is above it */
	snprintf(want, sizeof want, "above shmmax (/proc/sys/kernel/shmmax) of %zu "
		 "bytes", lim.shmmax);
	expect_refused(IPC_SHM_SYSV, lim.shmmax + 1, EINVAL, want);
	expect_refused(IPC_SHM_SYSV, SIZE_MAX, EINVAL, want);
	/* shmmax itself is never refused as above shmmax; shmall may still
	 * refuse it while other software holds segments (a fuzzer's maps). */
	if (lim.shmmax <= lim.shmall &&
	    ipc_shm_check_size(IPC_SHM_SYSV, lim.shmmax) != 0) {
		ipc_shm_size_error(IPC_SHM_SYSV, lim.shmmax, text, sizeof text);
		assert_null(strstr(text, "above shmmax"));
		assert_non_null(strstr(text, "shmall"));
	}
	ipc_shm_size_error(IPC_SHM_SYSV, f->page, text, sizeof text);
	assert_non_null(strstr(text, "within the limits"));
}

struct fsize_child {
	size_t page;
	struct mech_report *report;
};

/* With RLIMIT_FSIZE at one page: 0 POSIX of two pages, 1 memfd of two
 * pages, 2 whether the words name RLIMIT_FSIZE, 3 whether anything was
 * made, 4 POSIX of one page (then unlinked). */
static int child_under_small_fsize(void *arg)
{
	struct fsize_child *c = arg;
	struct rlimit rl;
	struct ipc_shm r = {.fd = -1, .id = -1};
	char text[256];

	if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
		return 1;
	rl.rlim_cur = c->page;
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		return 2;
	ipc_fault_plan_clear();
	mech_note(c->report, 0, ipc_posix_shm_create(2 * c->page, &r));
	mech_note(c->report, 1, ipc_memfd_create("fsize", 2 * c->page, &r));
	ipc_shm_size_error(IPC_SHM_POSIX, 2 * c->page, text, sizeof text);
	c->report->r[2] = strstr(text, "RLIMIT_FSIZE") != NULL;
	c->report->r[3] = mech_seam_logged("shm_open") ||
			  mech_seam_logged("memfd_create") || mech_seam_logged("ftruncate");
	mech_note(c->report, 4, ipc_posix_shm_create(c->page, &r));
	if (c->report->r[4] == 0) {
		ipc_posix_shm_unlink(r.name);
		ipc_shm_unmap(&r);
	}
	return 0;
}

/*
 * A file-backed region above RLIMIT_FSIZE is EFBIG before the object is
 * made: ftruncate past the limit would raise SIGXFSZ, which kills (the
 * child would die of it here). One page, the limit, goes through.
 */
static void shm_posix_size_above_rlimit_fsize_is_efbig(void **state)
{
	struct fixture *f = *state;
	struct fsize_child c = {f->page, f->report};
	pid_t pid = mech_fork(child_under_small_fsize, &c, 30);

	mech_reap(pid, 30);
	mech_assert_step_failed(f->report, 0, EFBIG);
	mech_assert_step_failed(f->report, 1, EFBIG);
	assert_int_equal(f->report->r[2], 1);
	assert_int_equal(f->report->r[3], 0);
	assert_int_equal(f->report->r[4], 0);
	assert_int_equal(dev_shm_files_of(pid), 0);
}

/* ---- POSIX --------------------------------------------------------------- */

/* Step 0: writes seed 14 through its inherited mapping, after the unlink. */
static int child_writes_through_mapping(void *arg)
{
	struct ipc_shm *r = arg;

	mech_fill(r->addr, r->size, 14);
	return 0;
}

/*
 * The object is /dev/shm/ipch.<pid>.<hex>, of the size asked, until
 * unlinked; open maps the same bytes. After the unlink the name is gone
 * (open: ENOENT) but both mappings, and a child's, still share.
 */
static void shm_posix_name_lives_until_unlinked(void **state)
{
	struct fixture *f = *state;
	struct ipc_shm *a = &f->r[0], *b = &f->r[1];
	size_t size = 2 * f->page + 100;
	char prefix[64], name[sizeof a->name];
	struct stat st;

	posix_create(size, a);
	snprintf(name, sizeof name, "%s", a->name);
	snprintf(prefix, sizeof prefix, "%s%ld.", IPC_SHM_NAME_PREFIX, (long)getpid());
	assert_memory_equal(name, prefix, strlen(prefix));
	assert_true(in_dev_shm(name, &st));
	assert_int_equal(st.st_size, size);
	assert_int_equal(a->kind, IPC_SHM_POSIX);
	assert_true(fcntl(a->fd, F_GETFD) & FD_CLOEXEC);

	assert_int_equal(ipc_posix_shm_open(name, b), 0);
	assert_int_equal(b->size, size);
	assert_string_equal(b->name, name);
	mech_fill(a->addr, size, 13);
	assert_int_equal(mech_check(b->addr, size, 13), size);

	unlink_tracked(name);
	assert_false(in_dev_shm(name, NULL));
	errno = 0;
	assert_int_equal(ipc_posix_shm_open(name, &f->r[2]), -1);
	assert_errno(ENOENT);
	mech_reap(mech_fork(child_writes_through_mapping, b, 30), 30);
	assert_int_equal(mech_check(a->addr, size, 14), size);
	mech_fill(a->addr, size, 15);
	assert_int_equal(mech_check(b->addr, size, 15), size);
}

/*
 * O_EXCL: creating under a name that is taken, whether by the project's
 * own object or another program's, is EEXIST, and that object keeps its
 * size and bytes (no ftruncate reached it). Bad names are EINVAL.
 */
static void shm_posix_create_on_taken_name_is_eexist(void **state)
{
	struct fixture *f = *state;
	struct ipc_shm *a = &f->r[0];
	char stranger[64];
	struct stat st;
	int fd;

	posix_create(f->page, a);
	mech_fill(a->addr, a->size, 16);
	ipc_fault_plan_clear();
	errno = 0;
	assert_int_equal(ipc_posix_shm_create_named(a->name, 3 * f->page, &f->r[1]), -1);
	assert_errno(EEXIST);
	assert_false(mech_seam_logged("ftruncate"));
	assert_null(f->r[1].addr);
	assert_int_equal(fstat(a->fd, &st), 0);
	assert_int_equal(st.st_size, f->page);
	assert_int_equal(mech_check(a->addr, a->size, 16), f->page);

	snprintf(stranger, sizeof stranger, "/ipch.%ld.stranger", (long)getpid());
	fd = shm_open(stranger, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	track_name(stranger);
	assert_int_equal(ftruncate(fd, 100), 0);
	errno = 0;
	assert_int_equal(ipc_posix_shm_create_named(stranger, f->page, &f->r[1]), -1);
	assert_errno(EEXIST);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 100);
	close(fd);
	unlink_tracked(stranger);

	errno = 0;
	assert_int_equal(ipc_posix_shm_create_named("no-slash", f->page, &f->r[1]), -1);
	assert_errno(EINVAL);
	errno = 0;
	assert_int_equal(ipc_posix_shm_create_named("/a/b", f->page, &f->r[1]), -1);
	assert_errno(EINVAL);
}

/* open: a bad name is EINVAL, a missing one ENOENT, and an object of size
 * 0 (made, never sized) EINVAL, its descriptor closed (the teardown counts). */
static void shm_posix_open_refuses_bad_names_and_empty_objects(void **state)
{
	struct fixture *f = *state;
	char empty[64], absent[64];
	int fd;

	errno = 0;
	assert_int_equal(ipc_posix_shm_open("no-slash", &f->r[0]), -1);
	assert_errno(EINVAL);
	errno = 0;
	assert_int_equal(ipc_posix_shm_open("/", &f->r[0]), -1);
	assert_errno(EINVAL);
	snprintf(absent, sizeof absent, "/ipch.%ld.absent", (long)getpid());
	errno = 0;
	assert_int_equal(ipc_posix_shm_open(absent, &f->r[0]), -1);
	assert_errno(ENOENT);

	snprintf(empty, sizeof empty, "/ipch.%ld.empty", (long)getpid());
	fd = shm_open(empty, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	track_name(empty);
	close(fd);
	errno = 0;
	assert_int_equal(ipc_posix_shm_open(empty, &f->r[0]), -1);
	assert_errno(EINVAL);
	assert_null(f->r[0].addr);
	unlink_tracked(empty);
}

/* ---- memfd --------------------------------------------------------------- */

/*
 * A region is sealed before anyone sees it: it cannot grow or shrink
 * (ftruncate EPERM, the size stays), no seal can be added (F_SEAL_SEAL),
 * and it is still written through the mapping.
 */
static void shm_memfd_sealed_region_cannot_grow_or_shrink(void **state)
{
	struct fixture *f = *state;
	struct ipc_shm *r = &f->r[0];
	size_t size = 3 * f->page;
	char link[64], target[64] = {0};
	struct stat st;

	assert_int_equal(ipc_memfd_create("ipch-sealed", size, r), 0);
	assert_int_equal(r->kind, IPC_SHM_MEMFD);
	assert_true(fcntl(r->fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fcntl(r->fd, F_GET_SEALS) & IPC_MEMFD_SEALS_REQUIRED,
			 IPC_MEMFD_SEALS_REQUIRED);
	errno = 0;
	assert_int_equal(ftruncate(r->fd, (off_t)(size + f->page)), -1);
	assert_errno(EPERM);
	errno = 0;
	assert_int_equal(ftruncate(r->fd, (off_t)f->page), -1);
	assert_errno(EPERM);
	errno = 0;
	assert_int_equal(fcntl(r->fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	assert_errno(EPERM);
	assert_int_equal(fstat(r->fd, &st), 0);
	assert_int_equal(st.st_size, size);
	mech_fill(r->addr, size, 17);
	assert_int_equal(pread(r->fd, target, 8, 0), 8);
	assert_memory_equal(target, r->addr, 8);
	snprintf(link, sizeof link, "/proc/self/fd/%d", r->fd);
	assert_true(readlink(link, target, sizeof target - 1) > 0);
	assert_non_null(strstr(target, "memfd:ipch-sealed"));
}

/* A memfd of size bytes with seals (-1: made without MFD_ALLOW_SEALING). */
static int memfd_with_seals(size_t size, int seals)
{
	int fd = memfd_create("peer", MFD_CLOEXEC | (seals >= 0 ? MFD_ALLOW_SEALING : 0));

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seals > 0)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

/* ipc_memfd_map(fd, size) fails with want, maps nothing, and leaves fd
 * open and the caller's. */
static void expect_map_refused(int fd, size_t size, int want, const char *what)
{
	struct ipc_shm r = {.fd = -1, .id = -1};

	ipc_fault_plan_clear();
	errno = 0;
	if (ipc_memfd_map(fd, size, &r) != -1 || errno != want)
		fail_msg("%s: errno %s, wanted %s", what, mech_errno_name(errno),
			 mech_errno_name(want));
	if (mech_seam_logged("mmap"))
		fail_msg("%s: mmap was called", what);
	assert_null(r.addr);
	assert_int_equal(r.fd, -1);
	assert_true(fcntl(fd, F_GETFD) >= 0);
}

/*
 * A receiver maps only a region sealed against shrinking, growing and new
 * seals, of exactly the size it expects: EPERM for a memfd without seals,
 * one lacking F_SEAL_SEAL or F_SEAL_SHRINK, or a pipe; EINVAL for one
 * shorter or longer. A fitting one is mapped and its descriptor taken.
 */
static void shm_memfd_receiver_refuses_unsealed_and_short(void **state)
{
	struct fixture *f = *state;
	size_t size = 2 * f->page;
	int fds[4], p[2], good;

	fds[0] = memfd_with_seals(size, -1);
	fds[1] = memfd_with_seals(size, 0);
	fds[2] = memfd_with_seals(size, F_SEAL_SHRINK | F_SEAL_GROW);
	fds[3] = memfd_with_seals(size, F_SEAL_GROW | F_SEAL_SEAL);
	expect_map_refused(fds[0], size, EPERM, "no MFD_ALLOW_SEALING");
	expect_map_refused(fds[1], size, EPERM, "no seals");
	expect_map_refused(fds[2], size, EPERM, "no F_SEAL_SEAL");
	expect_map_refused(fds[3], size, EPERM, "no F_SEAL_SHRINK");
	for (size_t i = 0; i < 4; i++)
		close(fds[i]);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	expect_map_refused(p[0], size, EPERM, "a pipe");
	close(p[0]);
	close(p[1]);

	good = memfd_with_seals(size, IPC_MEMFD_SEALS_REQUIRED);
	expect_map_refused(good, size + f->page, EINVAL, "shorter than expected");
	expect_map_refused(good, f->page, EINVAL, "longer than expected");
	expect_map_refused(good, 0, EINVAL, "size 0");
	assert_int_equal(ipc_memfd_map(good, size, &f->r[0]), 0);
	assert_int_equal(f->r[0].fd, good);
	assert_int_equal(f->r[0].size, size);
	mech_fill(f->r[0].addr, size, 18);
	assert_int_equal(ipc_shm_unmap(&f->r[0]), 0);
	errno = 0;
	assert_int_equal(fcntl(good, F_GETFD), -1); /* closed with the region */
	assert_errno(EBADF);
}

struct passing {
	struct ipc_channel *ends[2];
	size_t size;
	struct mech_report *report;
};

/* The receiver: step 0 ipc_memfd_map of what came; 1 where the sender's
 * half first differs; then writes its own half, and answers. */
static int child_maps_received_region(void *arg)
{
	struct passing *p = arg;
	struct ipc_shm r = {.fd = -1, .id = -1};
	size_t n = 0, half = p->size / 2;
	struct ipc_msg m;
	int fd = -1;

	ipc_channel_close(p->ends[0]);
	if (ipc_recv_fds(p->ends[1], &m, &fd, 1, &n, WAIT_MS) != IPC_OK || n != 1)
		return 1;
	mech_note(p->report, 0, ipc_memfd_map(fd, p->size, &r));
	if (p->report->r[0] != 0) {
		close(fd);
		return 2;
	}
	p->report->r[1] = (long)mech_check(r.addr, half, 21);
	mech_fill((uint8_t *)r.addr + half, p->size - half, 22);
	if (ipc_send(p->ends[1], 2, "mine", 4, WAIT_MS) != IPC_OK)
		return 3;
	ipc_shm_unmap(&r);
	ipc_channel_close(p->ends[1]);
	return 0;
}

/*
 * A sealed region passed over a unix-stream channel (SCM_RIGHTS) to a
 * forked child: the child maps it, sees the sender's half, and the sender
 * sees the half the child wrote.
 */
static void shm_memfd_passed_over_unix_socket_is_shared(void **state)
{
	struct fixture *f = *state;
	struct ipc_shm *r = &f->r[0];
	struct passing p = {{NULL, NULL}, 4 * f->page + 8, f->report};
	size_t half = p.size / 2;
	struct ipc_msg m;
	pid_t child;

	assert_status(ipc_channel_pair(ipc_backend_find("unix-stream"), NULL,
				       &p.ends[0], &p.ends[1]), IPC_OK);
	child = mech_fork(child_maps_received_region, &p, 30);
	ipc_channel_close(p.ends[1]);
	assert_int_equal(ipc_memfd_create("ipch-passed", p.size, r), 0);
	mech_fill(r->addr, half, 21);
	assert_status(ipc_send_fds(p.ends[0], 1, "region", 6, &r->fd, 1, WAIT_MS),
		      IPC_OK);
	if (ipc_recv(p.ends[0], &m, WAIT_MS) != IPC_OK) {
		ipc_channel_close(p.ends[0]);
		mech_reap(child, 30);
		fail_msg("no answer from the receiver");
	}
	assert_int_equal(m.type, 2);
	assert_int_equal(mech_check((uint8_t *)r->addr + half, p.size - half, 22),
			 p.size - half);
	ipc_channel_close(p.ends[0]);
	mech_reap(child, 30);
	assert_int_equal(f->report->r[0], 0);
	assert_int_equal(f->report->r[1], half);
}

/* ---- faults -------------------------------------------------------------- */

/* ftruncate interrupted (EINTR) is retried: a POSIX object and a memfd
 * are made whole under a plan that interrupts every call that can be. */
static void shm_ftruncate_eintr_is_retried(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	ipc_fault_plan_pattern(IPC_PATTERN_EINTR_FIRST);
	assert_int_equal(ipc_posix_shm_create(f->page, &f->r[0]), 0);
	track_name(f->r[0].name);
	assert_int_equal(ipc_memfd_create("eintr", f->page, &f->r[1]), 0);
	assert_true(ipc_fault_injected() > 0);
	assert_true(mech_seam_logged("ftruncate"));
	ipc_fault_plan_clear();
	assert_int_equal(fstat(f->r[0].fd, &st), 0);
	assert_int_equal(st.st_size, f->page);
	assert_int_equal(fstat(f->r[1].fd, &st), 0);
	assert_int_equal(st.st_size, f->page);
}

/* One of each kind made, used and undone, each step only if the one before
 * worked; then nothing of this process is left in the system's tables. */
static void each_kind_once(const void *arg)
{
	struct ipc_shm a = {.fd = -1, .id = -1}, b = {.fd = -1, .id = -1};
	size_t page = *(const size_t *)arg;
	key_t key;
	int id, dup;

	if (ipc_sysv_shm_private(page, &a) == 0)
		ipc_shm_unmap(&a);
	if ((id = ipc_sysv_shm_create_keyed(&key, page)) >= 0) {
		if (ipc_sysv_shm_attach(id, &a) == 0)
			ipc_shm_unmap(&a);
		ipc_sysv_shm_remove(id);
	}
	if (ipc_posix_shm_create(page, &a) == 0) {
		if (ipc_posix_shm_open(a.name, &b) == 0)
			ipc_shm_unmap(&b);
		ipc_posix_shm_unlink(a.name);
		ipc_shm_unmap(&a);
	}
	if (ipc_memfd_create("each", page, &a) == 0) {
		dup = fcntl(a.fd, F_DUPFD_CLOEXEC, 0);
		if (dup >= 0 && ipc_memfd_map(dup, page, &b) == 0)
			ipc_shm_unmap(&b);
		else if (dup >= 0)
			close(dup);
		ipc_shm_unmap(&a);
	}
	if (segments_created_by(getpid()) != 0 || dev_shm_files_of(getpid()) != 0)
		fail_msg("a segment or /dev/shm file is left after a fault "
			 "(%llu calls)", (unsigned long long)ipc_fault_calls());
}

/* Whichever call fails, with whichever errno it can: no descriptor,
 * segment or /dev/shm file is left. */
static void shm_failure_at_each_call_leaves_nothing(void **state)
{
	struct fixture *f = *state;

	mech_fail_each_call(each_kind_once, &f->page, mech_open_fds(),
			    "one region of each kind");
}

/* ---- registry and limits ------------------------------------------------- */

/* With IPCH_REGISTRY set, a keyed segment is "sysv-shm@<id>" and a POSIX
 * object "posix-shm@%ipch...." (holding "<pid> <uid> <id>") until removed
 * or unlinked; a private segment, removed at once, leaves no entry. */
static void shm_registry_notes_objects_until_removed(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], want[128], name[64];
	key_t key;
	int id;

	setenv("IPCH_REGISTRY", mech_tmpdir(), 1);
	id = track_segment(ipc_sysv_shm_create_keyed(&key, f->page));
	snprintf(path, sizeof path, "%s/sysv-shm@%d", mech_tmpdir(), id);
	snprintf(want, sizeof want, "%ld %ld %d\n", (long)getpid(), (long)geteuid(), id);
	mech_assert_file_holds(path, want);
	remove_tracked(id);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);

	posix_create(f->page, &f->r[0]);
	snprintf(name, sizeof name, "%s", f->r[0].name);
	snprintf(path, sizeof path, "%s/posix-shm@%%%s", mech_tmpdir(), name + 1);
	snprintf(want, sizeof want, "%ld %ld %s\n", (long)getpid(), (long)geteuid(),
		 name);
	mech_assert_file_holds(path, want);
	unlink_tracked(name);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);

	assert_int_equal(ipc_sysv_shm_private(f->page, &f->r[1]), 0);
	assert_int_equal(ipc_memfd_create("registry", f->page, &f->r[2]), 0);
	assert_int_equal(mech_dir_entries(mech_tmpdir()), 0);
	mech_registry_restore();
}

static size_t proc_size(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long long v = 0;
	int n;

	if (f == NULL)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	n = fscanf(f, "%llu", &v);
	fclose(f);
	assert_int_equal(n, 1);
	return v > SIZE_MAX ? SIZE_MAX : (size_t)v;
}

/* shmmax and shmmni as /proc says; shmall, which /proc gives in pages, in
 * bytes (saturated: Linux's default is near 2^64 pages). */
static void shm_limits_agree_with_proc(void **state)
{
	struct fixture *f = *state;
	struct ipc_shm_limits lim;
	size_t pages = proc_size("/proc/sys/kernel/shmall");
	struct rlimit rl;

	assert_int_equal(ipc_shm_limits(&lim), 0);
	assert_int_equal(lim.shmmax, proc_size("/proc/sys/kernel/shmmax"));
	assert_int_equal(lim.shmmni, proc_size("/proc/sys/kernel/shmmni"));
	assert_int_equal(lim.page, f->page);
	if (pages > SIZE_MAX / f->page)
		assert_int_equal(lim.shmall, SIZE_MAX);
	else
		assert_int_equal(lim.shmall, pages * f->page);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	assert_int_equal(lim.fsize, rl.rlim_cur == RLIM_INFINITY ? SIZE_MAX
								 : rl.rlim_cur);
}

#define SHM_TEST(fn) cmocka_unit_test_setup_teardown(fn, shm_setup, shm_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SHM_TEST(shm_sysv_private_is_removed_and_shared_with_child),
		SHM_TEST(shm_sysv_keyed_create_twice_is_eexist),
		SHM_TEST(shm_objects_are_0600),
		SHM_TEST(shm_other_user_is_refused_by_0600),
		SHM_TEST(shm_size_zero_and_above_shmmax_refused_before_anything),
		SHM_TEST(shm_posix_size_above_rlimit_fsize_is_efbig),
		SHM_TEST(shm_posix_name_lives_until_unlinked),
		SHM_TEST(shm_posix_create_on_taken_name_is_eexist),
		SHM_TEST(shm_posix_open_refuses_bad_names_and_empty_objects),
		SHM_TEST(shm_memfd_sealed_region_cannot_grow_or_shrink),
		SHM_TEST(shm_memfd_receiver_refuses_unsealed_and_short),
		SHM_TEST(shm_memfd_passed_over_unix_socket_is_shared),
		SHM_TEST(shm_ftruncate_eintr_is_retried),
		SHM_TEST(shm_failure_at_each_call_leaves_nothing),
		SHM_TEST(shm_registry_notes_objects_until_removed),
		SHM_TEST(shm_limits_agree_with_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
