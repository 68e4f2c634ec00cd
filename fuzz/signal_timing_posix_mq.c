/* signal_timing_posix_mq: the signal-timing driver over POSIX message queues. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "posix-mq";
