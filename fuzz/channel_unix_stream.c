/* channel_unix_stream: the channel fuzz driver over Unix stream sockets. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "unix-stream";
