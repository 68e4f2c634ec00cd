#include "cli_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

uint64_t cli_parse_number(const char *opt, const char *arg, uint64_t lo,
			  uint64_t hi, int sizes, cli_usage_error_fn usage_error)
{
	const char *digits = arg;
	int base = 10;
	char *end;
	unsigned long long v;
	uint64_t scale = 1;

	if (arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X')) {
		digits = arg + 2;
		base = 16;
	}
	/* strtoull would take a sign or leading space: refuse them first. */
	if (*digits == '\0' || *digits == '-' || *digits == '+' || *digits == ' ')
		usage_error("%s: '%s' is not a number", opt, arg);
	errno = 0;
	v = strtoull(digits, &end, base);
	if (sizes && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'K': case 'k': scale = 1ull << 10; end++; break;
		case 'M': case 'm': scale = 1ull << 20; end++; break;
		case 'G': case 'g': scale = 1ull << 30; end++; break;
		}
	}
	if (*end != '\0')
		usage_error("%s: '%s' is not a number", opt, arg);
	if (errno == ERANGE || v > hi / scale || v * scale < lo)
		usage_error("%s: %s is out of range %" PRIu64 "..%" PRIu64, opt,
			    arg, lo, hi);
	return v * scale;
}

ssize_t cli_read_some(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

int cli_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
