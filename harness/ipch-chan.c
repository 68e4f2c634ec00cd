/*
 * ipch-chan: `ipch send` and `ipch recv`, channels from the shell.
 *
 * send: each FILE (standard input if none) as one message to ADDRESS.
 * recv: one JSON line per message received, the line `ipch frame decode`
 *       prints, and with --save each payload to DIR/N.bin.
 * With --listen a side creates or binds the address and waits for its peer;
 * without it, it connects to a peer that listens. Usage errors, bad
 * addresses included, exit with status 2; everything else that fails
 * (nobody there, a timeout, a broken stream, I/O) with 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_util.h"
#include "ipc/channel.h"
#include "ipc/posix_mq.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define READ_CHUNK (64u * 1024u)

static const char usage_text[] =
	"usage: ipch send ADDRESS --type T [--max-message N] [--listen] [--timeout S]\n"
	"                 [--msgtype N] [--ring-size N] [FILE...]\n"
	"       ipch recv ADDRESS [--count N] [--save DIR] [--listen] [--timeout S]\n"
	"                 [--max-message N] [--msgtype N] [--queue-depth N] [--queue-msgsize N]\n"
	"                 [--ring-size N]\n"
	"\n"
	"send  sends each FILE as one message of type T (1..65535), in order; standard\n"
	"      input when no FILE is given or for '-'.\n"
	"recv  prints one JSON line per message received, as 'ipch frame decode' does:\n"
	"        {\"type\":T,\"seq\":S,\"frames\":F,\"length\":L}\n"
	"      and runs until the peer closes (exit 0 on a message boundary). A stream\n"
	"      that breaks IPCF v1 ends with 'ipch: frame error: NAME at offset N' on\n"
	"      standard error and exit 1. It takes frames of any size within the\n"
	"      message limit, whatever size the backend's own writers use.\n"
	"      --count N    stop after N messages (exit 1 if the peer closes sooner)\n"
	"      --save DIR   also write each payload to DIR/1.bin, DIR/2.bin, ...\n"
	"                   (DIR is created if missing)\n"
	"both  --listen         create or bind ADDRESS and wait for one peer; it prints\n"
	"                       'listening on ADDRESS' on standard error once the peer\n"
	"                       can come, with the port or name it got (below)\n"
	"      --timeout S      give up after S seconds (decimals allowed) waiting for\n"
	"                       the peer, or for any one message to go out or come in\n"
	"                       (default: wait for ever)\n"
	"      --max-message N  message limit in bytes, 1..1073741824 (default 16777216);\n"
	"                       a K, M or G suffix multiplies by 1024\n"
	"      --msgtype N      sysv-msg: the System V message type this side sends,\n"
	"                       or the only one it receives (a positive number;\n"
	"                       default 1)\n"
	"recv --listen on posix-mq: the queue it makes holds --queue-depth N messages\n"
	"      of --queue-msgsize N bytes (default: the system's; at most\n"
	"      /proc/sys/fs/mqueue/msg_max and msgsize_max)\n"
	"--listen on shm-ring: --ring-size N  bytes of each of the two rings it hands\n"
	"      the peer, a power of two from 4K to 256M (default 1M)\n"
	"\n"
	"ADDRESS is fifo:PATH, unix:PATH, unix:@NAME (abstract), tcp:HOST:PORT,\n"
	"sysv-msg:KEY (a number, or ftok:PATH:ID with ID 1..255), posix-mq:/NAME,\n"
	"unix-dgram:PATH or unix-dgram:@NAME, unix-seqpacket:PATH or unix-seqpacket:@NAME,\n"
	"shm-ring:PATH or shm-ring:@NAME (a shared-memory ring handed over a Unix socket).\n"
	"With --listen, tcp:HOST:0 binds a free port ('listening on tcp:127.0.0.1:PORT'),\n"
	"a bare unix: (unix-dgram:, unix-seqpacket:, shm-ring:) or unix:@ a fresh socket file or\n"
	"abstract name, and sysv-msg:new or posix-mq:new a fresh key or queue name.\n"
	"FIFOs and queues carry one way: the --listen side receives (it makes the FIFO\n"
	"or queue, and removes the queue when it ends) and starts first; the other\n"
	"side sends, and fails at once if there is none. Sockets carry either way,\n"
	"and either side may listen.\n"
	"Exit status: 0 done, 1 failed (nobody there, timeout, broken stream, I/O),\n"
	"2 bad usage or an address that does not parse.\n";

static const char *const known_schemes[] = {
	"fifo", "unix", "tcp", "sysv-msg", "posix-mq", "unix-dgram", "unix-seqpacket",
	"shm-ring", NULL,
};

struct options {
	int sending;
	const char *cmd;      /* "send" or "recv", for messages */
	const char *address;
	const struct ipc_backend *backend;
	uint16_t type;
	int have_type;
	uint32_t max_message;
	int listen;
	int timeout_ms;       /* -1: for ever */
	const char *timeout_text;
	uint64_t count;       /* 0: until the peer closes */
	long msg_type;        /* sysv-msg: 0 for the default */
	long queue_depth, queue_msgsize; /* posix-mq: 0 for the defaults */
	size_t ring_size;     /* shm-ring: 0 for the default */
	const char *save_dir;
	char **files;
	int nfiles;
};

/* ---- failing --------------------------------------------------------------- */

/* "ipch send" or "ipch recv" once the command is known. */
static const char *who = "ipch-chan";

static void vsay(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", who);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Says what failed; for paths that still hold something to release. */
static int complain(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return EXIT_FAILED;
}

/* Says what failed and exits: only while nothing is held. */
static void fail(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(status);
}

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see '%s --help')\n", who);
	exit(EXIT_USAGE);
}

/* ---- what a listener made on disk, removed if a signal ends us ------------ */

static char created_path[PATH_MAX + 16];
static char created_dir[PATH_MAX + 16];
static volatile sig_atomic_t have_created, have_created_dir;
/* A queue the listener made, kept until its end is closed: the accepted
 * end removes it then, and a signal must not leave it behind before. */
static key_t created_key;
static char created_queue[NAME_MAX + 2];
static volatile sig_atomic_t have_created_key, have_created_queue;

static void remove_created_and_die(int sig)
{
	int id;

	if (have_created)
		unlink(created_path);
	if (have_created && have_created_dir)
		rmdir(created_dir);
	if (have_created_key && (id = msgget(created_key, 0)) >= 0)
		msgctl(id, IPC_RMID, NULL);
	if (have_created_queue)
		mq_unlink(created_queue);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const char *address_path(const struct options *o);

/* The queue of a sysv-msg: or posix-mq: listener, from the address it
 * reports ("sysv-msg:0x49500001", "posix-mq:/NAME"). */
static void remember_queue(const char *address)
{
	const char *rest = strchr(address, ':') + 1;

	if (strncmp(address, "sysv-msg:", 9) == 0) {
		created_key = (key_t)strtoul(rest, NULL, 0);
		have_created_key = 1;
	} else if (strncmp(address, "posix-mq:", 9) == 0 &&
		   strlen(rest) < sizeof created_queue) {
		strcpy(created_queue, rest);
		have_created_queue = 1;
	}
}

static void forget_queue(void)
{
	have_created_key = 0;
	have_created_queue = 0;
}

/* The FIFO or socket file a listener made, from the address it reports, and
 * the private directory around it when the backend chose the path (a bare
 * "unix:"). Abstract names and ports go with the process. */
static void remember_created(const struct options *o,
			     const struct ipc_listener *l)
{
	const char *path = strchr(ipc_listener_address(l), ':');
	char *slash;

	if (o->backend->keeps_boundaries && o->backend->address_scheme != NULL &&
	    strstr(o->backend->address_scheme, "unix") == NULL) {
		remember_queue(ipc_listener_address(l));
		return;
	}
	if (path == NULL || path[1] == '\0' || path[1] == '@' ||
	    strcmp(o->backend->address_scheme, "tcp") == 0 ||
	    strlen(path + 1) >= sizeof created_path)
		return;
	strcpy(created_path, path + 1);
	if (address_path(o) == NULL) {
		strcpy(created_dir, created_path);
		slash = strrchr(created_dir, '/');
		if (slash != NULL && slash != created_dir) {
			*slash = '\0';
			have_created_dir = 1;
		}
	}
	have_created = 1;
}

static void forget_created(void)
{
	have_created = 0;
	have_created_dir = 0;
}

static const int ending_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_ENDING_SIGNALS (sizeof ending_signals / sizeof ending_signals[0])

static void remove_created_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = remove_created_and_die;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_ENDING_SIGNALS; i++)
		sigaction(ending_signals[i], &sa, NULL);
}

/* Held off while a listener creates its path and it is not yet remembered. */
static void hold_ending_signals(int hold)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < N_ENDING_SIGNALS; i++)
		sigaddset(&set, ending_signals[i]);
	sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* ---- options ------------------------------------------------------------- */

static int parse_timeout(const char *arg)
{
	char *end;
	double s, ms;
	int whole;

	errno = 0;
	s = strtod(arg, &end);
	if (end == arg || *end != '\0' || errno == ERANGE || s != s || s < 0)
		usage_error("--timeout: '%s' is not a number of seconds (0 or more)", arg);
	if (s * 1000.0 > (double)INT_MAX)
		usage_error("--timeout: %s s is too long (at most %d)", arg,
			    INT_MAX / 1000);
	ms = s * 1000.0;
	whole = (int)ms;
	return whole < ms ? whole + 1 : whole; /* never wait less than asked */
}

static const struct ipc_backend *backend_for_scheme(const char *scheme,
						    size_t len)
{
	for (size_t i = 0; ipc_backends[i] != NULL; i++) {
		const char *s = ipc_backends[i]->address_scheme;
		if (s != NULL && strlen(s) == len && strncmp(s, scheme, len) == 0)
			return ipc_backends[i];
	}
	return NULL;
}

static int is_known_scheme(const char *scheme, size_t len)
{
	for (size_t i = 0; known_schemes[i] != NULL; i++)
		if (strlen(known_schemes[i]) == len &&
		    strncmp(known_schemes[i], scheme, len) == 0)
			return 1;
	return 0;
}

/* The address forms this build carries, "fifo: unix: tcp:", into out. */
static void carried_schemes(char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; ipc_backends[i] != NULL; i++) {
		const char *s = ipc_backends[i]->address_scheme;
		if (s != NULL && used < len)
			used += (size_t)snprintf(out + used, len - used, "%s%s:",
						 used > 0 ? " " : "", s);
	}
	if (used == 0)
		snprintf(out, len, "none");
}

static void print_usage(void)
{
	char carried[128];

	carried_schemes(carried, sizeof carried);
	fputs(usage_text, stdout);
	printf("Address forms this build carries: %s\n", carried);
}

static void check_address(struct options *o)
{
	const char *colon = strchr(o->address, ':');
	size_t len = colon != NULL ? (size_t)(colon - o->address) : 0;
	char carried[128];

	if (colon == NULL || !is_known_scheme(o->address, len))
		usage_error("'%s' is not an address: give fifo:PATH, unix:PATH, "
			    "unix:@NAME, tcp:HOST:PORT, sysv-msg:KEY, posix-mq:/NAME, "
			    "unix-dgram:PATH or unix-seqpacket:PATH", o->address);
	o->backend = backend_for_scheme(o->address, len);
	if (o->backend == NULL) {
		carried_schemes(carried, sizeof carried);
		fail(EXIT_FAILED, "this build has no backend for %.*s: addresses "
		     "(it carries: %s); build a version that has one", (int)len,
		     o->address, carried);
	}
	if (!o->backend->duplex && o->listen == o->sending)
		usage_error("%.*s: addresses carry one way: the side with --listen "
			    "receives and the other sends; run 'ipch recv %s --listen' "
			    "and 'ipch send %s'", (int)len, o->address, o->address,
			    o->address);
}

static int scheme_is(const struct options *o, const char *scheme)
{
	return strcmp(o->backend->address_scheme, scheme) == 0;
}

/* One limit of /proc/sys/fs/mqueue against what was asked for. */
static void check_queue_limit(const char *opt, long asked, long most,
			      const char *file)
{
	if (asked > most)
		usage_error("%s %ld is over the system's limit of %ld "
			    "(/proc/sys/fs/mqueue/%s): ask for at most %ld, or "
			    "raise the limit (as root: sysctl fs.mqueue.%s=%ld)",
			    opt, asked, most, file, most, file, asked);
}

/* The queue options fit the address and the system, before anything is
 * made. */
static void check_queue_options(const struct options *o)
{
	struct ipc_mq_limits lim;

	if (o->msg_type != 0 && !scheme_is(o, "sysv-msg"))
		usage_error("--msgtype is for sysv-msg: addresses, not %s", o->address);
	if (o->ring_size != 0 && (!scheme_is(o, "shm-ring") || !o->listen))
		usage_error("--ring-size is for the --listen side of a shm-ring: "
			    "address, which makes the rings (the other side maps "
			    "what it is handed)");
	if (o->ring_size & (o->ring_size - 1))
		usage_error("--ring-size %zu is not a power of two: give 4K, 8K, "
			    "..., 1M, ..., 256M", o->ring_size);
	if (o->queue_depth == 0 && o->queue_msgsize == 0)
		return;
	if (!scheme_is(o, "posix-mq") || !o->listen)
		usage_error("--queue-depth and --queue-msgsize are for 'ipch recv "
			    "posix-mq:/NAME --listen', which makes the queue");
	if (ipc_mq_limits(&lim) != 0)
		fail(EXIT_FAILED, "cannot read the POSIX queue limits in "
		     "/proc/sys/fs/mqueue: %s", strerror(errno));
	check_queue_limit("--queue-depth", o->queue_depth, lim.msg_max, "msg_max");
	check_queue_limit("--queue-msgsize", o->queue_msgsize, lim.msgsize_max,
			  "msgsize_max");
	if (o->queue_msgsize != 0 && o->queue_msgsize <= (long)IPCF_HEADER_SIZE)
		usage_error("--queue-msgsize %ld leaves no room for a frame: give "
			    "more than %u (an IPCF header)", o->queue_msgsize,
			    IPCF_HEADER_SIZE);
}

enum { OPT_TYPE = 't', OPT_MAX_MESSAGE = 'm', OPT_LISTEN = 'l',
       OPT_TIMEOUT = 'w', OPT_COUNT = 'c', OPT_SAVE = 's', OPT_HELP = 'h',
       OPT_MSGTYPE = 'y', OPT_QUEUE_DEPTH = 'd', OPT_QUEUE_MSGSIZE = 'z',
       OPT_RING_SIZE = 'r' };

static void only_for(const struct options *o, int sending, const char *opt)
{
	if (o->sending != sending)
		usage_error("%s is for 'ipch %s', not '%s'", opt,
			    sending ? "send" : "recv", o->cmd);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"type", required_argument, NULL, OPT_TYPE},
		{"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
		{"listen", no_argument, NULL, OPT_LISTEN},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"count", required_argument, NULL, OPT_COUNT},
		{"save", required_argument, NULL, OPT_SAVE},
		{"msgtype", required_argument, NULL, OPT_MSGTYPE},
		{"queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH},
		{"queue-msgsize", required_argument, NULL, OPT_QUEUE_MSGSIZE},
		{"ring-size", required_argument, NULL, OPT_RING_SIZE},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->max_message = IPCF_DEFAULT_LIMIT;
	o->timeout_ms = -1;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TYPE:
			only_for(o, 1, "--type");
			o->type = (uint16_t)cli_parse_number("--type", optarg, 1, 65535, 0, usage_error);
			o->have_type = 1;
			break;
		case OPT_MAX_MESSAGE:
			o->max_message = (uint32_t)cli_parse_number("--max-message", optarg,
								1, IPCF_MAX_LIMIT, 1, usage_error);
			break;
		case OPT_LISTEN:
			o->listen = 1;
			break;
		case OPT_TIMEOUT:
			o->timeout_ms = parse_timeout(optarg);
			o->timeout_text = optarg;
			break;
		case OPT_COUNT:
			only_for(o, 0, "--count");
			o->count = cli_parse_number("--count", optarg, 1, UINT64_MAX >> 1, 0, usage_error);
			break;
		case OPT_SAVE:
			only_for(o, 0, "--save");
			o->save_dir = optarg;
			break;
		case OPT_MSGTYPE:
			o->msg_type = (long)cli_parse_number("--msgtype", optarg, 1,
							     LONG_MAX, 0, usage_error);
			break;
		case OPT_QUEUE_DEPTH:
			only_for(o, 0, "--queue-depth");
			o->queue_depth = (long)cli_parse_number("--queue-depth", optarg,
								1, LONG_MAX, 0, usage_error);
			break;
		case OPT_RING_SIZE:
			o->ring_size = (size_t)cli_parse_number("--ring-size", optarg,
							4096, 256u << 20, 1, usage_error);
			break;
		case OPT_QUEUE_MSGSIZE:
			only_for(o, 0, "--queue-msgsize");
			o->queue_msgsize = (long)cli_parse_number("--queue-msgsize", optarg,
								  1, LONG_MAX, 1, usage_error);
			break;
		case OPT_HELP:
			print_usage();
			exit(0);
		case ':':
			usage_error("option '%s' needs a value", argv[optind - 1]);
			break;
		default:
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		usage_error("give an ADDRESS: fifo:PATH, unix:PATH, unix:@NAME, "
			    "tcp:HOST:PORT, sysv-msg:KEY, posix-mq:/NAME, "
			    "unix-dgram:PATH or unix-seqpacket:PATH");
	o->address = argv[optind++];
	if (o->sending && !o->have_type)
		usage_error("give the messages' type: --type T (1..65535)");
	if (!o->sending && optind < argc)
		usage_error("recv takes one ADDRESS, got '%s' too", argv[optind]);
	o->files = argv + optind;
	o->nfiles = argc - optind;
	check_address(o);
	check_queue_options(o);
}

/* ---- explaining why an address did not work ------------------------------ */

/* The path a fifo: or unix: address names, or NULL (abstract, tcp). */
static const char *address_path(const struct options *o)
{
	const char *path = strchr(o->address, ':') + 1;

	if (scheme_is(o, "tcp") || scheme_is(o, "sysv-msg") ||
	    scheme_is(o, "posix-mq") || path[0] == '@' || path[0] == '\0')
		return NULL;
	return path;
}

static const char *file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "a special file";
}

/* Only where either side may listen. */
static const char *or_listen_here(const struct options *o)
{
	return o->backend->duplex ? ", or give --listen here" : "";
}

/* What is wrong at the address's path and what to do, or NULL when the path
 * explains nothing (then the status does). */
static const char *path_problem(const struct options *o, char *buf, size_t len)
{
	const char *path = address_path(o);
	int fifo = strcmp(o->backend->address_scheme, "fifo") == 0;
	mode_t want = fifo ? S_IFIFO : S_IFSOCK;
	struct stat st;

	if (path == NULL)
		return NULL;
	if (stat(path, &st) != 0) {
		if (o->listen || errno != ENOENT)
			return NULL;
		snprintf(buf, len, "nothing exists at %s; start the other side with "
			 "--listen first%s", path, or_listen_here(o));
		return buf;
	}
	if (o->listen) {
		snprintf(buf, len, "%s already exists (%s); remove it, or choose a "
			 "path where nothing is", path, file_kind(st.st_mode));
		return buf;
	}
	if ((st.st_mode & S_IFMT) != want) {
		snprintf(buf, len, "%s is %s, not %s; give the path of one, or let "
			 "the other side create it with --listen", path,
			 file_kind(st.st_mode), fifo ? "a FIFO" : "a socket");
		return buf;
	}
	return NULL;
}

static const char *status_hint(const struct options *o, enum ipc_status st,
			       int err, char *buf, size_t len)
{
	const char *peer = o->sending ? "recv" : "send";

	switch (st) {
	case IPC_REFUSED:
		if (scheme_is(o, "shm-ring") && (err == EPERM || err == EPROTO)) {
			snprintf(buf, len, "the listener handed over a region this "
				 "side will not map (%s): it could shrink it, or it "
				 "is not the ring announced; is an ipch shm-ring "
				 "listener there?", err == EPERM ? "not sealed"
								: "not a shm-ring's");
			return buf;
		}
		snprintf(buf, len, "nothing listens there (or the listener refused "
			 "this user): start 'ipch %s %s --listen' first%s", peer,
			 o->address, or_listen_here(o));
		return buf;
	case IPC_NO_READER:
		snprintf(buf, len, "no process has that FIFO open for reading: start "
			 "the reader ('ipch recv %s --listen') first", o->address);
		return buf;
	case IPC_TIMEOUT:
		snprintf(buf, len, "no peer came within %s s: start the other side, "
			 "or give a longer --timeout", o->timeout_text);
		return buf;
	default:
		break;
	}
	switch (err) {
	case EADDRINUSE:
		return "the address is in use: choose another, or port 0 for a free one";
	case EACCES:
	case EPERM:
		return "permission denied: check the path's directories and mode";
	case ENOENT:
		if (scheme_is(o, "sysv-msg"))
			return "the file of an ftok: key does not exist: ftok makes the "
			       "key from an existing file's inode; give one";
		return "a directory on the path does not exist: create it first";
	case ECONNREFUSED:
		snprintf(buf, len, "nothing listens there: start 'ipch %s %s --listen' "
			 "first%s", peer, o->address, or_listen_here(o));
		return buf;
	default:
		return NULL;
	}
}

static const char *address_forms(const char *scheme)
{
	if (strcmp(scheme, "fifo") == 0)
		return "fifo:PATH";
	if (strcmp(scheme, "unix") == 0)
		return "unix:PATH or unix:@NAME";
	if (strcmp(scheme, "unix-dgram") == 0)
		return "unix-dgram:PATH or unix-dgram:@NAME";
	if (strcmp(scheme, "unix-seqpacket") == 0)
		return "unix-seqpacket:PATH or unix-seqpacket:@NAME";
	if (strcmp(scheme, "shm-ring") == 0)
		return "shm-ring:PATH or shm-ring:@NAME";
	if (strcmp(scheme, "sysv-msg") == 0)
		return "sysv-msg:KEY, KEY a number (0x4950002a, 1234: not 0) or "
		       "ftok:PATH:ID with an existing PATH and ID 1..255; with "
		       "--listen also sysv-msg:new";
	if (strcmp(scheme, "posix-mq") == 0)
		return "posix-mq:/NAME, one '/' then up to 254 characters, none of "
		       "them '/'; with --listen also posix-mq:new";
	return "tcp:HOST:PORT, e.g. tcp:127.0.0.1:5000, tcp:[::1]:5000 or "
	       "tcp:localhost:5000 (port 0, a free one, only with --listen)";
}

/* One line that says what failed, where, why, and what to do; exit 1, or 2
 * for an address that does not parse. */
static void address_failed(const struct options *o, const char *what,
			   enum ipc_status st, int err)
{
	char pbuf[PATH_MAX + 200], sbuf[PATH_MAX + 200];
	const char *problem = path_problem(o, pbuf, sizeof pbuf);
	const char *why = st == IPC_SYSTEM && err != 0 ? strerror(err)
						       : ipc_status_name(st);
	const char *hint;

	if (problem != NULL)
		fail(EXIT_FAILED, "%s %s: %s", what, o->address, problem);
	if (st == IPC_INVALID)
		usage_error("%s %s: it is not a valid %s address; give %s", what,
			    o->address, o->backend->address_scheme,
			    address_forms(o->backend->address_scheme));
	hint = status_hint(o, st, err, sbuf, sizeof sbuf);
	if (hint == NULL && st != IPC_SYSTEM && err != 0)
		hint = strerror(err);
	if (hint != NULL)
		fail(EXIT_FAILED, "%s %s: %s; %s", what, o->address, why, hint);
	fail(EXIT_FAILED, "%s %s: %s", what, o->address, why);
}

/* ---- getting a channel end ----------------------------------------------- */

/* The address a listener reported: "sysv-msg:new" became a key, a port 0
 * a port. Later messages name it, not what was asked for. */
static char listened_on[PATH_MAX + 16];

static struct ipc_channel *accept_peer(const struct options *o,
				       const struct ipc_opts *opts)
{
	char *where = listened_on;
	struct ipc_listener *l;
	struct ipc_channel *ch;
	enum ipc_status st;
	int err;

	hold_ending_signals(1);
	errno = 0;
	st = ipc_listen(o->address, opts, &l);
	if (st != IPC_OK)
		address_failed(o, "cannot listen on", st, errno);
	remember_created(o, l);
	hold_ending_signals(0);
	snprintf(listened_on, sizeof listened_on, "%s", ipc_listener_address(l));
	fprintf(stderr, "listening on %s\n", where);
	fflush(stderr);
	st = ipc_accept(l, &ch, o->timeout_ms);
	err = ipc_listener_errno(l);
	hold_ending_signals(1);
	ipc_listener_close(l);
	forget_created();
	hold_ending_signals(0);
	if (st == IPC_TIMEOUT)
		fail(EXIT_FAILED, "no peer came to %s within %s s: start the other "
		     "side, or give a longer --timeout", where, o->timeout_text);
	if (st != IPC_OK)
		address_failed(o, "waiting for a peer on", st, err);
	return ch;
}

static struct ipc_channel *connect_peer(const struct options *o,
					const struct ipc_opts *opts)
{
	struct ipc_channel *ch;
	enum ipc_status st;

	errno = 0;
	st = ipc_connect(o->address, opts, &ch, o->timeout_ms);
	if (st != IPC_OK)
		address_failed(o, "cannot connect to", st, errno);
	return ch;
}

/* The end's close removes the queue a listener made: until it has, a
 * signal still removes it (remove_created_and_die). */
static void close_channel(struct ipc_channel *ch)
{
	hold_ending_signals(1);
	ipc_channel_close(ch);
	forget_queue();
	hold_ending_signals(0);
}

static struct ipc_channel *open_channel(const struct options *o)
{
	/* A receiver takes frames of any size within the message limit, the
	 * frame size a backend prefers for its own writers (PIPE_BUF for a
	 * FIFO) being no reason to refuse other writers' frames. */
	struct ipc_opts opts = {
		.max_message = o->max_message,
		.max_frame = o->sending ? 0 : o->max_message,
		.msg_type = o->msg_type,
		.queue_depth = o->queue_depth,
		.queue_msgsize = o->queue_msgsize,
		.ring_size = o->ring_size,
	};
	struct ipc_channel *ch;
	int usable;

	ch = o->listen ? accept_peer(o, &opts) : connect_peer(o, &opts);
	usable = o->sending ? ipc_channel_sends(ch) : ipc_channel_receives(ch);

	if (!usable) {
		close_channel(ch);
		fail(EXIT_FAILED, "the %s end of %s %s cannot %s: run the other "
		     "command on this side", o->listen ? "listening" : "connecting",
		     o->address, o->listen ? "it made" : "it reached",
		     o->sending ? "send" : "receive");
	}
	return ch;
}

/* ---- send ---------------------------------------------------------------- */

static int is_stdin(const char *file)
{
	return file == NULL || strcmp(file, "-") == 0;
}

static const char *file_name(const char *file)
{
	return is_stdin(file) ? "standard input" : file;
}

static int too_big(const struct options *o, const char *file)
{
	return complain("%s is over the message limit of %" PRIu32 " bytes; "
			"raise --max-message (at most %u) on both sides",
			file_name(file), o->max_message, IPCF_MAX_LIMIT);
}

/* Every FILE can be read and fits, before anyone waits for us. */
static void check_files(const struct options *o)
{
	for (int i = 0; i < o->nfiles; i++) {
		const char *file = o->files[i];
		struct stat st;
		int fd, over;

		if (is_stdin(file))
			continue;
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail(EXIT_FAILED, "cannot open '%s': %s", file, strerror(errno));
		over = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		       (uint64_t)st.st_size > o->max_message;
		close(fd);
		if (over)
			exit(too_big(o, file));
	}
}

struct payload {
	uint8_t *data;
	size_t len, cap;
};

static int grow(struct payload *p)
{
	size_t cap = p->cap == 0 ? READ_CHUNK : p->cap * 2;
	uint8_t *grown = realloc(p->data, cap);

	if (grown == NULL)
		return -1;
	p->data = grown;
	p->cap = cap;
	return 0;
}

/* Reads all of fd into p, refused as soon as it passes the message limit so
 * a huge input never costs more than the limit in memory. */
static int read_all(const struct options *o, const char *file, int fd,
		    struct payload *p)
{
	p->len = 0;
	for (;;) {
		ssize_t n;

		if (p->cap - p->len < READ_CHUNK && grow(p) != 0)
			return complain("out of memory reading %s", file_name(file));
		n = cli_read_some(fd, p->data + p->len, p->cap - p->len);
		if (n < 0)
			return complain("reading %s: %s", file_name(file), strerror(errno));
		if (n == 0)
			return 0;
		p->len += (size_t)n;
		if (p->len > o->max_message)
			return too_big(o, file);
	}
}

static int read_payload(const struct options *o, const char *file,
			struct payload *p)
{
	int fd, rc;

	if (is_stdin(file))
		return read_all(o, file, STDIN_FILENO, p);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return complain("cannot open '%s': %s", file, strerror(errno));
	rc = read_all(o, file, fd, p);
	close(fd);
	return rc;
}

static int send_failed(const struct options *o, struct ipc_channel *ch,
		       enum ipc_status st, const char *file, int index)
{
	const char *why = st == IPC_SYSTEM ? strerror(ipc_channel_errno(ch))
					   : ipc_status_name(st);

	if (st == IPC_TIMEOUT)
		return complain("sending %s (message %d of %d) to %s: the peer took "
				"nothing for %s s; give a longer --timeout",
				file_name(file), index, o->nfiles, o->address,
				o->timeout_text);
	if (st == IPC_PEER_CLOSED)
		return complain("sending %s (message %d of %d) to %s: the peer "
				"closed the channel; check that it expects %d "
				"message(s)", file_name(file), index, o->nfiles,
				o->address, o->nfiles);
	return complain("sending %s (message %d of %d) to %s: %s",
			file_name(file), index, o->nfiles, o->address, why);
}

/* A queue's receiver learns of the end from an end mark, which must find
 * room: one that never went is a failure, not a quiet exit 0. */
static int end_failed(const struct options *o, struct ipc_channel *ch,
		      enum ipc_status st)
{
	if (st == IPC_OK)
		return 0;
	if (st == IPC_TIMEOUT)
		return complain("ending the stream to %s: the receiver took nothing "
				"for %s s, so the end of the stream found no room; "
				"give a longer --timeout", o->address, o->timeout_text);
	return complain("ending the stream to %s: %s", o->address,
			st == IPC_SYSTEM ? strerror(ipc_channel_errno(ch))
					 : ipc_status_name(st));
}

static int send_main(struct options *o)
{
	static char *standard_input[] = {"-"};
	struct payload p = {NULL, 0, 0};
	struct ipc_channel *ch;
	int rc = 0;

	if (o->nfiles == 0) {
		o->files = standard_input;
		o->nfiles = 1;
	}
	check_files(o);
	ch = open_channel(o);
	if (listened_on[0] != '\0')
		o->address = listened_on;
	for (int i = 0; i < o->nfiles && rc == 0; i++) {
		enum ipc_status st;

		rc = read_payload(o, o->files[i], &p);
		if (rc != 0)
			break;
		st = ipc_send(ch, o->type, p.data, p.len, o->timeout_ms);
		if (st != IPC_OK)
			rc = send_failed(o, ch, st, o->files[i], i + 1);
	}
	if (rc == 0)
		rc = end_failed(o, ch, ipc_send_end(ch, o->timeout_ms));
	close_channel(ch);
	free(p.data);
	return rc;
}

/* ---- recv ---------------------------------------------------------------- */

static void prepare_save_dir(const struct options *o)
{
	struct stat st;

	if (o->save_dir == NULL)
		return;
	if (mkdir(o->save_dir, 0777) == 0)
		return;
	if (errno != EEXIST)
		fail(EXIT_FAILED, "--save: cannot create directory '%s': %s",
		     o->save_dir, strerror(errno));
	if (stat(o->save_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		fail(EXIT_FAILED, "--save: '%s' exists and is not a directory; "
		     "give a directory", o->save_dir);
}

static int save_payload(const struct options *o, uint64_t n,
			const struct ipc_msg *msg)
{
	char path[PATH_MAX];
	int fd, failed;

	if ((size_t)snprintf(path, sizeof path, "%s/%" PRIu64 ".bin", o->save_dir,
			     n) >= sizeof path)
		return complain("--save: the path of message %" PRIu64 " in '%s' "
				"is too long; give a shorter directory", n,
				o->save_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return complain("--save: cannot create %s: %s", path, strerror(errno));
	failed = cli_write_all(fd, msg->data, msg->length) != 0;
	if (close(fd) != 0 || failed)
		return complain("--save: writing %s: %s", path, strerror(errno));
	return 0;
}

static int print_message(const struct ipc_msg *msg)
{
	printf("{\"type\":%" PRIu16 ",\"seq\":%" PRIu32 ",\"frames\":%" PRIu32
	       ",\"length\":%zu}\n", msg->type, msg->seq, msg->frames, msg->length);
	if (fflush(stdout) != 0)
		return complain("writing standard output: %s", strerror(errno));
	return 0;
}

/* Why a receive loop ended: 0 on a clean end, else said on standard error. */
static int recv_stopped(const struct options *o, struct ipc_channel *ch,
			enum ipc_status st, uint64_t got)
{
	uint64_t offset;
	enum ipcf_fault fault = ipc_channel_fault(ch, &offset);

	if (st == IPC_PEER_CLOSED && (o->count == 0 || got == o->count))
		return 0;
	if (st == IPC_PEER_CLOSED)
		return complain("the peer on %s closed after %" PRIu64 " of the "
				"%" PRIu64 " messages of --count", o->address, got,
				o->count);
	if (fault != IPCF_OK) {
		fflush(stdout);
		fprintf(stderr, "ipch: frame error: %s at offset %" PRIu64 "\n",
			ipcf_fault_name(fault), offset);
		return EXIT_FAILED;
	}
	if (st == IPC_TIMEOUT)
		return complain("no message came from %s within %s s (after %" PRIu64
				" message(s)); give a longer --timeout", o->address,
				o->timeout_text, got);
	return complain("receiving from %s: %s", o->address,
			st == IPC_SYSTEM ? strerror(ipc_channel_errno(ch))
					 : ipc_status_name(st));
}

static int recv_main(struct options *o)
{
	struct ipc_channel *ch;
	uint64_t got = 0;
	int rc = 0;

	prepare_save_dir(o);
	ch = open_channel(o);
	if (listened_on[0] != '\0')
		o->address = listened_on;
	while (rc == 0 && (o->count == 0 || got < o->count)) {
		struct ipc_msg msg;
		enum ipc_status st = ipc_recv(ch, &msg, o->timeout_ms);

		if (st != IPC_OK) {
			rc = recv_stopped(o, ch, st, got);
			break;
		}
		got++;
		if (o->save_dir != NULL)
			rc = save_payload(o, got, &msg);
		if (rc == 0)
			rc = print_message(&msg);
	}
	close_channel(ch);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;

	memset(&o, 0, sizeof o);
	if (argc < 2)
		usage_error("say 'send' or 'recv'");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_usage();
		return 0;
	}
	if (strcmp(argv[1], "send") != 0 && strcmp(argv[1], "recv") != 0)
		usage_error("unknown command '%s': say 'send' or 'recv'", argv[1]);
	o.cmd = argv[1];
	o.sending = strcmp(argv[1], "send") == 0;
	who = o.sending ? "ipch send" : "ipch recv";
	parse_options(argc - 1, argv + 1, &o);
	remove_created_on_signals();
	return o.sending ? send_main(&o) : recv_main(&o);
}
