/*
 * Deliberately wrong, for a test only: a read that gives up on EINTR.
 *
 * Linked into a copy of the channel fuzz driver with -Wl,--wrap=sys_read,
 * this stands between the library and the seam's sys_read: an interrupted
 * read comes back to the library as a failure (EIO), so its read loop
 * stops where it should have retried, as a loop that treats every -1 as
 * the end would. The library itself is unchanged. The test
 * broken.eintr-read replays a channel_pipe input whose plan injects EINTR
 * on reads (seed-mixed-plan-first) and asserts that the driver's
 * invariant (no EINTR may surface from a call that promises to retry)
 * aborts the run.
 */
#include <errno.h>
#include <sys/types.h>

ssize_t __real_sys_read(int fd, void *buf, size_t len);
ssize_t __wrap_sys_read(int fd, void *buf, size_t len);

ssize_t __wrap_sys_read(int fd, void *buf, size_t len)
{
	ssize_t r = __real_sys_read(fd, buf, len);

	if (r < 0 && errno == EINTR)
		errno = EIO; /* the bug: an interruption reported as a failure */
	return r;
}
