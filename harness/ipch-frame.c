/*
 * ipch-frame: `ipch frame encode` and `ipch frame decode`.
 *
 * encode: one message's frames, payload from FILE or standard input, to
 *         standard output.
 * decode: one JSON line per complete message; at a fault, the messages
 *         before it, then "ipch: frame error: NAME at offset N" on standard
 *         error and exit status 1.
 * Usage errors exit with status 2, input and I/O errors with 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "ipc/ipcf.h"

#define EXIT_FAULT 1
#define EXIT_USAGE 2
#define READ_CHUNK (64u * 1024u)

static const char usage_text[] =
	"usage: ipch frame encode --type T [--seq S] [--max-frame N] [--max-message N] [FILE]\n"
	"       ipch frame decode [--max-frame N] [--max-message N] [FILE]\n"
	"\n"
	"encode  writes one message's IPCF v1 frames to standard output; the payload\n"
	"        is FILE, or standard input when FILE is absent or '-'.\n"
	"        --type T       message type, 1..65535 (required)\n"
	"        --seq S        seq of the first frame, 0..4294967295 (default 0)\n"
	"decode  reads an IPCF v1 stream from FILE or standard input and prints one\n"
	"        JSON line per complete message:\n"
	"          {\"type\":T,\"seq\":S,\"frames\":F,\"length\":L}\n"
	"        exit 0 if the input ended on a message boundary; else the messages\n"
	"        before the fault, then 'ipch: frame error: NAME at offset N' on\n"
	"        standard error, and exit 1.\n"
	"both    --max-frame N    frame limit in bytes (default 16777216)\n"
	"        --max-message N  message limit in bytes (default 16777216)\n"
	"        Limits are 0..1073741824; sizes take a K, M or G suffix (x1024).\n";

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ipch frame: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see 'ipch frame --help')\n", stderr);
	exit(EXIT_USAGE);
}

struct options {
	int have_type;
	uint16_t type;
	uint32_t seq;
	uint32_t max_frame;
	uint32_t max_message;
	const char *file; /* NULL: standard input */
};

enum { OPT_TYPE = 't', OPT_SEQ = 's', OPT_MAX_FRAME = 'f',
       OPT_MAX_MESSAGE = 'm', OPT_HELP = 'h' };

static void parse_options(int argc, char **argv, int encoding,
			  struct options *o)
{
	static const struct option longopts[] = {
		{"type", required_argument, NULL, OPT_TYPE},
		{"seq", required_argument, NULL, OPT_SEQ},
		{"max-frame", required_argument, NULL, OPT_MAX_FRAME},
		{"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = encoding ? "encode" : "decode";
	int c;

	memset(o, 0, sizeof *o);
	o->max_frame = IPCF_DEFAULT_LIMIT;
	o->max_message = IPCF_DEFAULT_LIMIT;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TYPE:
		case OPT_SEQ:
			if (!encoding)
				usage_error("decode takes no --%s: it reads type and seq from the stream",
					    c == OPT_TYPE ? "type" : "seq");
			if (c == OPT_TYPE) {
				o->type = (uint16_t)cli_parse_number("--type", optarg, 1, 65535, 0, usage_error);
				o->have_type = 1;
			} else {
				o->seq = (uint32_t)cli_parse_number("--seq", optarg, 0, UINT32_MAX, 0, usage_error);
			}
			break;
		case OPT_MAX_FRAME:
			o->max_frame = (uint32_t)cli_parse_number("--max-frame", optarg, 0, IPCF_MAX_LIMIT, 1, usage_error);
			break;
		case OPT_MAX_MESSAGE:
			o->max_message = (uint32_t)cli_parse_number("--max-message", optarg, 0, IPCF_MAX_LIMIT, 1, usage_error);
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			exit(0);
		case ':':
			usage_error("%s: option '%s' needs a value", cmd, argv[optind - 1]);
			break;
		default:
			usage_error("%s: unknown option '%s'", cmd, argv[optind - 1]);
		}
	}
	if (encoding && !o->have_type)
		usage_error("encode needs --type T (1..65535)");
	if (argc - optind > 1)
		usage_error("%s takes at most one FILE, got '%s' and '%s'", cmd,
			    argv[optind], argv[optind + 1]);
	if (argc - optind == 1 && strcmp(argv[optind], "-") != 0)
		o->file = argv[optind];
}

static const char *input_name(const struct options *o)
{
	return o->file != NULL ? o->file : "standard input";
}

static int open_input(const struct options *o)
{
	int fd;

	if (o->file == NULL)
		return STDIN_FILENO;
	fd = open(o->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ipch: frame: cannot open '%s': %s\n", o->file,
			strerror(errno));
		exit(EXIT_FAULT);
	}
	return fd;
}

static void die_read(const struct options *o)
{
	fprintf(stderr, "ipch: frame: reading %s: %s\n", input_name(o),
		strerror(errno));
	exit(EXIT_FAULT);
}

/* The whole payload, refused as soon as it passes the message limit so a
 * huge input never costs more than the limit in memory. */
static uint8_t *read_payload(const struct options *o, size_t *len)
{
	int fd = open_input(o);
	size_t have = 0, cap = 0;
	uint8_t *buf = NULL;

	for (;;) {
		if (cap - have < READ_CHUNK) {
			cap = cap == 0 ? READ_CHUNK : cap * 2;
			buf = realloc(buf, cap);
			if (buf == NULL) {
				fputs("ipch: frame encode: out of memory\n", stderr);
				exit(EXIT_FAULT);
			}
		}
		ssize_t n = cli_read_some(fd, buf + have, cap - have);
		if (n < 0)
			die_read(o);
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > o->max_message) {
			fprintf(stderr,
				"ipch: frame encode: the payload from %s is over the message limit of %" PRIu32 " bytes; "
				"raise --max-message (at most %u)\n",
				input_name(o), o->max_message, IPCF_MAX_LIMIT);
			exit(EXIT_FAULT);
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*len = have;
	return buf;
}

static int encode(int argc, char **argv)
{
	struct options o;
	struct ipcf_encoder enc;
	uint8_t hdr[IPCF_HEADER_SIZE];
	uint8_t *payload;
	size_t len, done = 0;

	parse_options(argc, argv, 1, &o);
	payload = read_payload(&o, &len);
	if (len > 0 && o.max_frame == 0) {
		fprintf(stderr, "ipch: frame encode: a frame limit of 0 cannot carry a %zu-byte payload; "
			"give --max-frame 1 or more\n", len);
		return EXIT_FAULT;
	}
	ipcf_encoder_init(&enc, o.seq, o.max_frame);
	do {
		uint32_t n = ipcf_encode_next_frame(&enc, o.type, payload + done,
						    len - done, hdr);
		if (cli_write_all(STDOUT_FILENO, hdr, sizeof hdr) != 0 ||
		    cli_write_all(STDOUT_FILENO, payload + done, n) != 0) {
			fprintf(stderr, "ipch: frame encode: writing standard output: %s\n",
				strerror(errno));
			return EXIT_FAULT;
		}
		done += n;
	} while (done < len);
	free(payload);
	return 0;
}

static void print_message(const struct ipcf_message *m)
{
	printf("{\"type\":%" PRIu16 ",\"seq\":%" PRIu32 ",\"frames\":%" PRIu32
	       ",\"length\":%zu}\n", m->type, m->seq, m->frames, m->length);
}

/* Feeds one chunk, printing every message it completes. */
static enum ipcf_status feed_chunk(struct ipcf_decoder *dec,
				   const uint8_t *p, size_t len)
{
	enum ipcf_status st;

	do {
		size_t used;

		st = ipcf_decoder_feed(dec, p, len, &used);
		p += used;
		len -= used;
		if (st == IPCF_MESSAGE)
			print_message(ipcf_decoder_message(dec));
	} while (st == IPCF_MESSAGE);
	return st;
}

static int report_stop(struct ipcf_decoder *dec, enum ipcf_status st)
{
	uint64_t offset;
	enum ipcf_fault fault = ipcf_decoder_fault(dec, &offset);

	fflush(stdout);
	if (st == IPCF_ERROR) {
		fprintf(stderr, "ipch: frame decode: %s\n", strerror(errno));
		return EXIT_FAULT;
	}
	fprintf(stderr, "ipch: frame error: %s at offset %" PRIu64 "\n",
		ipcf_fault_name(fault), offset);
	return EXIT_FAULT;
}

static int decode(int argc, char **argv)
{
	static uint8_t chunk[READ_CHUNK];
	struct options o;
	struct ipcf_decoder dec;
	enum ipcf_status st = IPCF_NEED_MORE;
	int fd, rc = 0;

	parse_options(argc, argv, 0, &o);
	fd = open_input(&o);
	ipcf_decoder_init(&dec, o.max_frame, o.max_message);
	for (;;) {
		ssize_t n = cli_read_some(fd, chunk, sizeof chunk);

		if (n < 0)
			die_read(&o);
		if (n == 0) {
			st = ipcf_decoder_finish(&dec);
			break;
		}
		st = feed_chunk(&dec, chunk, (size_t)n);
		if (st != IPCF_NEED_MORE)
			break;
	}
	if (st != IPCF_NEED_MORE)
		rc = report_stop(&dec, st);
	ipcf_decoder_free(&dec);
	if (fd != STDIN_FILENO)
		close(fd);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ipch: frame decode: writing standard output: %s\n",
			strerror(errno));
		return EXIT_FAULT;
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage_error("say 'encode' or 'decode'");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[1], "encode") == 0)
		return encode(argc - 1, argv + 1);
	if (strcmp(argv[1], "decode") == 0)
		return decode(argc - 1, argv + 1);
	usage_error("unknown command '%s': say 'encode' or 'decode'", argv[1]);
	return EXIT_USAGE;
}
