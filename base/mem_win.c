/* SPDX-License-Identifier: MIT */
/* Aligned allocation over the Windows C runtime's _aligned_malloc, and pages over VirtualAlloc;
 * the POSIX twin is mem_posix.c. */
#include <malloc.h>
#include <stdint.h>
#include <windows.h>

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

void *gs_pages_alloc(size_t size) {
    if (size == 0)
        return NULL;
    return VirtualAlloc(NULL, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
}

void gs_pages_free(void *p, size_t size) {
    (void)size; /* MEM_RELEASE frees the whole reservation and wants 0 */
    if (p)
        VirtualFree(p, 0, MEM_RELEASE);
}
