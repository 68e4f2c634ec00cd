/* signal_timing_unix_dgram: the signal-timing driver over Unix-domain datagram sockets. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "unix-dgram";
