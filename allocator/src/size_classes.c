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

/* The class of n bytes as a constant expression. With w = n - 1: 16-byte steps up to w = 127,
 * then the top bit of w and the three bits below it pick one of 8 classes per power of two.
 * Both arms stay in range for any w (a compiler checks the arm it does not take, too). */
#define CLASS_TOP(w) (63 - __builtin_clzll((w) | 128))  /* top bit of w, at least 7 */
#define CLASS_OF_W(w)                                                                         \
    ((w) < 128 ? ((w) & 127) / 16 : 8 + (CLASS_TOP(w) - 7) * 8 + (((w) >> (CLASS_TOP(w) - 3)) & 7))
#define CLASS_OF(n) CLASS_OF_W((size_t)(n) - ((n) != 0))

/* class_of_size16[(n + 15) / 16] is CLASS_OF(n) for every n up to SMALL_MAX (classes change
 * only at multiples of 16), built from the formula at compile time: malloc's fast path finds
 * any small class with one load, no branch on the size. */
#define CLASS_ROW1(i) CLASS_OF((i) * 16)
#define CLASS_ROW4(i) CLASS_ROW1(i), CLASS_ROW1((i) + 1), CLASS_ROW1((i) + 2), CLASS_ROW1((i) + 3)
#define CLASS_ROW16(i) CLASS_ROW4(i), CLASS_ROW4((i) + 4), CLASS_ROW4((i) + 8), CLASS_ROW4((i) + 12)
#define CLASS_ROW64(i) CLASS_ROW16(i), CLASS_ROW16((i) + 16), CLASS_ROW16((i) + 32), CLASS_ROW16((i) + 48)
#define CLASS_ROW256(i) CLASS_ROW64(i), CLASS_ROW64((i) + 64), CLASS_ROW64((i) + 128), CLASS_ROW64((i) + 192)
static const uint8_t class_of_size16[SMALL_MAX / 16 + 1] = {
    CLASS_ROW256(0), CLASS_ROW256(256), CLASS_ROW256(512), CLASS_ROW256(768), CLASS_ROW1(1024),
};

/* Any size up to SMALL_MAX. */
static inline unsigned class_of(size_t size)
{
    return class_of_size16[(size + 15) >> 4];
}
