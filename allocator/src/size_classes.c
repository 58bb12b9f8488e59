/* Small size classes: 16-byte steps up to 128 bytes, then four per power of two up to 16 KiB
 * (at most 25 % internal waste, 12.5 % on average). Tables are constant so the fast path
 * can read them before initialisation without a race. */
#include "internal.h"

static const uint32_t class_size[NUM_CLASSES] = {
    16,   32,   48,   64,   80,   96,    112,   128,   160,   192,   224,   256,
    320,  384,  448,  512,  640,  768,   896,   1024,  1280,  1536,  1792,  2048,
    2560, 3072, 3584, 4096, 5120, 6144,  7168,  8192,  10240, 12288, 14336, 16384,
};

/* class_of_small[(size + 15) / 16] for size <= SMALL_TABLE_MAX */
static const uint8_t class_of_small[SMALL_TABLE_MAX / 16 + 1] = {
    0,  0,  1,  2,  3,  4,  5,  6,  7,  8,  8,  9,  9,  10, 10, 11, 11,
    12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15, 16,
    16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17, 17, 18, 18,
    18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19,
};

/* Any size up to SMALL_MAX: 4 classes per power of two above 128. */
static inline unsigned class_of(size_t size)
{
    if (size <= SMALL_TABLE_MAX)
        return class_of_small[(size + 15) >> 4];
    size_t w = size - 1;
    unsigned top = 63u - (unsigned)__builtin_clzll(w);
    return 8u + (top - 7u) * 4u + (unsigned)((w >> (top - 2u)) & 3u);
}
