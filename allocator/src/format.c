/* A tiny formatter for the dumps and error lines: stdio allocates, so text is built in a
 * caller's stack buffer and written with write(2). */
#include "internal.h"

struct out_buf {
    int fd;
    size_t len;
    char data[512];
};

static void out_flush(struct out_buf *out)
{
    size_t done = 0;
    while (done < out->len) {
        ssize_t n = write(out->fd, out->data + done, out->len - done);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        done += (size_t)n;
    }
    out->len = 0;
}

static void out_char(struct out_buf *out, char c)
{
    if (out->len == sizeof out->data)
        out_flush(out);
    out->data[out->len++] = c;
}

static void out_str(struct out_buf *out, const char *s)
{
    while (*s)
        out_char(out, *s++);
}

static void out_hex(struct out_buf *out, uintptr_t v)
{
    char digits[2 * sizeof v];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    out_str(out, "0x");
    while (n)
        out_char(out, digits[--n]);
}

static void out_dec(struct out_buf *out, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        out_char(out, digits[--n]);
}

/* A label and its value, the unit every dump and stats line is made of: " size=" 112. */
static void out_label_dec(struct out_buf *out, const char *label, uint64_t v)
{
    out_str(out, label);
    out_dec(out, v);
}

static void out_label_hex(struct out_buf *out, const char *label, uintptr_t v)
{
    out_str(out, label);
    out_hex(out, v);
}
