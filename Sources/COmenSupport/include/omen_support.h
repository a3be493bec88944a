// Small C helpers Swift has no spelling for. Header-only: static inline functions are imported and inlined
// into Swift callers.
#ifndef OMEN_SUPPORT_H
#define OMEN_SUPPORT_H

#include <stddef.h>

/// Software prefetch of the cache line holding `p` into all cache levels, for reading. Never faults.
static inline void omen_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// Software prefetch of the cache line holding `p`, for writing (e.g. a reference count about to change).
static inline void omen_prefetch_write(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

/// Prefetches every cache line of [p, p + bytes).
static inline void omen_prefetch_range(const void *p, size_t bytes) {
    const char *c = (const char *)p;
    for (size_t i = 0; i < bytes; i += 64) {
        __builtin_prefetch(c + i, 0, 3);
    }
    if (bytes > 0) {
        __builtin_prefetch(c + bytes - 1, 0, 3);
    }
}

#endif
