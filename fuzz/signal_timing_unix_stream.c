/* signal_timing_unix_stream: the signal-timing driver over Unix stream sockets. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "unix-stream";
