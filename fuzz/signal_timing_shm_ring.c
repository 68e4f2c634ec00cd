/* signal_timing_shm_ring: the signal-timing fuzz driver over two shared-memory
 * rings in a sealed memfd. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "shm-ring";
