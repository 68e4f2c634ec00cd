/* channel_pipe: the channel fuzz driver over anonymous pipes. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "pipe";
