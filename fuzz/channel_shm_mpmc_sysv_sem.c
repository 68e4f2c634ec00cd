/* channel_shm_mpmc_sysv_sem: the channel fuzz driver over one shared-memory ring under System V semaphore locks. */
#include "channel_driver.h"

const char channel_fuzz_backend[] = "shm-mpmc-sysv-sem";
