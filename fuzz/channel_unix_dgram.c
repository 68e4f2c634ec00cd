/* channel_unix_dgram: the channel fuzz driver over Unix-domain datagram sockets. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "unix-dgram";
