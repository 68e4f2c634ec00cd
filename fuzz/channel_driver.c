/*
 * The channel fuzz driver: a script of messages over one backend's channel
 * pair, run under a fault plan taken from the same input. Every
 * fuzz/channel_<name>.c only names its backend (channel_fuzz_backend); the
 * format's constants are in channel_driver.h, which fuzz/seeds.c shares.
 *
 * Input (reads past the end give zeros):
 *   byte 0   options
 *            bit 0     CHF_PLAN_FIRST: the plan is installed before the pair
 *                      is made, so making it is faulted too; otherwise the
 *                      pair is made under no plan, then the plan installed
 *            bits 1-3  frame limit: 65536, 1, 7, 16, 255, 4096, 4097, 32768
 *            bit 4     CHF_BATCH: send messages while they fit in 128 KiB
 *                      and 16 frames on the wire, then receive them all;
 *                      otherwise receive each right after sending it
 *            bits 5-6  message limit: the default (16 MiB), 1, 4096, 16384
 *            bit 7     CHF_READER_GONE: end by closing the receiving end and
 *                      sending; otherwise by closing the sending end and
 *                      receiving
 *   byte 1   bits 0-3  the number of messages, 0..15
 *            bit 4     CHF_ABSTRACT: ipc_opts.abstract (unix-stream pairs)
 *            bit 5     CHF_IPV6: ipc_opts.ipv6 (tcp pairs)
 *   then per message 5 bytes:
 *            type     2 bytes, big-endian (type 0 must be refused)
 *            size     2 bytes, big-endian: bits 0-13 are the length
 *                     (0..16383), plus 56 KiB if bit 15 is set (56 KiB ..
 *                     72 KiB - 1, across 64 KiB); bit 14 makes the second
 *                     end send on a duplex backend
 *            pattern  1 byte: payload byte i is pattern + 7i + i/256
 *   the rest: the fault plan, for ipc_fault_plan_bytes (include/ipc/fault.h):
 *            one byte per system call, 0xA0.. short, 0xC0.. errno,
 *            0xE0.. signal.
 * A length is cut to the largest message whose frames fit 128 KiB on the
 * wire in at most 16 frames: one thread sends and receives, so what is in
 * flight must fit the kernel buffer, and tiny frame limits stay fast. Queue
 * backends hold less, and their frames are no larger than the queue's
 * message size: there the cut is to what the queue holds (see `room`).
 * Kernel buffers are widened (pipes and FIFOs to 1 MiB with F_SETPIPE_SZ,
 * sockets with SO_SNDBUF and SO_RCVBUF): how much a pipe holds depends on
 * how the bytes were cut into writes, and a socket charges every write its
 * overhead. Before receiving, the driver waits until the receiver's kernel
 * queue holds all that was sent its way (FIONREAD), and before the
 * end-of-stream checks until the peer's close has arrived: TCP delivers
 * asynchronously, and a call made too early would take another path. Over
 * TCP, batches are sent corked (TCP_CORK, see cork_senders).
 *
 * Invariants, checked after every call:
 *  - every message arrives exactly once, in order, with its type, length and
 *    bytes; nothing more arrives after the last; type 0 is IPC_INVALID and
 *    a message over the limit IPC_TOO_BIG, before any byte is sent;
 *  - a send may time out only if its kernel buffer is full (poll says the
 *    descriptor is not writable), which a script can still reach over a
 *    socket: the messages sent whole before it are received and checked,
 *    and the script stops;
 *  - a status other than the expected one is allowed only as the fault the
 *    plan caused: ipc_fault_last_hard_errno() is not 0 and EPIPE gave
 *    IPC_PEER_CLOSED, any other (ENOMEM, EMFILE, ENOSPC) IPC_SYSTEM with
 *    that ipc_channel_errno();
 *    the script stops there. Short transfers, EINTR, EAGAIN and signals
 *    must never surface; a failed pair hands out no ends;
 *  - at the end, the receiver sees IPC_PEER_CLOSED once the sender closed,
 *    or a send reports IPC_PEER_CLOSED within 4 tries once the reader closed;
 *  - no SIGPIPE reaches the process; every SIGNAL decision of the plan
 *    delivered its signal (SIGRTMIN+1, SIGRTMIN+2, handled here);
 *  - after both ends are closed, the descriptors open before are open, the
 *    first 16 free ones (where the kernel puts new ones) are free, and the
 *    private directory is empty. It is $TMPDIR while an input runs: made
 *    for the input under the real $TMPDIR (else /dev/shm, else /tmp) and
 *    removed after it, so nothing outlives an input that passed, whoever
 *    stops the process between inputs, and the engines' own temporary
 *    files (merge, fork and minimize modes) go where they always go. What
 *    an input stopped halfway left there is cleared before the next.
 * A broken invariant prints the script and the seam log, then aborts.
 *
 * Determinism: the same input must give the same seam log. Replay builds
 * (IPCH_FUZZ_REPLAY, every preset without a fuzzing engine, so the corpus
 * and regression tests) run each input twice and compare the log hashes;
 * fuzzing runs each input once, for speed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipc/channel.h"
#include "ipc/fault.h"

#include "channel_driver.h"
#include "fuzz_common.h"

/* What a receive needs was sent before it, so a correct receive never
 * waits; one this long means the bytes never come. */
#define RECV_WAIT_MS 1000
/* A send waits only when the kernel buffer is full, which in one thread
 * lasts for ever: the script asked for more than the buffer holds. */
#define SEND_WAIT_MS 10
/* Kernel buffer room asked for (widen): the most an unprivileged process
 * may give a pipe by default; sockets get what the system allows. */
#define BUFFER_ROOM (1 << 20)
/* How long to let the kernel deliver what a socket sent (settle_*). */
#define SETTLE_MS 1000
#define READER_GONE_TRIES 4
#define NSIGNALS 2

struct script_msg {
	uint16_t type;
	size_t len;
	uint8_t pattern;
	int reverse;
};

struct script {
	uint8_t options;
	struct ipc_opts opts;
	uint32_t frame;
	uint32_t wire_frame; /* frame, or less where the mechanism carries less */
	uint32_t limit; /* effective message limit */
	size_t n;
	struct script_msg msg[CHF_MAX_MESSAGES];
	const uint8_t *plan;
	size_t plan_len;
};

struct ends {
	struct ipc_channel *a, *b;
};

static const struct ipc_backend *backend;
/*
 * What the backend's kernel object holds while one thread has not yet
 * received: frames of at most `frame` payload bytes, `in_flight` bytes,
 * `frames` frames. Scripts stay within it, since a send into a full object
 * would wait: over a descriptor once, in poll, but into a System V queue in
 * sleeps whose count depends on time, which the seam log must not.
 */
static struct {
	uint32_t frame;
	size_t in_flight;
	size_t frames;
} room = { UINT32_MAX, CHF_IN_FLIGHT, CHF_MAX_FRAMES };
static char private_dir[4096];
static char *real_tmpdir; /* $TMPDIR as the process got it, or NULL */
static int signals[NSIGNALS];
static volatile sig_atomic_t signals_seen;
static volatile sig_atomic_t sigpipes_seen;
static const struct script *current; /* for failure reports */
/* Every payload is a slice of this: chf_pattern_byte(p, i) is
 * patterns[256 p + i], so payloads are sent from here and compared with
 * memcmp, which keeps 64 KiB messages cheap. */
static uint8_t patterns[256 * 255 + CHF_IN_FLIGHT];

/* ---- failure reports ----------------------------------------------------- */

static void print_script(FILE *out, const struct script *s)
{
	fprintf(out, "script over %s: options 0x%02x (frame limit %" PRIu32
		", message limit %" PRIu32 "%s%s%s%s%s), %zu message%s, %zu"
		" plan bytes\n", backend->name, s->options, s->frame, s->limit,
		s->options & CHF_PLAN_FIRST ? ", plan first" : "",
		s->options & CHF_BATCH ? ", batched" : "",
		s->options & CHF_READER_GONE ? ", reader goes" : "",
		s->opts.abstract ? ", abstract" : "",
		s->opts.ipv6 ? ", ipv6" : "", s->n,
		s->n == 1 ? "" : "s", s->plan_len);
	for (size_t i = 0; i < s->n; i++) {
		const struct script_msg *m = &s->msg[i];

		fprintf(out, "  message %zu: type %u, %zu bytes, pattern"
			" 0x%02x%s\n", i, m->type, m->len, m->pattern,
			m->reverse && backend->duplex ? ", reversed" : "");
	}
}

/* Before the abort: what the run was, and the private directory removed
 * unless the failing input left something there to look at. */
static void print_context(void)
{
	if (current != NULL)
		print_script(stderr, current);
	ipc_fault_log_print(stderr);
	if (rmdir(private_dir) != 0 && errno == ENOTEMPTY)
		fprintf(stderr, "%s: kept, with what the input left there\n",
			private_dir);
}

/* CHAN_CHECK(cond, fmt, ...): FUZZ_CHECK that first prints the script and
 * the seam log, which say how the run got there. */
#define CHAN_CHECK(cond, ...)                                                 \
	((cond) ? (void)0                                                     \
		: (print_context(),                                           \
		   fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__)))

/* ---- set-up: once, per process, per input -------------------------------- */

static void count_signal(int sig)
{
	(void)sig;
	signals_seen++;
}

void (*chf_before_signal_checks)(void);

void chf_count_signal(void)
{
	signals_seen++;
}

static void count_sigpipe(int sig)
{
	(void)sig;
	sigpipes_seen++;
}

static _Noreturn void setup_failed(const char *what, const char *detail)
{
	fprintf(stderr, "channel_%s: %s: %s\n", channel_fuzz_backend, what,
		detail);
	exit(1);
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		setup_failed("cannot install a signal handler",
			     strerror(errno));
}

/* Where private directories go: $TMPDIR if set, else tmpfs, where making
 * and removing a FIFO costs a fraction of what it does on a disk. */
static const char *temp_base(void)
{
	if (real_tmpdir != NULL && real_tmpdir[0] != '\0')
		return real_tmpdir;
	if (access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return "/tmp";
}

#define PRIVATE_PREFIX "ipch-fuzz-"

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *at);

/*
 * A fuzz process that crashes skips every cleanup (abort and the engines'
 * crash handlers run no exit hooks), so its private directory would stay in
 * base for ever. Each name carries its process id: a new driver removes the
 * directories, its own uid's only, of processes that no longer exist.
 */
static void sweep_dead_private_dirs(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct stat st;
		long pid;

		if (sscanf(e->d_name, PRIVATE_PREFIX "%ld-", &pid) != 1 || pid <= 0 ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", base, e->d_name) >=
			    sizeof path ||
		    lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != getuid())
			continue;
		nftw(path, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
	closedir(d);
}

/* Picks the private directory's name, once: AFL++ children of one fork
 * server share it, one at a time. */
static void name_private_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	const char *base;

	if (private_dir[0] != '\0')
		return;
	real_tmpdir = tmp != NULL ? strdup(tmp) : NULL;
	if (tmp != NULL && real_tmpdir == NULL)
		setup_failed("cannot keep TMPDIR", strerror(errno));
	base = temp_base();
	sweep_dead_private_dirs(base);
	if ((size_t)snprintf(private_dir, sizeof private_dir,
			     "%s/" PRIVATE_PREFIX "%ld-XXXXXX", base,
			     (long)getpid()) >= sizeof private_dir)
		setup_failed("TMPDIR is too long", base);
	/* mkdtemp picks a free name; each input makes it anew. */
	if (mkdtemp(private_dir) == NULL || rmdir(private_dir) != 0)
		setup_failed("cannot make a private directory (set TMPDIR to a"
			     " writable directory)", strerror(errno));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *at)
{
	(void)st;
	(void)flag;
	(void)at;
	return remove(path);
}

/* What a run stopped in mid-input (a timeout, AFL++ killing its child)
 * left in the private directory; only if it is ours. */
static void remove_stale_private_dir(void)
{
	struct stat st;

	if (lstat(private_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != getuid())
		setup_failed("the private directory's name is taken by"
			     " something not ours", private_dir);
	if (nftw(private_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
		setup_failed("cannot clear what an interrupted run left in",
			     private_dir);
}

/* The input's $TMPDIR: whatever a backend creates there shows after it. */
static void enter_private_dir(void)
{
	int made = mkdir(private_dir, 0700) == 0;

	if (!made && errno == EEXIST) {
		remove_stale_private_dir();
		made = mkdir(private_dir, 0700) == 0;
	}
	if (!made)
		setup_failed("cannot make the private directory", private_dir);
	if (setenv("TMPDIR", private_dir, 1) != 0)
		setup_failed("cannot set TMPDIR", strerror(errno));
}

static void restore_tmpdir(void)
{
	int rc = real_tmpdir != NULL ? setenv("TMPDIR", real_tmpdir, 1)
				     : unsetenv("TMPDIR");

	if (rc != 0)
		setup_failed("cannot restore TMPDIR", strerror(errno));
}

static long proc_number(const char *path, long otherwise)
{
	FILE *f = fopen(path, "r");
	long v;

	if (f == NULL)
		return otherwise;
	if (fscanf(f, "%ld", &v) != 1 || v <= 0)
		v = otherwise;
	fclose(f);
	return v;
}

static size_t smaller(size_t a, size_t b) { return a < b ? a : b; }

/* The room of the queue backends, from the limits their objects get. */
static void measure_room(void)
{
	if (strcmp(backend->name, "sysv-msg") == 0) {
		room.frame = (uint32_t)proc_number("/proc/sys/kernel/msgmax", 8192) -
			     IPCF_HEADER_SIZE;
		room.in_flight = smaller(CHF_IN_FLIGHT,
			(size_t)proc_number("/proc/sys/kernel/msgmnb", 16384));
	} else if (strcmp(backend->name, "posix-mq") == 0) {
		room.frame = (uint32_t)smaller(
			(size_t)proc_number("/proc/sys/fs/mqueue/msgsize_default", 8192),
			(size_t)proc_number("/proc/sys/fs/mqueue/msgsize_max", 8192)) -
			     IPCF_HEADER_SIZE;
		room.frames = smaller(CHF_MAX_FRAMES, smaller(
			(size_t)proc_number("/proc/sys/fs/mqueue/msg_default", 10),
			(size_t)proc_number("/proc/sys/fs/mqueue/msg_max", 10)));
	} else if (strcmp(backend->name, "unix-dgram") == 0) {
		room.frames = smaller(CHF_MAX_FRAMES,
			(size_t)proc_number("/proc/sys/net/unix/max_dgram_qlen", 10));
	}
}

static void setup(void)
{
	if (backend != NULL)
		return;
	backend = ipc_backend_find(channel_fuzz_backend);
	if (backend == NULL)
		setup_failed("no such backend in ipc_backends[]"
			     " (impl/channel.c)", "build only the channel"
			     " targets whose backend exists");
	/* Real-time signals: the fuzzing engines own the classic ones. */
	signals[0] = SIGRTMIN + 1;
	signals[1] = SIGRTMIN + 2;
	for (int i = 0; i < NSIGNALS; i++)
		handle(signals[i], count_signal);
	handle(SIGPIPE, count_sigpipe);
	ipc_fault_set_signals(signals, NSIGNALS);
	measure_room();
	name_private_dir();
	for (size_t i = 0; i < sizeof patterns; i++)
		patterns[i] = chf_pattern_byte(0, i);
}

static const uint8_t *payload_of(const struct script_msg *m)
{
	return patterns + 256u * m->pattern;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	return 0;
}

/* ---- reading the input --------------------------------------------------- */

static void parse(const uint8_t *data, size_t size, struct script *s)
{
	struct fuzz_input in = { data, size };
	uint8_t count;

	memset(s, 0, sizeof *s);
	s->options = fuzz_take_u8(&in);
	s->frame = chf_frame_limits[(s->options >> CHF_FRAME_SHIFT) &
				    CHF_FRAME_MASK];
	s->opts.max_frame = s->frame;
	s->wire_frame = s->frame < room.frame ? s->frame : room.frame;
	s->opts.max_message = chf_message_limits[
		(s->options >> CHF_MESSAGE_SHIFT) & CHF_MESSAGE_MASK];
	s->limit = s->opts.max_message != 0 ? s->opts.max_message
					    : IPCF_DEFAULT_LIMIT;
	count = fuzz_take_u8(&in);
	s->n = count & CHF_COUNT_MASK;
	s->opts.abstract = (count & CHF_ABSTRACT) != 0;
	s->opts.ipv6 = (count & CHF_IPV6) != 0;
	for (size_t i = 0; i < s->n; i++) {
		struct script_msg *m = &s->msg[i];
		uint16_t size_field;

		m->type = fuzz_take_be16(&in);
		size_field = fuzz_take_be16(&in);
		m->len = chf_length(size_field, s->wire_frame, room.in_flight,
				    room.frames);
		m->reverse = (size_field & CHF_SIZE_REVERSE) != 0;
		m->pattern = fuzz_take_u8(&in);
	}
	s->plan = in.p;
	s->plan_len = in.left;
}

/* ---- leak checks --------------------------------------------------------- */

/*
 * Descriptors, without listing /proc/self/fd twice per input: the kernel
 * hands out the lowest free number, so whatever an input leaves open takes
 * one of the first free numbers of its start. Those must be free again at
 * the end, and those below them still open.
 */
#define FD_WATCH 16

struct fd_snapshot {
	int lowest_free;
	int free[FD_WATCH];
};

static int fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/*
 * Which of the n descriptors p[k].fd are open, in one call rather than one
 * per descriptor (some 60 per input, a few per cent of a fast backend's
 * run): poll marks a descriptor that is not open POLLNVAL, whatever it
 * waits for (nothing here), at once. Should poll refuse (more entries than
 * RLIMIT_NOFILE), fcntl answers for each.
 */
static void which_open(struct pollfd *p, size_t n)
{
	int r;

	for (size_t k = 0; k < n; k++) {
		p[k].events = 0;
		p[k].revents = 0;
	}
	do
		r = poll(p, n, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		for (size_t k = 0; k < n; k++)
			p[k].revents = fd_is_open(p[k].fd) ? 0 : POLLNVAL;
}

static int was_open(const struct pollfd *p)
{
	return !(p->revents & POLLNVAL);
}

#define FD_WINDOW 64

static void fd_snapshot_take(struct fd_snapshot *snap)
{
	struct pollfd p[FD_WINDOW];
	int n = 0;

	snap->lowest_free = -1;
	for (int base = 0; n < FD_WATCH; base += FD_WINDOW) {
		for (int k = 0; k < FD_WINDOW; k++)
			p[k].fd = base + k;
		which_open(p, FD_WINDOW);
		for (int k = 0; k < FD_WINDOW && n < FD_WATCH; k++) {
			if (was_open(&p[k]))
				continue;
			if (snap->lowest_free < 0)
				snap->lowest_free = p[k].fd;
			snap->free[n++] = p[k].fd;
		}
	}
}

/* Whether every descriptor open before is open and every watched one
 * free, in one call; check_fds looks closer only if not. */
static int fds_as_before(const struct fd_snapshot *snap)
{
	size_t n = (size_t)snap->lowest_free + FD_WATCH, k;
	struct pollfd *p = malloc(n * sizeof *p);
	int same = p != NULL;

	if (!same)
		return 0;
	for (k = 0; k < (size_t)snap->lowest_free; k++)
		p[k].fd = (int)k;
	for (int w = 0; w < FD_WATCH; w++)
		p[k + (size_t)w].fd = snap->free[w];
	which_open(p, n);
	for (k = 0; k < n && same; k++)
		same = was_open(&p[k]) == (k < (size_t)snap->lowest_free);
	free(p);
	return same;
}

static void list_fds(void)
{
	char target[4096];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d == NULL)
		return;
	fprintf(stderr, "  open descriptors now:\n");
	while ((e = readdir(d)) != NULL) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "    %s -> %s\n", e->d_name, target);
	}
	closedir(d);
}

static void check_fds(const struct fd_snapshot *snap)
{
	if (fds_as_before(snap))
		return;
	for (int fd = 0; fd < snap->lowest_free; fd++) {
		if (!fd_is_open(fd))
			list_fds();
		CHAN_CHECK(fd_is_open(fd), "descriptor %d, open before the"
			   " input, is closed after it: a close hit a"
			   " descriptor not its own", fd);
	}
	for (int k = 0; k < FD_WATCH; k++) {
		if (fd_is_open(snap->free[k]))
			list_fds();
		CHAN_CHECK(!fd_is_open(snap->free[k]), "descriptor %d, free"
			   " before the pair was made, is open after both ends"
			   " closed: it leaked", snap->free[k]);
	}
}

static void list_private_dir(void)
{
	DIR *d = opendir(private_dir);
	struct dirent *e;

	if (d == NULL)
		return;
	fprintf(stderr, "  left in %s:\n", private_dir);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			fprintf(stderr, "    %s\n", e->d_name);
	closedir(d);
}

/* Closes the input's private directory, which must be empty. */
static void leave_private_dir(void)
{
	int removed = rmdir(private_dir) == 0;
	int err = errno;

	restore_tmpdir();
	if (!removed && err == ENOTEMPTY)
		list_private_dir();
	CHAN_CHECK(removed, "cannot remove %s ($TMPDIR of the input) after both"
		   " ends closed: %s; a backend must remove what it creates",
		   private_dir, strerror(err));
}

/*
 * System V queues live outside any descriptor table. Every queue an input
 * made was sent to or received from by this process (the pair's own
 * messages, or a peer check), so /proc/sysvipc/msg shows a leaked one with
 * this pid as its last sender or receiver.
 */
static int queues_of_this_process(void)
{
	FILE *f = fopen("/proc/sysvipc/msg", "r");
	long pid = (long)getpid(), lspid, lrpid;
	char line[512];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "%*d %*d %*o %*u %*u %ld %ld", &lspid, &lrpid) == 2 &&
		    (lspid == pid || lrpid == pid))
			n++;
	fclose(f);
	return n;
}

static void check_nothing_left(const struct fd_snapshot *snap)
{
	int queues = strcmp(backend->name, "sysv-msg") == 0 ? queues_of_this_process() : 0;

	check_fds(snap);
	leave_private_dir();
	CHAN_CHECK(queues == 0, "%d System V queue%s of this process (ipcs -q -p)"
		   " outlived both ends", queues, queues == 1 ? "" : "s");
}

/* ---- statuses ------------------------------------------------------------ */

static void check_no_sigpipe(const char *what)
{
	CHAN_CHECK(sigpipes_seen == 0, "SIGPIPE reached the process while %s:"
		   " a closed peer must be a status, never a signal", what);
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name != NULL ? name : "no errno";
}

/* A status with its detail: the errno, or the stream fault and offset. */
static void describe_status(enum ipc_status st, const struct ipc_channel *ch,
			    char *out, size_t len)
{
	uint64_t offset = 0;

	if (ch != NULL && st == IPC_SYSTEM)
		snprintf(out, len, "'%s' (errno %s)", ipc_status_name(st),
			 errno_name(ipc_channel_errno(ch)));
	else if (ch != NULL && (st == IPC_CORRUPT || st == IPC_TOO_BIG))
		snprintf(out, len, "'%s' (%s at stream offset %" PRIu64 ")",
			 ipc_status_name(st),
			 ipcf_fault_name(ipc_channel_fault(ch, &offset)),
			 offset);
	else
		snprintf(out, len, "'%s'", ipc_status_name(st));
}

/* A status other than the expected one: only the hard fault the plan
 * injected may cause it. ch is the end that made the call (NULL for a
 * failed pair); what says which call, e.g. "sending message 3". */
static void check_fault(enum ipc_status st, const struct ipc_channel *ch,
			const char *what)
{
	int hard = ipc_fault_last_hard_errno();
	char got[160];

	describe_status(st, ch, got, sizeof got);
	CHAN_CHECK(hard != 0, "%s gave %s with no hard fault injected: short"
		   " transfers, EINTR, EAGAIN and signals must be retried,"
		   " never surface", what, got);
	if (hard == EPIPE) {
		CHAN_CHECK(st == IPC_PEER_CLOSED, "%s gave %s after an injected"
			   " EPIPE; expected '%s'", what, got,
			   ipc_status_name(IPC_PEER_CLOSED));
		return;
	}
	/* Any other hard errno (ENOMEM, EMFILE, ENOSPC) is the system's
	 * refusal, reported as such with that errno. */
	CHAN_CHECK(st == IPC_SYSTEM &&
			   (ch == NULL || ipc_channel_errno(ch) == hard),
		   "%s gave %s after an injected %s; expected '%s' with"
		   " errno %s", what, got, errno_name(hard),
		   ipc_status_name(IPC_SYSTEM), errno_name(hard));
}

/* check_fault for message i. */
static void check_message_fault(enum ipc_status st,
				const struct ipc_channel *ch, const char *verb,
				size_t i)
{
	char what[64];

	snprintf(what, sizeof what, "%s message %zu", verb, i);
	check_fault(st, ch, what);
}

/* ---- the script ---------------------------------------------------------- */

static struct ipc_channel *sender(const struct ends *e,
				  const struct script_msg *m)
{
	return m->reverse && backend->duplex ? e->b : e->a;
}

static struct ipc_channel *receiver(const struct ends *e,
				    const struct script_msg *m)
{
	return m->reverse && backend->duplex ? e->a : e->b;
}

static enum ipc_status expected_send(const struct script *s,
				     const struct script_msg *m)
{
	if (m->type == 0)
		return IPC_INVALID;
	if (m->len > s->limit)
		return IPC_TOO_BIG;
	return IPC_OK;
}

enum sent { SENT, REFUSED, FULL, STOPPED };

/* A send that timed out: right only if the kernel buffer is full now. A
 * mechanism without a descriptor (System V queues) cannot be asked here;
 * the library asks it (IPC_STAT) before it reports a timeout. */
static void check_buffer_full(struct ipc_channel *tx, size_t i)
{
	struct pollfd p = { .fd = ipc_channel_send_fd(tx), .events = POLLOUT };
	int r;

	if (p.fd < 0)
		return;
	r = poll(&p, 1, 0);

	CHAN_CHECK(r == 0, "sending message %zu timed out, but the descriptor"
		   " %d is writable (poll: %d, revents 0x%x): a send must wait"
		   " only while the kernel buffer is full", i, p.fd, r,
		   (unsigned)p.revents);
}

static enum sent send_one(const struct ends *e, const struct script *s,
			  size_t i)
{
	const struct script_msg *m = &s->msg[i];
	enum ipc_status want = expected_send(s, m);
	struct ipc_channel *tx = sender(e, m);
	enum ipc_status st;

	st = ipc_send(tx, m->type, payload_of(m), m->len, SEND_WAIT_MS);
	check_no_sigpipe("sending");
	if (want != IPC_OK) {
		CHAN_CHECK(st == want, "sending message %zu (type %u, %zu"
			   " bytes, limit %" PRIu32 ") gave '%s'; expected '%s'"
			   " before any byte is sent", i, m->type, m->len,
			   s->limit, ipc_status_name(st),
			   ipc_status_name(want));
		return REFUSED;
	}
	if (st == IPC_OK)
		return SENT;
	if (st == IPC_TIMEOUT) {
		check_buffer_full(tx, i);
		return FULL;
	}
	check_message_fault(st, tx, "sending", i);
	return STOPPED;
}

/* The index of the first byte that differs from the pattern, or len. */
static size_t first_wrong_byte(const struct ipc_msg *got,
			       const struct script_msg *m)
{
	const uint8_t *want = payload_of(m);
	size_t k = 0;

	if (got->length == 0 || memcmp(got->data, want, got->length) == 0)
		return got->length;
	while (got->data[k] == want[k])
		k++;
	return k;
}

static int receive_one(const struct ends *e, const struct script *s, size_t i)
{
	const struct script_msg *m = &s->msg[i];
	struct ipc_channel *rx = receiver(e, m);
	struct ipc_msg got;
	enum ipc_status st = ipc_recv(rx, &got, RECV_WAIT_MS);
	size_t bad;

	check_no_sigpipe("receiving");
	if (st != IPC_OK) {
		check_message_fault(st, rx, "receiving", i);
		return 0;
	}
	CHAN_CHECK(got.type == m->type && got.length == m->len,
		   "message %zu arrived as type %u, %zu bytes; it was sent as"
		   " type %u, %zu bytes", i, got.type, got.length, m->type,
		   m->len);
	bad = first_wrong_byte(&got, m);
	CHAN_CHECK(bad == got.length, "message %zu (%zu bytes): byte %zu"
		   " arrived as 0x%02x; it was sent as 0x%02x", i, got.length,
		   bad, got.data[bad], chf_pattern_byte(m->pattern, bad));
	return 1;
}

/* Messages sent and not yet received; wire bytes queued toward each end. */
struct batch {
	size_t index[CHF_MAX_MESSAGES];
	size_t n;
	size_t wire, frames;
	size_t toward_a, toward_b;
};

/* Whether fd is a byte stream (pipe, FIFO, stream socket), whose peer's
 * close shows in poll. Message mechanisms deliver at once, and a queue
 * descriptor shows nothing when its sender closes. */
static int is_stream(int fd)
{
	int type;
	socklen_t len = sizeof type;

	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETPIPE_SZ) > 0)
		return 1;
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_STREAM;
}

static int queued(int fd, size_t bytes)
{
	int have;

	return ioctl(fd, FIONREAD, &have) != 0 || (size_t)have >= bytes;
}

/* TCP delivers asynchronously: a receive that ran before the bytes got
 * there would read them in other pieces, and the seam log would differ
 * from run to run. Waits until rx's kernel queue holds what was sent its
 * way (or, past SETTLE_MS, lets the receive show what is missing): in
 * poll with SO_RCVLOWAT where the socket has it, else in short sleeps. */
static void settle_queue(struct ipc_channel *rx, size_t bytes)
{
	const struct timespec tick = { 0, 100 * 1000 };
	int fd = ipc_channel_recv_fd(rx);
	int lowat = bytes > INT_MAX ? INT_MAX : (int)bytes, one = 1;
	long ticks = 0;

	if (!is_stream(fd) || queued(fd, bytes))
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat,
		       sizeof lowat) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		poll(&p, 1, SETTLE_MS);
		setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
		return;
	}
	while (!queued(fd, bytes) && ticks++ < SETTLE_MS * 10L)
		nanosleep(&tick, NULL);
}

/* Waits until fd shows one of events (or an error or hang-up): the peer's
 * close has arrived. */
static void settle_events(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (is_stream(fd))
		poll(&p, 1, SETTLE_MS);
}

/* Over TCP a batch is sent corked (TCP_CORK), so it crosses in a few full
 * segments rather than one per write: a new connection may have 10
 * segments in flight, and a receiver that reads nothing until all is there
 * acks small ones only when its delayed-ACK timer fires. What the library
 * sees is the same. Other descriptors refuse the option. */
static void cork_senders(const struct ends *e, int on)
{
	int fds[2] = { ipc_channel_send_fd(e->a), ipc_channel_send_fd(e->b) };

	for (int k = 0; k < 2; k++)
		if (fds[k] >= 0)
			setsockopt(fds[k], IPPROTO_TCP, TCP_CORK, &on,
				   sizeof on);
}

static int receive_batch(const struct ends *e, const struct script *s,
			 struct batch *b)
{
	int ok = 1;

	cork_senders(e, 0);
	if (b->toward_b > 0)
		settle_queue(e->b, b->toward_b);
	if (b->toward_a > 0)
		settle_queue(e->a, b->toward_a);
	for (size_t k = 0; k < b->n && ok; k++)
		ok = receive_one(e, s, b->index[k]);
	memset(b, 0, sizeof *b);
	return ok;
}

static void add_to_batch(const struct ends *e, const struct script *s,
			 size_t i, struct batch *b)
{
	size_t wire = chf_wire_size(s->msg[i].len, s->wire_frame);

	b->index[b->n++] = i;
	b->wire += wire;
	b->frames += chf_frames(s->msg[i].len, s->wire_frame);
	if (receiver(e, &s->msg[i]) == e->a)
		b->toward_a += wire;
	else
		b->toward_b += wire;
}

/* Sends and receives every message; 0 if a fault stopped the script. */
static int exchange(const struct ends *e, const struct script *s)
{
	struct batch b;

	memset(&b, 0, sizeof b);
	for (size_t i = 0; i < s->n; i++) {
		const struct script_msg *m = &s->msg[i];
		int fits = b.wire + chf_wire_size(m->len, s->wire_frame) <=
				   room.in_flight &&
			   b.frames + chf_frames(m->len, s->wire_frame) <=
				   room.frames;

		if (!fits && !receive_batch(e, s, &b))
			return 0;
		if (b.n == 0)
			cork_senders(e, 1);
		switch (send_one(e, s, i)) {
		case SENT:
			add_to_batch(e, s, i, &b);
			break;
		case REFUSED:
			break;
		case FULL:
			/* What went out whole before it still arrives whole. */
			receive_batch(e, s, &b);
			return 0;
		case STOPPED:
			return 0;
		}
		if (!(s->options & CHF_BATCH) && !receive_batch(e, s, &b))
			return 0;
	}
	return receive_batch(e, s, &b);
}

/* After the whole script, a receive must find nothing (a message delivered
 * twice would show here); 0 if a fault stopped it. */
static int expect_nothing_more(struct ipc_channel *rx, const struct script *s)
{
	struct ipc_msg got;
	enum ipc_status st = ipc_recv(rx, &got, 0);

	if (st == IPC_TIMEOUT)
		return 1;
	CHAN_CHECK(st != IPC_OK, "after the script's %zu messages, another"
		   " arrived: type %u, %zu bytes", s->n, got.type, got.length);
	check_fault(st, rx, "receiving after the last message");
	return 0;
}

static void writer_goes(struct ends *e)
{
	struct ipc_msg got;
	enum ipc_status st;

	ipc_channel_close(e->a);
	e->a = NULL;
	settle_events(ipc_channel_recv_fd(e->b), POLLIN | POLLRDHUP);
	st = ipc_recv(e->b, &got, RECV_WAIT_MS);
	check_no_sigpipe("receiving after the sender closed");
	if (st == IPC_PEER_CLOSED)
		return;
	CHAN_CHECK(st != IPC_OK, "after the sender closed, a message arrived:"
		   " type %u, %zu bytes", got.type, got.length);
	check_fault(st, e->b, "receiving after the sender closed");
}

static void reader_goes(struct ends *e)
{
	static const uint8_t one = 0x5A;

	ipc_channel_close(e->b);
	e->b = NULL;
	for (int k = 0; k < READER_GONE_TRIES; k++) {
		enum ipc_status st;

		/* First the close, then, over TCP, the reset the first send
		 * drew: errors and hang-ups are always reported. */
		settle_events(ipc_channel_send_fd(e->a),
			      k == 0 ? POLLRDHUP : 0);
		st = ipc_send(e->a, 1, &one, 1, SEND_WAIT_MS);

		check_no_sigpipe("sending after the reader closed");
		if (st == IPC_PEER_CLOSED)
			return;
		if (st != IPC_OK) {
			check_fault(st, e->a,
				    "sending after the reader closed");
			return;
		}
	}
	CHAN_CHECK(0, "%d sends after the reader closed all succeeded;"
		   " expected '%s'", READER_GONE_TRIES,
		   ipc_status_name(IPC_PEER_CLOSED));
}

static void finish_script(struct ends *e, const struct script *s)
{
	if (!expect_nothing_more(e->b, s))
		return;
	if (backend->duplex && !expect_nothing_more(e->a, s))
		return;
	if (s->options & CHF_READER_GONE)
		reader_goes(e);
	else
		writer_goes(e);
}

/* Every SIGNAL decision (plan bytes 0xE0.. on the calls made) must have
 * delivered its signal by now. */
static void check_signals(const struct script *s)
{
	uint64_t calls = ipc_fault_calls();
	size_t decided = 0;

	for (size_t k = 0; k < s->plan_len && k < calls; k++)
		decided += s->plan[k] >= 0xE0;
	CHAN_CHECK((size_t)signals_seen == decided, "%zu signals were raised by"
		   " the plan but %d delivered: a signal stayed blocked",
		   decided, (int)signals_seen);
}

/* Kernel buffers too big for any script to fill. A pipe or FIFO keeps
 * data in page slots, 16 by default, and a write whose head does not fit
 * the last slot's free room starts a new one: 64 KiB of frames may need
 * more than 16 (writes of 4117 bytes fill a default pipe at 45266). A
 * socket charges every write its overhead. Where widening is refused, a
 * full buffer is left to check_buffer_full. */
static void widen(int fd, int sending)
{
	int room = BUFFER_ROOM, type;
	socklen_t len = sizeof type;

	if (fd < 0)
		return;
	if (fcntl(fd, F_GETPIPE_SZ) > 0) {
		if (sending)
			fcntl(fd, F_SETPIPE_SZ, room);
	} else if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) {
		setsockopt(fd, SOL_SOCKET, sending ? SO_SNDBUF : SO_RCVBUF,
			   &room, sizeof room);
	}
}

static void widen_buffers(const struct ends *e)
{
	widen(ipc_channel_send_fd(e->a), 1);
	widen(ipc_channel_recv_fd(e->a), 0);
	widen(ipc_channel_send_fd(e->b), 1);
	widen(ipc_channel_recv_fd(e->b), 0);
}

static void install_plan(const struct script *s)
{
	ipc_fault_plan_bytes(s->plan, s->plan_len);
}

/* Makes the pair, runs the script, closes both ends, checks for leaks;
 * returns the seam log hash and, if log_copy is not NULL, prints the log
 * there, before the plan is cleared. */
static uint64_t run(const struct script *s, FILE *log_copy)
{
	struct fd_snapshot fds;
	struct ends e = { NULL, NULL };
	enum ipc_status st;
	uint64_t hash;

	fd_snapshot_take(&fds);
	enter_private_dir();
	signals_seen = 0;
	sigpipes_seen = 0;
	if (s->options & CHF_PLAN_FIRST)
		install_plan(s);
	st = ipc_channel_pair(backend, &s->opts, &e.a, &e.b);
	check_no_sigpipe("making the pair");
	if (st == IPC_OK) {
		widen_buffers(&e);
		if (!(s->options & CHF_PLAN_FIRST))
			install_plan(s);
		if (exchange(&e, s))
			finish_script(&e, s);
	} else {
		CHAN_CHECK(e.a == NULL && e.b == NULL, "a failed pair ('%s')"
			   " handed out an end", ipc_status_name(st));
		check_fault(st, NULL, "making the pair");
	}
	ipc_channel_close(e.a);
	ipc_channel_close(e.b);
	check_no_sigpipe("closing");
	if (chf_before_signal_checks != NULL)
		chf_before_signal_checks();
	check_signals(s);
	check_nothing_left(&fds);
	hash = ipc_fault_log_hash();
	if (log_copy != NULL)
		ipc_fault_log_print(log_copy);
	ipc_fault_plan_clear();
	return hash;
}

#ifdef IPCH_FUZZ_REPLAY
/* Runs the input twice; the seam logs must agree. */
static void run_twice(const struct script *s)
{
	char *first_log = NULL, *second_log = NULL;
	size_t first_len = 0, second_len = 0;
	FILE *first = open_memstream(&first_log, &first_len);
	FILE *second = open_memstream(&second_log, &second_len);
	uint64_t h1, h2;

	if (first == NULL || second == NULL)
		setup_failed("cannot keep a seam log", strerror(errno));
	h1 = run(s, first);
	h2 = run(s, second);
	fclose(first);
	fclose(second);
	if (h1 != h2)
		fprintf(stderr, "first run:\n%ssecond run:\n%s", first_log,
			second_log);
	free(first_log);
	free(second_log);
	CHAN_CHECK(h1 == h2, "the same input gave seam log hashes %016" PRIx64
		   " and %016" PRIx64 ": a run depends on something outside the"
		   " plan and the input", h1, h2);
}
#endif

int channel_fuzz_input(const uint8_t *data, size_t size)
{
	struct script s;

	setup();
	parse(data, size, &s);
	current = &s;
#ifdef IPCH_FUZZ_REPLAY
	run_twice(&s);
#else
	run(&s, NULL);
#endif
	current = NULL;
	return 0;
}

#ifndef IPCH_SIGNAL_TIMING
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return channel_fuzz_input(data, size);
}
#endif
