/* channel_posix_mq: the channel fuzz driver over POSIX message queues. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "posix-mq";
