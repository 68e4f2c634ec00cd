/* System V message queues: see include/ipc/sysv_msg.h. */
#include "ipc/sysv_msg.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <time.h>

#include "channel_impl.h"
#include "msan.h"
#include "ipc/registry.h"
#include "names.h"
#include "sys.h"

/* Messages up to this size are built on the stack. */
#define STACK_TEXT 4096

int ipc_sysv_msg_limits(struct ipc_sysv_msg_limits *out)
{
	long max, mnb, mni;

	if (ipc_read_proc_long("/proc/sys/kernel/msgmax", &max) != 0 ||
	    ipc_read_proc_long("/proc/sys/kernel/msgmnb", &mnb) != 0 ||
	    ipc_read_proc_long("/proc/sys/kernel/msgmni", &mni) != 0)
		return -1;
	*out = (struct ipc_sysv_msg_limits){(size_t)max, (size_t)mnb, (size_t)mni};
	return 0;
}

static void note_queue(int id)
{
	char text[24];

	snprintf(text, sizeof text, "%d", id);
	ipc_registry_note("sysv-msg", text);
}

int ipc_sysv_msg_create(key_t key)
{
	int id = sys_msgget(key, IPC_CREAT | IPC_EXCL | 0600);

	if (id >= 0)
		note_queue(id);
	return id;
}

static int create_queue(key_t key, const void *unused)
{
	(void)unused;
	return ipc_sysv_msg_create(key);
}

int ipc_sysv_msg_create_keyed(key_t *key)
{
	return ipc_create_with_fresh_key(key, create_queue, NULL);
}

/* msgget with no mode bits asks for no permission, and so finds another
 * user's 0600 queue, whose id then fails at every send. Asking for read and
 * write makes a queue this process may not use EACCES here. */
int ipc_sysv_msg_open(key_t key)
{
	return sys_msgget(key, S_IRUSR | S_IWUSR);
}

int ipc_sysv_msg_remove(int id)
{
	char text[24];
	int r = sys_msgctl(id, IPC_RMID, NULL);

	if (r == 0) {
		snprintf(text, sizeof text, "%d", id);
		ipc_registry_forget("sysv-msg", text);
	}
	return r;
}

key_t ipc_sysv_key_from_file(const char *path, int proj_id)
{
	struct stat st;

	if (proj_id < 1 || proj_id > 255) {
		errno = EINVAL;
		return -1;
	}
	if (sys_lstat(path, &st) != 0)
		return -1;
	return sys_ftok(path, proj_id);
}

/* The kernel's layout: the type, then the text. */
struct text_msg {
	long mtype;
	char text[];
};

int ipc_sysv_msg_send(int id, long mtype, const void *data, size_t len,
		      int flags)
{
	union { struct text_msg m; char bytes[sizeof(long) + STACK_TEXT]; } stack;
	struct ipc_sysv_msg_limits lim;
	struct text_msg *m = &stack.m;
	int r, err;

	if (mtype <= 0) {
		errno = EINVAL;
		return -1;
	}
	if (len > STACK_TEXT) {
		/* Bounded before reserving: the kernel would refuse it anyway. */
		if (ipc_sysv_msg_limits(&lim) != 0)
			return -1;
		if (len > lim.msgmax) {
			errno = EINVAL;
			return -1;
		}
		m = malloc(sizeof *m + len);
		if (m == NULL)
			return -1;
	}
	m->mtype = mtype;
	if (len > 0)
		memcpy(m->text, data, len);
	r = sys_msgsnd(id, m, len, flags);
	err = errno;
	if (m != &stack.m)
		free(m);
	errno = err;
	return r;
}

ssize_t ipc_sysv_msg_recv(int id, long selector, int flags, long *mtype,
			  void *data, size_t cap)
{
	union { struct text_msg m; char bytes[sizeof(long) + STACK_TEXT]; } stack;
	struct ipc_sysv_msg_limits lim;
	struct text_msg *m = &stack.m;
	ssize_t r;
	int err;

	if (cap > STACK_TEXT) {
		if (ipc_sysv_msg_limits(&lim) != 0)
			return -1;
		if (cap > lim.msgmax)
			cap = lim.msgmax; /* no message is longer */
		if (cap > STACK_TEXT && (m = malloc(sizeof *m + cap)) == NULL)
			return -1;
	}
	r = sys_msgrcv(id, m, cap, selector, flags);
	err = errno;
	if (r >= 0) {
		IPC_WRITTEN_BY_KERNEL(m, sizeof *m + (size_t)r);
		if (mtype != NULL)
			*mtype = m->mtype;
		if (r > 0)
			memcpy(data, m->text, (size_t)r);
	}
	if (m != &stack.m)
		free(m);
	errno = err;
	return r;
}

int ipc_sysv_msg_stat(int id, struct ipc_sysv_msg_stat *out)
{
	struct msqid_ds ds;

	if (sys_msgctl(id, IPC_STAT, &ds) != 0)
		return -1;
	IPC_WRITTEN_BY_KERNEL(&ds, sizeof ds);
	*out = (struct ipc_sysv_msg_stat){
		.qnum = ds.msg_qnum,
		.cbytes = ds.__msg_cbytes,
		.qbytes = ds.msg_qbytes,
		.lspid = ds.msg_lspid,
		.lrpid = ds.msg_lrpid,
		.uid = ds.msg_perm.uid,
		.cuid = ds.msg_perm.cuid,
		.mode = ds.msg_perm.mode & 0777,
	};
	return 0;
}

int ipc_sysv_msg_set_qbytes(int id, size_t qbytes)
{
	struct msqid_ds ds;

	if (sys_msgctl(id, IPC_STAT, &ds) != 0)
		return -1;
	IPC_WRITTEN_BY_KERNEL(&ds, sizeof ds);
	ds.msg_qbytes = qbytes;
	return sys_msgctl(id, IPC_SET, &ds);
}
