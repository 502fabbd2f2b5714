/*
 * image_io.c - PNG (libpng) and JPEG (libjpeg) decoding to float32 and
 * 8-bit PNG encoding. See image_io.h for the contract.
 *
 * Both libraries report fatal errors by longjmp()ing out of a callback.
 * Each function that calls setjmp() here keeps all of its state in a
 * struct that lives in its caller's frame and is reached only through a
 * pointer that is never modified, so no automatic variable of the function
 * that called setjmp() is read after the jump (C11 7.13.2.1).
 */
#include "image_io.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "size_math.h"

static void set_error(char *err, size_t err_cap, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || err_cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
}

static bool too_many_pixels(int64_t width, int64_t height, int64_t max_pixels, char *err,
                            size_t err_cap)
{
    /* width and height are at most 2^32 here, so the product fits. */
    int64_t pixels = width * height;
    if (pixels <= max_pixels)
        return false;
    set_error(err, err_cap,
              "image: %lld x %lld (H x W) = %lld pixels is over the limit of %lld pixels per "
              "image (not decoded)",
              (long long)height, (long long)width, (long long)pixels, (long long)max_pixels);
    return true;
}

void image_free(image_f32 *img)
{
    if (img == NULL)
        return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

/* ------------------------------------------------------------------------ */
/* PNG                                                                       */

/* Where libpng's error callback puts its message. */
typedef struct png_error_sink {
    char *err;
    size_t err_cap;
} png_error_sink;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_error_sink *sink = png_get_error_ptr(png);
    set_error(sink->err, sink->err_cap, "PNG: %s", msg);
    png_longjmp(png, 1);
}

/* Reads from the FILE, telling a truncated file from a read error. */
static void png_on_read(png_structp png, png_bytep data, size_t length)
{
    FILE *fp = png_get_io_ptr(png);
    if (fread(data, 1, length, fp) != length)
        png_error(png, ferror(fp) ? "read error" : "the file is truncated (premature end of data)");
}

/* Writes to the FILE, reporting the system's reason on failure. */
static void png_on_write(png_structp png, png_bytep data, size_t length)
{
    FILE *fp = png_get_io_ptr(png);
    if (fwrite(data, 1, length, fp) != length)
        png_error(png, strerror(errno));
}

static void png_on_flush(png_structp png)
{
    FILE *fp = png_get_io_ptr(png);
    if (fflush(fp) != 0)
        png_error(png, strerror(errno));
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    /* Warnings (bad ancillary chunks, odd profiles) do not stop decoding. */
    (void)png;
    (void)msg;
}

typedef struct png_read_state {
    png_error_sink sink;
    FILE *fp;
    png_structp png;
    png_infop info;
    uint8_t *raw;    /* all decoded rows, 8 or 16 bits per sample */
    png_bytep *rows; /* row pointers into raw */
    float *pixels;   /* the result, handed to the caller on success */
} png_read_state;

/* The only function here that calls setjmp for reading; see the top. */
static bool png_decode(png_read_state *s, int64_t max_pixels, image_f32 *out)
{
    if (setjmp(png_jmpbuf(s->png)))
        return false; /* the message is already in s->sink */

    png_set_read_fn(s->png, s->fp, png_on_read);
    png_set_sig_bytes(s->png, 8);
    png_read_info(s->png, s->info);

    png_uint_32 width = png_get_image_width(s->png, s->info);
    png_uint_32 height = png_get_image_height(s->png, s->info);
    int color_type = png_get_color_type(s->png, s->info);
    int bit_depth = png_get_bit_depth(s->png, s->info);
    if (too_many_pixels(width, height, max_pixels, s->sink.err, s->sink.err_cap))
        return false;

    /* Everything becomes 8- or 16-bit RGB or RGBA. */
    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(s->png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(s->png);
    if (png_get_valid(s->png, s->info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(s->png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(s->png);
    png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);

    int channels = png_get_channels(s->png, s->info);
    int depth = png_get_bit_depth(s->png, s->info);
    size_t row_bytes = png_get_rowbytes(s->png, s->info);
    size_t expected_row_bytes, raw_bytes, rows_bytes, pixel_bytes;
    if ((channels != 3 && channels != 4) || (depth != 8 && depth != 16) ||
        !size_mul4(width, channels, depth / 8, 1, &expected_row_bytes) ||
        row_bytes != expected_row_bytes) {
        set_error(s->sink.err, s->sink.err_cap,
                  "PNG: unexpected layout after conversion (expected 8/16-bit RGB or RGBA, "
                  "got %d channels of %d bits)",
                  channels, depth);
        return false;
    }
    if (!size_mul(row_bytes, height, &raw_bytes) ||
        !size_mul(sizeof(png_bytep), height, &rows_bytes) ||
        !size_mul4(width, height, channels, sizeof(float), &pixel_bytes)) {
        set_error(s->sink.err, s->sink.err_cap, "image: %lu x %lu is too large for memory",
                  (unsigned long)height, (unsigned long)width);
        return false;
    }
    s->raw = malloc(raw_bytes);
    s->rows = malloc(rows_bytes);
    s->pixels = malloc(pixel_bytes);
    if (s->raw == NULL || s->rows == NULL || s->pixels == NULL) {
        set_error(s->sink.err, s->sink.err_cap, "out of memory decoding %lu x %lu pixels",
                  (unsigned long)height, (unsigned long)width);
        return false;
    }
    for (png_uint_32 y = 0; y < height; y++)
        s->rows[y] = s->raw + (size_t)y * row_bytes;
    png_read_image(s->png, s->rows);
    png_read_end(s->png, NULL);

    size_t samples_per_row = (size_t)width * (size_t)channels;
    for (png_uint_32 y = 0; y < height; y++) {
        const uint8_t *src = s->rows[y];
        float *dst = s->pixels + (size_t)y * samples_per_row;
        if (depth == 8) {
            for (size_t i = 0; i < samples_per_row; i++)
                dst[i] = (float)src[i] / 255.0f;
        } else { /* 16-bit samples are stored big-endian */
            for (size_t i = 0; i < samples_per_row; i++)
                dst[i] = (float)(((unsigned)src[2 * i] << 8) | src[2 * i + 1]) / 65535.0f;
        }
    }
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->pixels = s->pixels;
    s->pixels = NULL;
    return true;
}

static bool load_png(FILE *fp, int64_t max_pixels, image_f32 *out, char *err, size_t err_cap)
{
    png_read_state s;
    memset(&s, 0, sizeof s);
    s.sink.err = err;
    s.sink.err_cap = err_cap;
    s.fp = fp;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s.sink, png_on_error, png_on_warning);
    if (s.png != NULL)
        s.info = png_create_info_struct(s.png);
    bool ok = false;
    if (s.png == NULL || s.info == NULL)
        set_error(err, err_cap, "PNG: out of memory");
    else
        ok = png_decode(&s, max_pixels, out);
    png_destroy_read_struct(&s.png, s.info != NULL ? &s.info : NULL, NULL);
    free(s.raw);
    free(s.rows);
    free(s.pixels); /* NULL after success: ownership moved to *out */
    return ok;
}

typedef struct png_write_state {
    png_error_sink sink;
    FILE *fp;
    png_structp png;
    png_infop info;
} png_write_state;

/* The only function here that calls setjmp for writing; see the top. */
static bool png_encode(png_write_state *s, const uint8_t *pixels, int64_t width,
                       int64_t height, int channels)
{
    if (setjmp(png_jmpbuf(s->png)))
        return false;
    png_set_write_fn(s->png, s->fp, png_on_write, png_on_flush);
    png_set_IHDR(s->png, s->info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 4   ? PNG_COLOR_TYPE_RGB_ALPHA
                 : channels == 3 ? PNG_COLOR_TYPE_RGB
                                 : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* zlib level 4 writes files as small as the default level 6 for
     * photos with alpha, in about half the time. */
    png_set_compression_level(s->png, 4);
    png_write_info(s->png, s->info);
    size_t row_bytes = (size_t)width * (size_t)channels;
    for (int64_t y = 0; y < height; y++)
        png_write_row(s->png, pixels + (size_t)y * row_bytes);
    png_write_end(s->png, NULL);
    return true;
}

bool image_write_png(FILE *fp, const uint8_t *pixels, int64_t width, int64_t height,
                     int channels, char *err, size_t err_cap)
{
    size_t total;
    if (fp == NULL || pixels == NULL || (channels != 1 && channels != 3 && channels != 4)) {
        set_error(err, err_cap, "PNG: invalid arguments (expected a stream, pixels and 1, 3 or "
                                "4 channels)");
        return false;
    }
    if (width < 1 || height < 1 || width > PNG_UINT_31_MAX || height > PNG_UINT_31_MAX ||
        !size_mul4(width, height, channels, 1, &total)) {
        set_error(err, err_cap, "PNG: cannot store %lld x %lld pixels", (long long)height,
                  (long long)width);
        return false;
    }
    png_write_state s;
    memset(&s, 0, sizeof s);
    s.sink.err = err;
    s.sink.err_cap = err_cap;
    s.fp = fp;
    s.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &s.sink, png_on_error,
                                    png_on_warning);
    if (s.png != NULL)
        s.info = png_create_info_struct(s.png);
    bool ok = false;
    if (s.png == NULL || s.info == NULL)
        set_error(err, err_cap, "PNG: out of memory");
    else
        ok = png_encode(&s, pixels, width, height, channels);
    png_destroy_write_struct(&s.png, s.info != NULL ? &s.info : NULL);
    if (ok && (fflush(fp) != 0 || ferror(fp))) {
        set_error(err, err_cap, "PNG: %s", strerror(errno));
        ok = false;
    }
    return ok;
}

/* ------------------------------------------------------------------------ */
/* JPEG                                                                      */

typedef struct jpeg_read_state {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    jmp_buf jmp;
    bool created;   /* jpeg_create_decompress ran: destroy it */
    bool truncated; /* libjpeg warned that the data ended early */
    FILE *fp;
    uint8_t *row;
    float *pixels;
    char *err;
    size_t err_cap;
} jpeg_read_state;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_read_state *s = cinfo->client_data;
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    set_error(s->err, s->err_cap, "JPEG: %s", msg);
    longjmp(s->jmp, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    /* Most warnings (stray bytes between markers) leave a usable image; a
     * premature end of data leaves grey blocks, so it fails the image. */
    jpeg_read_state *s = cinfo->client_data;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        s->truncated = true;
}

/* The only function here that calls setjmp for JPEG; see the top. */
static bool jpeg_decode(jpeg_read_state *s, int64_t max_pixels, image_f32 *out)
{
    if (setjmp(s->jmp))
        return false;
    jpeg_create_decompress(&s->cinfo);
    s->created = true;
    jpeg_stdio_src(&s->cinfo, s->fp);
    jpeg_read_header(&s->cinfo, TRUE);

    J_COLOR_SPACE space = s->cinfo.jpeg_color_space;
    if (space == JCS_CMYK || space == JCS_YCCK) {
        set_error(s->err, s->err_cap,
                  "JPEG: CMYK images are not supported (expected YCbCr, RGB or grayscale)");
        return false;
    }
    if (too_many_pixels(s->cinfo.image_width, s->cinfo.image_height, max_pixels, s->err,
                        s->err_cap))
        return false;
    s->cinfo.out_color_space = JCS_RGB; /* libjpeg expands grayscale too */
    jpeg_start_decompress(&s->cinfo);

    int64_t width = s->cinfo.output_width;
    int64_t height = s->cinfo.output_height;
    size_t row_bytes, pixel_bytes;
    if (s->cinfo.output_components != 3) {
        set_error(s->err, s->err_cap, "JPEG: expected 3 components after conversion, got %d",
                  s->cinfo.output_components);
        return false;
    }
    if (!size_mul4(width, 3, 1, 1, &row_bytes) ||
        !size_mul4(width, height, 3, sizeof(float), &pixel_bytes)) {
        set_error(s->err, s->err_cap, "image: %lld x %lld is too large for memory",
                  (long long)height, (long long)width);
        return false;
    }
    s->row = malloc(row_bytes);
    s->pixels = malloc(pixel_bytes);
    if (s->row == NULL || s->pixels == NULL) {
        set_error(s->err, s->err_cap, "out of memory decoding %lld x %lld pixels",
                  (long long)height, (long long)width);
        return false;
    }
    while (s->cinfo.output_scanline < s->cinfo.output_height) {
        JSAMPROW row = s->row;
        size_t y = s->cinfo.output_scanline;
        if (jpeg_read_scanlines(&s->cinfo, &row, 1) != 1) {
            set_error(s->err, s->err_cap, "JPEG: no data for row %zu", y);
            return false;
        }
        float *dst = s->pixels + y * row_bytes;
        for (size_t i = 0; i < row_bytes; i++)
            dst[i] = (float)s->row[i] / 255.0f;
    }
    jpeg_finish_decompress(&s->cinfo);
    if (s->truncated) {
        set_error(s->err, s->err_cap, "JPEG: the file is truncated (premature end of data)");
        return false;
    }
    out->width = width;
    out->height = height;
    out->channels = 3;
    out->pixels = s->pixels;
    s->pixels = NULL;
    return true;
}

static bool load_jpeg(FILE *fp, int64_t max_pixels, image_f32 *out, char *err, size_t err_cap)
{
    jpeg_read_state *s = calloc(1, sizeof *s); /* jmp_buf and cinfo are large */
    if (s == NULL) {
        set_error(err, err_cap, "JPEG: out of memory");
        return false;
    }
    s->fp = fp;
    s->err = err;
    s->err_cap = err_cap;
    s->cinfo.err = jpeg_std_error(&s->jerr);
    s->jerr.error_exit = jpeg_on_error;
    s->jerr.emit_message = jpeg_on_message;
    s->cinfo.client_data = s; /* kept by jpeg_create_decompress */
    bool ok = jpeg_decode(s, max_pixels, out);
    if (s->created)
        jpeg_destroy_decompress(&s->cinfo);
    free(s->row);
    free(s->pixels);
    free(s);
    return ok;
}

/* ------------------------------------------------------------------------ */

bool image_load(const char *path, int64_t max_pixels, image_f32 *out, char *err,
                size_t err_cap)
{
    static const uint8_t jpeg_magic[3] = {0xFF, 0xD8, 0xFF};
    uint8_t head[8];
    if (out == NULL || path == NULL) {
        set_error(err, err_cap, "invalid arguments (expected a path and an output image)");
        return false;
    }
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        set_error(err, err_cap, "cannot open: %s", strerror(errno));
        return false;
    }
    size_t n = fread(head, 1, sizeof head, fp);
    bool ok = false;
    if (ferror(fp))
        set_error(err, err_cap, "cannot read: %s", strerror(errno));
    else if (n == 0)
        set_error(err, err_cap, "empty file (expected a PNG or JPEG image)");
    else if (n == sizeof head && png_sig_cmp(head, 0, sizeof head) == 0)
        ok = load_png(fp, max_pixels, out, err, err_cap);
    else if (n >= sizeof jpeg_magic && memcmp(head, jpeg_magic, sizeof jpeg_magic) == 0) {
        if (fseek(fp, 0, SEEK_SET) != 0)
            set_error(err, err_cap, "cannot rewind: %s", strerror(errno));
        else
            ok = load_jpeg(fp, max_pixels, out, err, err_cap);
    } else
        set_error(err, err_cap, "not a PNG or JPEG file (its first bytes are neither signature)");
    fclose(fp);
    return ok;
}
