/* channel_unix_seqpacket: the channel fuzz driver over Unix-domain seqpacket sockets. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "unix-seqpacket";
