/* SPDX-License-Identifier: MIT */
/* Aligned allocation over the Windows C runtime's _aligned_malloc; the POSIX twin is
 * mem_posix.c. */
#include <malloc.h>
#include <stdint.h>

#include "gs/base.h"

void *gs_aligned_alloc(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1)) != 0)
        return NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    /* A zero size is allowed to return a unique pointer, as with aligned_alloc. */
    return _aligned_malloc(size != 0 ? size : 1, align);
}

void gs_aligned_free(void *p) { _aligned_free(p); }
