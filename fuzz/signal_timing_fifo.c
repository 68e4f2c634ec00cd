/* signal_timing_fifo: the signal-timing fuzz driver over FIFOs. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "fifo";
