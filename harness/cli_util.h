/* What the command-line tools (ipch-frame, ipch-chan) share. */
#ifndef IPCH_CLI_UTIL_H
#define IPCH_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reports a usage error and exits with status 2; never returns. */
typedef void (*cli_usage_error_fn)(const char *fmt, ...);

/*
 * A number for option opt: decimal or 0x-hex, with a K, M or G (x1024)
 * suffix when sizes is set. Anything else, or a value outside lo..hi, goes
 * to usage_error with the option named.
 */
uint64_t cli_parse_number(const char *opt, const char *arg, uint64_t lo,
			  uint64_t hi, int sizes, cli_usage_error_fn usage_error);

/* read(2), retried on EINTR. */
ssize_t cli_read_some(int fd, void *buf, size_t len);
/* All of buf, over short writes and EINTR; 0, or -1 with errno. */
int cli_write_all(int fd, const void *buf, size_t len);

#endif
