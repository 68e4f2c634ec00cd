/* signal_timing_tcp: the signal-timing fuzz driver over TCP on loopback. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "tcp";
