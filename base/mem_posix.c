/* SPDX-License-Identifier: MIT */
/* Aligned allocation over C11 aligned_alloc, and pages over mmap; the Windows twin is mem_win.c. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

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

void *gs_pages_alloc(size_t size) {
    if (size == 0)
        return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void gs_pages_free(void *p, size_t size) {
    if (p)
        munmap(p, size);
}
