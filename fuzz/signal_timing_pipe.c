/* signal_timing_pipe: the signal-timing fuzz driver over anonymous pipes. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "pipe";
