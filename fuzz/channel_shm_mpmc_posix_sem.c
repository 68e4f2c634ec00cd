/* channel_shm_mpmc_posix_sem: the channel fuzz driver over one shared-memory ring under POSIX semaphore locks. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "shm-mpmc-posix-sem";
