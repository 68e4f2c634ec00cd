/* channel_sysv_msg: the channel fuzz driver over System V message queues. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "sysv-msg";
