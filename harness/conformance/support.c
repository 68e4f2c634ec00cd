/*
 * The fixture the cases are written against: it owns the pair, the peer
 * process, the buffers and the workload, so that every way out of a case (its
 * end, a stop by an injected fault, a failure) releases the same things; and
 * it judges statuses, telling a channel's fault from one the plan injected.
 */
#include "conformance.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Under AddressSanitizer the case and peer processes end with _exit, which
 * skips LeakSanitizer's check at exit: they ask for it themselves. */
#if defined(__SANITIZE_ADDRESS__)
#define CONF_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONF_LSAN 1
#endif
#endif
#ifdef CONF_LSAN
#include <sanitizer/lsan_interface.h>
#endif

const struct conf_plan conf_plans[] = {
	{"none", IPC_PATTERN_NONE, 0},
	{"short-by-one", IPC_PATTERN_SHORT_BY_ONE, 0},
	{"eintr-first", IPC_PATTERN_EINTR_FIRST, 0},
	{"eagain-alternate", IPC_PATTERN_EAGAIN_ALTERNATE, 0},
	{"seeded-random", IPC_PATTERN_NONE, 1},
};
const size_t conf_nplans = sizeof conf_plans / sizeof conf_plans[0];

struct conf_settings conf;

void conf_settings_init(int light)
{
	conf.light = light;
	conf.io_timeout_ms = light ? 120000 : 10000;
	conf.run_deadline_s = light ? 300 : 30;
	conf.limit_message = light ? 1u << 20 : IPCF_DEFAULT_LIMIT;
	conf.limit_opts = light ? 1u << 20 : 0;
	conf.many_count = light ? 500 : 5000;
	conf.mixed_count = light ? 40 : 160;
}

void plan_install(const struct conf_run *run, int in_peer)
{
	if (run->plan->seeded)
		ipc_fault_plan_seed(CONF_SEED + (in_peer ? 1 : 0), CONF_SEED_PERCENT);
	else
		ipc_fault_plan_pattern(run->plan->pattern);
}

/* ---- payloads ---------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void payload_fill(uint8_t *out, size_t len, uint64_t seed)
{
	for (size_t at = 0; at < len; at += 8) {
		uint64_t v = splitmix(&seed);

		memcpy(out + at, &v, len - at < 8 ? len - at : 8);
	}
}

size_t payload_diff(const uint8_t *data, size_t len, uint64_t seed)
{
	for (size_t at = 0; at < len; at += 8) {
		uint64_t v = splitmix(&seed);
		size_t n = len - at < 8 ? len - at : 8;

		if (memcmp(data + at, &v, n) != 0) {
			const uint8_t *want = (const uint8_t *)&v;
			size_t i = 0;

			while (data[at + i] == want[i])
				i++;
			return at + i;
		}
	}
	return len;
}

int conf_leaks_found(void)
{
#ifdef CONF_LSAN
	return __lsan_do_recoverable_leak_check() != 0;
#else
	return 0;
#endif
}

/* ---- failing, stopping, judging ------------------------------------------- */

static void describe_status(const struct ipc_channel *ch, enum ipc_status st,
			    char *out, size_t len)
{
	if (st == IPC_SYSTEM && ch != NULL) {
		int err = ipc_channel_errno(ch);
		snprintf(out, len, "'%s' (errno %s: %s)", ipc_status_name(st),
			 strerrorname_np(err) ? strerrorname_np(err) : "0",
			 strerror(err));
	} else if ((st == IPC_CORRUPT || st == IPC_TOO_BIG) && ch != NULL) {
		uint64_t off = 0;
		enum ipcf_fault f = ipc_channel_fault(ch, &off);
		snprintf(out, len, "'%s' (IPCF fault '%s' at stream offset %" PRIu64 ")",
			 ipc_status_name(st), ipcf_fault_name(f), off);
	} else {
		snprintf(out, len, "'%s'", ipc_status_name(st));
	}
}

#define LOG_TAIL_LINES 40

/* The seam log's summary line and its last calls: what led to a failure is
 * near its end, and a whole log per failed run would bury the reports. */
static void print_seam_log_tail(FILE *out)
{
	char *text = NULL, *from;
	size_t size = 0, lines = 0;
	FILE *mem = open_memstream(&text, &size);

	if (mem == NULL) {
		ipc_fault_log_print(out);
		return;
	}
	ipc_fault_log_print(mem);
	fclose(mem);
	from = text + size;
	while (from > text && lines <= LOG_TAIL_LINES)
		if (*--from == '\n')
			lines++;
	if (lines > LOG_TAIL_LINES) {
		char *first_end = strchr(text, '\n');

		fwrite(text, 1, (size_t)(first_end + 1 - text), out);
		if (from > first_end)
			fprintf(out, "  (earlier calls left out)\n");
		fputs(from > first_end ? from + 1 : first_end + 1, out);
	} else {
		fputs(text, out);
	}
	free(text);
}

static void kill_peer(struct fixture *fx)
{
	if (fx->peer > 0) {
		kill(fx->peer, SIGKILL);
		while (waitpid(fx->peer, NULL, 0) < 0 && errno == EINTR)
			;
		fx->peer = 0;
	}
}

void fx_fail(struct fixture *fx, const char *fmt, ...)
{
	va_list ap;

	kill_peer(fx);
	fflush(stdout);
	fprintf(stderr, "conformance: FAILED %s (%s, pid %d): ", fx->run->name,
		fx->role, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  fault plan '%s' in this process; its seam log:\n",
		fx->run->plan->name);
	print_seam_log_tail(stderr);
	fflush(stderr);
	_exit(CONF_EXIT_FAILED);
}

static _Noreturn void fx_stop(struct fixture *fx, const char *why)
{
	printf("  note: %s (%s): %s; an accepted outcome of the seeded plan\n",
	       fx->run->name, fx->role, why);
	fflush(stdout);
	fx->stopped = 1;
	longjmp(fx->stop, 1);
}

/* An injected hard fault in this process that the status reports. */
static int injected_here(const struct fixture *fx, const struct ipc_channel *ch,
			 enum ipc_status got)
{
	int hard = ipc_fault_last_hard_errno();

	if (!fx->run->plan->seeded)
		return 0;
	if (hard == EPIPE && got == IPC_PEER_CLOSED)
		return 1;
	return hard == ENOMEM && got == IPC_SYSTEM &&
	       (ch == NULL || ipc_channel_errno(ch) == ENOMEM);
}

/* What the peer's end looks like from here when it went away: a clean end,
 * or a message cut short. */
static int peer_went_away(const struct ipc_channel *ch, enum ipc_status got)
{
	return got == IPC_PEER_CLOSED ||
	       (got == IPC_CORRUPT && ch != NULL &&
		ipc_channel_fault(ch, NULL) == IPCF_FAULT_TRUNCATED);
}

void describe_exit(int status, char *out, size_t len)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == CONF_EXIT_FAILED)
		snprintf(out, len, "failed (its report is above)");
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 99)
		snprintf(out, len, "exited with status 99: valgrind found errors (above)");
	else if (WIFEXITED(status))
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(out, len, "was killed by its %d s deadline (SIGALRM): it hung",
			 conf.run_deadline_s);
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE)
		snprintf(out, len, "was killed by SIGPIPE: a reader gone must be "
			 "IPC_PEER_CLOSED, never a signal death");
	else if (WIFSIGNALED(status))
		snprintf(out, len, "was killed by signal SIG%s (%s)",
			 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?",
			 strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "ended with wait status 0x%x", status);
}

/* A peer's exit: CONF_EXIT_DONE or CONF_EXIT_STOPPED; anything else fails
 * the case, naming how the peer ended. */
static int judge_peer_exit(struct fixture *fx, pid_t pid, int status)
{
	char how[160];

	if (WIFEXITED(status) && (WEXITSTATUS(status) == CONF_EXIT_DONE ||
				  WEXITSTATUS(status) == CONF_EXIT_STOPPED))
		return WEXITSTATUS(status);
	describe_exit(status, how, sizeof how);
	fx_fail(fx, "the peer process %d %s", (int)pid, how);
}

static int reap_peer(struct fixture *fx)
{
	pid_t pid = fx->peer;
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fx_fail(fx, "waitpid(%d) for the peer process: %s", (int)pid,
				strerror(errno));
	fx->peer = 0;
	return judge_peer_exit(fx, pid, status);
}

/* The same, if the peer ends within ms; -1 if it is still running. */
static int reap_peer_within(struct fixture *fx, int ms)
{
	pid_t pid = fx->peer;

	for (int waited = 0;; waited += 10) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			fx->peer = 0;
			return judge_peer_exit(fx, pid, status);
		}
		if (r < 0 && errno != EINTR)
			fx_fail(fx, "waitpid(%d) for the peer process: %s", (int)pid,
				strerror(errno));
		if (waited >= ms)
			return -1;
		usleep(10000);
	}
}

void fx_wait_peer(struct fixture *fx)
{
	if (fx->peer > 0 && reap_peer(fx) == CONF_EXIT_STOPPED)
		fx_stop(fx, "its peer process was stopped by an injected fault");
}

static _Noreturn void judge(struct fixture *fx, struct ipc_channel *ch,
			    enum ipc_status got, const char *want_text, const char *what)
{
	char got_text[160], why[640];

	describe_status(ch, got, got_text, sizeof got_text);
	if (injected_here(fx, ch, got)) {
		snprintf(why, sizeof why, "%s: got %s after an injected %s", what,
			 got_text, strerrorname_np(ipc_fault_last_hard_errno()));
		fx_stop(fx, why);
	}
	/* The peer's end went away: if the peer failed, that is the failure
	 * to report; if an injected fault stopped it, the case ends rightly. */
	if (fx->peer > 0 && peer_went_away(ch, got) &&
	    reap_peer_within(fx, conf.io_timeout_ms / 4) == CONF_EXIT_STOPPED) {
		snprintf(why, sizeof why, "%s: got %s after the peer process was "
			 "stopped by an injected fault", what, got_text);
		fx_stop(fx, why);
	}
	fx_fail(fx, "%s: got %s, want %s", what, got_text, want_text);
}

void fx_expect(struct fixture *fx, struct ipc_channel *ch, enum ipc_status got,
	       enum ipc_status want, const char *fmt, ...)
{
	char what[240], want_text[64];
	va_list ap;

	if (got == want)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(want_text, sizeof want_text, "'%s'", ipc_status_name(want));
	judge(fx, ch, got, want_text, what);
}

void fx_expect_fault(struct fixture *fx, struct ipc_channel *ch,
		     enum ipc_status got, enum ipcf_fault want, const char *what)
{
	char want_text[96];

	if (got == IPC_CORRUPT && ipc_channel_fault(ch, NULL) == want)
		return;
	snprintf(want_text, sizeof want_text, "'%s' with IPCF fault '%s'",
		 ipc_status_name(IPC_CORRUPT), ipcf_fault_name(want));
	judge(fx, ch, got, want_text, what);
}

/* ---- what the fixture owns ------------------------------------------------- */

static void close_end(struct fixture *fx, int i)
{
	ipc_channel_close(fx->end[i]);
	fx->end[i] = NULL;
}

void fx_pair(struct fixture *fx, uint32_t max_message)
{
	struct ipc_opts opts = {.max_message = max_message};
	enum ipc_status st;

	close_end(fx, 0);
	close_end(fx, 1);
	st = ipc_channel_pair(fx->run->backend, &opts, &fx->end[0], &fx->end[1]);
	fx_expect(fx, NULL, st, IPC_OK, "ipc_channel_pair(max_message %u)",
		  max_message);
	if (fx->end[0] == NULL || fx->end[1] == NULL)
		fx_fail(fx, "ipc_channel_pair returned ok without both ends");
}

static int tx_index(const struct fixture *fx) { return fx->run->reversed ? 1 : 0; }

struct ipc_channel *fx_tx(struct fixture *fx) { return fx->end[tx_index(fx)]; }
struct ipc_channel *fx_rx(struct fixture *fx) { return fx->end[1 - tx_index(fx)]; }
void fx_close_tx(struct fixture *fx) { close_end(fx, tx_index(fx)); }
void fx_close_rx(struct fixture *fx) { close_end(fx, 1 - tx_index(fx)); }

uint8_t *fx_buffer(struct fixture *fx, size_t len)
{
	if (len > fx->scratch_len || fx->scratch == NULL) {
		free(fx->scratch);
		fx->scratch = malloc(len > 0 ? len : 1);
		fx->scratch_len = fx->scratch != NULL ? len : 0;
		if (fx->scratch == NULL)
			fx_fail(fx, "out of memory for a %zu-byte test buffer", len);
	}
	return fx->scratch;
}

void fx_release(struct fixture *fx)
{
	/* The peer goes first, so it never sees these ends close under it and
	 * reports a failure that is not one. */
	kill_peer(fx);
	close_end(fx, 0);
	close_end(fx, 1);
	free(fx->scratch);
	fx->scratch = NULL;
	fx->scratch_len = 0;
	free(fx->work.msgs);
	fx->work = (struct workload){0};
}

/* ---- the peer process ------------------------------------------------------- */

static _Noreturn void peer_exit(struct fixture *fx, int code)
{
	fx_release(fx);
	if (conf_leaks_found())
		fx_fail(fx, "LeakSanitizer found memory leaked (its report is above)");
	fflush(stdout);
	_exit(code);
}

static _Noreturn void peer_main(struct fixture *fx, void (*body)(struct fixture *fx))
{
	if (setjmp(fx->stop) == 0) {
		body(fx);
		peer_exit(fx, CONF_EXIT_DONE);
	}
	peer_exit(fx, CONF_EXIT_STOPPED);
}

void fx_start_peer(struct fixture *fx, enum peer_role role,
		   void (*body)(struct fixture *fx))
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fx_fail(fx, "fork for the peer process: %s", strerror(errno));
	if (pid == 0) {
		/* It dies with the case process, whichever way that ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(CONF_EXIT_FAILED);
		fx->role = "peer process";
		fx->peer = 0;
		alarm((unsigned)conf.run_deadline_s);
		plan_install(fx->run, 1);
		if (role == PEER_SENDS)
			fx_close_rx(fx);
		else
			fx_close_tx(fx);
		peer_main(fx, body);
	}
	fx->peer = pid;
	if (role == PEER_SENDS)
		fx_close_tx(fx);
	else
		fx_close_rx(fx);
}

/* ---- workloads ------------------------------------------------------------- */

static struct msg_spec *workload_reserve(struct fixture *fx, size_t count)
{
	free(fx->work.msgs);
	fx->work = (struct workload){0};
	fx->work.msgs = calloc(count > 0 ? count : 1, sizeof *fx->work.msgs);
	if (fx->work.msgs == NULL)
		fx_fail(fx, "out of memory for a workload of %zu messages", count);
	fx->work.count = count;
	return fx->work.msgs;
}

static void workload_set(struct fixture *fx, size_t i, uint16_t type, size_t length)
{
	fx->work.msgs[i] = (struct msg_spec){type, length, 0xC0FFEEull * (i + 1) + length};
	if (length > fx->work.max_length)
		fx->work.max_length = length;
}

void workload_single(struct fixture *fx, size_t length)
{
	workload_reserve(fx, 1);
	workload_set(fx, 0, 0x1234, length);
}

/* Sizes around the boundaries stream backends have: the header, PIPE_BUF
 * and the FIFO frame limit (PIPE_BUF less a header), the 64 KiB read chunk
 * and pipe frame limit, and messages of several frames. */
static const size_t edge_sizes[] = {
	0, 1, 2, 19, 20, 21, 255, 4076, 4077, 4095, 4096, 4097, 8153, 65515,
	65516, 65535, 65536, 65537, 131072 + 17, 300000,
};
/* The types at the ends of the range, and some between. */
static const uint16_t edge_types[] = {1, 2, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF};

void workload_mixed(struct fixture *fx, size_t count)
{
	uint64_t rng = 0x5EED0001;
	size_t nsizes = sizeof edge_sizes / sizeof edge_sizes[0];
	size_t ntypes = sizeof edge_types / sizeof edge_types[0];

	workload_reserve(fx, count);
	for (size_t i = 0; i < count; i++) {
		uint64_t r = splitmix(&rng);
		/* Every edge size once first, then random picks among them and
		 * random small sizes. */
		size_t length = i < nsizes ? edge_sizes[i]
			      : (r & 1) ? edge_sizes[(r >> 8) % nsizes]
					: (size_t)((r >> 8) % 8192);
		uint16_t type = (r >> 40) % 3 == 0 ? (uint16_t)(1 + (r >> 16) % 0xFFFF)
						   : edge_types[i % ntypes];

		workload_set(fx, i, type, length);
	}
}

void workload_small(struct fixture *fx, size_t count)
{
	uint64_t rng = 0x5EED0002;

	workload_reserve(fx, count);
	for (size_t i = 0; i < count; i++) {
		uint64_t r = splitmix(&rng);

		workload_set(fx, i, (uint16_t)(1 + r % 0xFFFF), (size_t)((r >> 32) % 33));
	}
}

void send_workload(struct fixture *fx)
{
	const struct workload *w = &fx->work;
	uint8_t *buf = fx_buffer(fx, w->max_length);

	for (size_t i = 0; i < w->count; i++) {
		const struct msg_spec *m = &w->msgs[i];
		enum ipc_status st;

		payload_fill(buf, m->length, m->seed);
		st = ipc_send(fx_tx(fx), m->type, buf, m->length, conf.io_timeout_ms);
		fx_expect(fx, fx_tx(fx), st, IPC_OK,
			  "sending message %zu of %zu (type %u, %zu bytes)", i,
			  w->count, m->type, m->length);
	}
	fx_close_tx(fx);
}

void check_message(struct fixture *fx, const struct ipc_msg *got,
		   const struct msg_spec *want, size_t index, size_t count)
{
	size_t diff;

	if (got->type != want->type || got->length != want->length)
		fx_fail(fx, "message %zu of %zu: sent as type %u with %zu bytes, "
			"received as type %u with %zu bytes", index, count,
			want->type, want->length, got->type, got->length);
	diff = payload_diff(got->data, got->length, want->seed);
	if (diff != got->length)
		fx_fail(fx, "message %zu of %zu (type %u, %zu bytes): the payload "
			"differs from what was sent from byte %zu on", index, count,
			want->type, want->length, diff);
}

void recv_workload(struct fixture *fx)
{
	const struct workload *w = &fx->work;
	struct ipc_msg msg;
	enum ipc_status st;

	for (size_t i = 0; i < w->count; i++) {
		const struct msg_spec *m = &w->msgs[i];

		st = ipc_recv(fx_rx(fx), &msg, conf.io_timeout_ms);
		fx_expect(fx, fx_rx(fx), st, IPC_OK,
			  "receiving message %zu of %zu (type %u, %zu bytes)", i,
			  w->count, m->type, m->length);
		check_message(fx, &msg, m, i, w->count);
	}
	st = ipc_recv(fx_rx(fx), &msg, conf.io_timeout_ms);
	fx_expect(fx, fx_rx(fx), st, IPC_PEER_CLOSED,
		  "receiving after the last of %zu messages, the sender closed",
		  w->count);
}
