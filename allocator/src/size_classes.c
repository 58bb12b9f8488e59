/* Small size classes: 16-byte steps up to 128 bytes, then eight per power of two up to 16 KiB
 * (at most 12.5 % internal waste, about 6 % on average: programs that ask for a power of two
 * plus a small header, as sqlite's page buffers do, lose little). Tables are constant so the
 * fast path can read them before initialisation without a race. */
#include "internal.h"

static const uint32_t class_size[NUM_CLASSES] = {
       16,    32,    48,    64,    80,    96,   112,   128,
      144,   160,   176,   192,   208,   224,   240,   256,
      288,   320,   352,   384,   416,   448,   480,   512,
      576,   640,   704,   768,   832,   896,   960,  1024,
     1152,  1280,  1408,  1536,  1664,  1792,  1920,  2048,
     2304,  2560,  2816,  3072,  3328,  3584,  3840,  4096,
     4608,  5120,  5632,  6144,  6656,  7168,  7680,  8192,
     9216, 10240, 11264, 12288, 13312, 14336, 15360, 16384,
};

/* class_of_small[(size + 15) / 16] for size <= SMALL_TABLE_MAX */
static const uint8_t class_of_small[SMALL_TABLE_MAX / 16 + 1] = {
     0,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
    16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23, 24,
    24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 27, 27, 27, 27, 28, 28,
    28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31, 31,
};

/* Any size up to SMALL_MAX: 8 classes per power of two above 128. */
static inline unsigned class_of(size_t size)
{
    if (size <= SMALL_TABLE_MAX)
        return class_of_small[(size + 15) >> 4];
    size_t w = size - 1;
    unsigned top = 63u - (unsigned)__builtin_clzll(w);
    return 8u + (top - 7u) * 8u + (unsigned)((w >> (top - 3u)) & 7u);
}
