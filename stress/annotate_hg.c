/*
 * Helgrind's half of stress_atomic_only (annotate_drd.c has DRD's): the
 * two headers define the same ANNOTATE_ macros, so each has its own file.
 */
#include "stress.h"

#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#define HAVE_HELGRIND_H 1
#endif
#endif

void stress_atomic_only_hg(const void *addr, size_t len)
{
#ifdef HAVE_HELGRIND_H
	VALGRIND_HG_DISABLE_CHECKING(addr, len);
#else
	(void)addr;
	(void)len;
#endif
}
