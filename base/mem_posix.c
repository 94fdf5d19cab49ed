/* SPDX-License-Identifier: MIT */
/* Aligned allocation over C11 aligned_alloc; the Windows twin is mem_win.c. */
#include <stdint.h>
#include <stdlib.h>

#include "gs/base.h"

void *gs_aligned_alloc(size_t align, size_t size) {
    size_t rounded;

    if (align == 0 || (align & (align - 1)) != 0)
        return NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    /* aligned_alloc wants a multiple of the alignment (C11 7.22.3.1; glibc does not care, other
     * C libraries may return NULL); round up, refusing sizes that would wrap. */
    if (size > SIZE_MAX - (align - 1))
        return NULL;
    rounded = (size + align - 1) & ~(align - 1);
    return aligned_alloc(align, rounded != 0 ? rounded : align);
}

void gs_aligned_free(void *p) { free(p); }
