/* channel_fifo: the channel fuzz driver over FIFOs. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "fifo";
