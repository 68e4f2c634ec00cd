/* signal_timing_unix_seqpacket: the signal-timing driver over Unix-domain seqpacket sockets. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "unix-seqpacket";
