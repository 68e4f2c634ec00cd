/* signal_timing_sysv_msg: the signal-timing driver over System V message queues. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "sysv-msg";
