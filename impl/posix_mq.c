/* POSIX message queues: see include/ipc/posix_mq.h. */
#include "ipc/posix_mq.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "channel_impl.h"
#include "msan.h"
#include "ipc/registry.h"
#include "names.h"
#include "sys.h"

int ipc_mq_limits(struct ipc_mq_limits *out)
{
	static const char dir[] = "/proc/sys/fs/mqueue/";
	static const char *const names[] = {"msg_max", "msgsize_max", "msg_default",
					    "msgsize_default", "queues_max"};
	long v[5];
	char path[64];

	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof path, "%s%s", dir, names[i]);
		if (ipc_read_proc_long(path, &v[i]) != 0)
			return -1;
	}
	*out = (struct ipc_mq_limits){v[0], v[1], v[2], v[3], v[4]};
	return 0;
}

int ipc_mq_fresh_name(char *out, size_t len)
{
	return ipc_fresh_name(IPC_MQ_NAME_PREFIX, out, len);
}

int ipc_mq_check_name(const char *name)
{
	return ipc_check_posix_name(name, NAME_MAX - 1);
}

static long smaller(long a, long b) { return a < b ? a : b; }

/* Asked-for attributes within the system's limits, or EINVAL. */
static int fit_attributes(long maxmsg, long msgsize, struct mq_attr *attr)
{
	struct ipc_mq_limits lim;

	if (ipc_mq_limits(&lim) != 0)
		return -1;
	if (maxmsg < 0 || msgsize < 0 || maxmsg > lim.msg_max ||
	    msgsize > lim.msgsize_max) {
		errno = EINVAL;
		return -1;
	}
	/* The defaults may be set above the limits; the kernel then gives a
	 * queue opened without attributes the limit (mq_overview(7)). */
	*attr = (struct mq_attr){
		.mq_maxmsg = maxmsg != 0 ? maxmsg : smaller(lim.msg_default, lim.msg_max),
		.mq_msgsize = msgsize != 0 ? msgsize
					   : smaller(lim.msgsize_default, lim.msgsize_max),
	};
	return 0;
}

mqd_t ipc_mq_create(const char *name, long maxmsg, long msgsize, int access)
{
	struct mq_attr attr;
	mqd_t q;

	if (ipc_mq_check_name(name) != 0 || fit_attributes(maxmsg, msgsize, &attr) != 0)
		return (mqd_t)-1;
	q = sys_mq_open(name, access | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
	if (q != (mqd_t)-1)
		ipc_registry_note("posix-mq", name);
	return q;
}

mqd_t ipc_mq_open(const char *name, int access)
{
	if (ipc_mq_check_name(name) != 0)
		return (mqd_t)-1;
	return sys_mq_open(name, access | O_CLOEXEC, 0, NULL);
}

int ipc_mq_close(mqd_t q) { return sys_mq_close(q); }

int ipc_mq_unlink(const char *name)
{
	int r = sys_mq_unlink(name);

	if (r == 0 || errno == ENOENT)
		ipc_registry_forget("posix-mq", name);
	return r;
}

/* ETIMEDOUT is believed only once the monotonic deadline has passed. */
int ipc_mq_send(mqd_t q, const void *data, size_t len, unsigned prio,
		int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	for (;;) {
		struct timespec at = ipc_deadline_on(CLOCK_REALTIME, &d);
		int r = sys_mq_timedsend(q, data, len, prio, d.forever ? NULL : &at);

		if (r == 0 || errno != ETIMEDOUT || ipc_deadline_ms(&d) == 0)
			return r;
	}
}

ssize_t ipc_mq_receive(mqd_t q, void *buf, size_t cap, unsigned *prio,
		       int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);

	for (;;) {
		struct timespec at = ipc_deadline_on(CLOCK_REALTIME, &d);
		ssize_t r = sys_mq_timedreceive(q, buf, cap, prio, d.forever ? NULL : &at);

		if (r >= 0) {
			IPC_WRITTEN_BY_KERNEL(buf, (size_t)r);
			if (prio != NULL)
				IPC_WRITTEN_BY_KERNEL(prio, sizeof *prio);
		}
		if (r >= 0 || errno != ETIMEDOUT || ipc_deadline_ms(&d) == 0)
			return r;
	}
}

int ipc_mq_attr(mqd_t q, struct mq_attr *out)
{
	int r = sys_mq_getattr(q, out);

	if (r == 0)
		IPC_WRITTEN_BY_KERNEL(out, sizeof *out);
	return r;
}

int ipc_mq_notify_signal(mqd_t q, int signo, int value)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_SIGNAL,
		.sigev_signo = signo,
		.sigev_value.sival_int = value,
	};

	return sys_mq_notify(q, &sev);
}

int ipc_mq_notify_thread(mqd_t q, void (*fn)(union sigval), void *arg)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD,
		.sigev_value.sival_ptr = arg,
	};

	sev.sigev_notify_function = fn;
	return sys_mq_notify(q, &sev);
}

int ipc_mq_notify_cancel(mqd_t q) { return sys_mq_notify(q, NULL); }
