/*
 * DRD's half of stress_atomic_only (annotate_hg.c has Helgrind's).
 */
#include "stress.h"

#if defined(__has_include)
#if __has_include(<valgrind/drd.h>)
#include <valgrind/drd.h>
#define HAVE_DRD_H 1
#endif
#endif

void stress_atomic_only_drd(const void *addr, size_t len);

void stress_atomic_only_drd(const void *addr, size_t len)
{
#ifdef HAVE_DRD_H
	ANNOTATE_BENIGN_RACE_SIZED(addr, len, "C11 atomics only");
#else
	(void)addr;
	(void)len;
#endif
}

void stress_atomic_only(const void *addr, size_t len)
{
	stress_atomic_only_hg(addr, len);
	stress_atomic_only_drd(addr, len);
}
