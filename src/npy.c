/* Reading and writing .npy files (numpy's own format, versions 1.0, 2.0 and 3.0) for the
 * dense little-endian float32/float64 C-order arrays convt3d works with.
 *
 * Layout (numpy/lib/format.py): the magic "\x93NUMPY", a major and a minor version byte,
 * the header length (uint16 LE for 1.0, uint32 LE for 2.0 and 3.0), the header (a Python
 * dict literal padded with spaces and ending in '\n'), then the raw element bytes.
 *
 * Choices made here:
 * - A zero-element array read from a file still gets a (1-byte) allocation, so on success
 *   data is never NULL and on failure it always is; convt3d_array_free() handles both.
 * - The writer produces byte-for-byte what np.save() writes for the same array.
 * - The writer creates its temporary file with open(O_EXCL, 0666) rather than mkstemp():
 *   the kernel then applies the umask (and default ACLs) itself, without the
 *   umask(0)/umask(old) dance, which would race with other threads. */
#define _POSIX_C_SOURCE 200809L /* NOLINT(bugprone-reserved-identifier): POSIX asks it */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c copies element bytes as they are, which is only right on a little-endian host"
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* numpy pads magic + length + header to a multiple of 64 bytes (ARRAY_ALIGN). */
#define NPY_ALIGN 64
/* np.save leaves room for the first axis to grow to 21 digits (GROWTH_AXIS_MAX_DIGITS). */
#define NPY_GROWTH_DIGITS 21
/* A '<f4'/'<f8' header with 32 dims needs under 1 KiB; refusing headers over 1 MiB stops
 * a hostile length from costing a large allocation (numpy itself refuses > 10000). */
#define NPY_MAX_HEADER ((uint32_t)1 << 20)
/* fread/fwrite in chunks, so a multi-GiB array never relies on one huge stdio call. */
#define IO_CHUNK ((size_t)1 << 30)

static size_t elem_size(convt3d_dtype dtype) {
  return dtype == CONVT3D_F32 ? 4 : dtype == CONVT3D_F64 ? 8 : 0;
}

/* "(2, 3)", "(5,)" or "()", as Python writes a tuple. ndim <= CONVT3D_NPY_MAX_NDIM, so
 * the longest is 1 + 32 * 22 + 2 characters: SHAPE_STR_MAX leaves room to spare. */
#define SHAPE_STR_MAX 800
static void shape_str(char buf[SHAPE_STR_MAX], int ndim, const int64_t *dims) {
  int pos = snprintf(buf, SHAPE_STR_MAX, "(");
  for (int d = 0; d < ndim; d++)
    pos += snprintf(buf + pos, (size_t)(SHAPE_STR_MAX - pos), "%s%lld", d ? ", " : "",
                    (long long)dims[d]);
  snprintf(buf + pos, (size_t)(SHAPE_STR_MAX - pos), "%s", ndim == 1 ? ",)" : ")");
}

/* Bytes of an array of this shape: checked, and 0 whenever any dim is 0 (so a shape like
 * (2**62, 2**62, 0) is a valid empty array, as in numpy, not an overflow). */
static convt3d_status array_bytes(const char *op, const char *path, int ndim,
                                  const int64_t *dims, size_t esize, int64_t *bytes) {
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++)
    if (dims[d] == 0) numel = 0;
  for (int d = 0; d < ndim && numel != 0; d++)
    if (!cvt_mul(numel, dims[d], &numel)) numel = -1;
  if (numel < 0 || !cvt_mul(numel, (int64_t)esize, bytes)
#if SIZE_MAX < INT64_MAX
      || (uint64_t)*bytes > SIZE_MAX
#endif
  ) {
    char s[SHAPE_STR_MAX];
    shape_str(s, ndim, dims);
    return cvt_fail(CONVT3D_ERR_TOO_LARGE, "%s: %s: shape %s of %zu-byte elements is too "
                    "large to address", op, path, s, esize);
  }
  return CONVT3D_OK;
}

/* ------------------------------------------------------------------------ reading */

/* The header being parsed: validated printable ASCII, not NUL-terminated. */
typedef struct header {
  const char *s;
  size_t n, i; /* length, cursor */
  const char *path;
} header;

static convt3d_status hdr_fail(const header *h, const char *fmt, ...) CVT_PRINTF(2, 3);
static convt3d_status hdr_fail(const header *h, const char *fmt, ...) {
  char detail[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: bad header at offset %zu: %s",
                  h->path, h->i, detail);
}

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}
static int is_digit(char c) { return c >= '0' && c <= '9'; }
/* Characters of a Python name or number: "False", "2", "2.0", "0x10", "1_000". */
static int is_word(char c) {
  return is_digit(c) || c == '_' || c == '.' || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}

static void skip_ws(header *h) {
  while (h->i < h->n && is_ws(h->s[h->i])) h->i++;
}
static char peek(header *h) {
  skip_ws(h);
  if (h->i < h->n) return h->s[h->i];
  return 0; /* the header holds no NUL: 0 means its end */
}
static int eat(header *h, char c) {
  if (peek(h) != c) return 0;
  h->i++;
  return 1;
}

/* "expected <what>, found <the next token>". */
static convt3d_status expected(header *h, const char *what) {
  if (peek(h) == '\0') return hdr_fail(h, "expected %s, found the end of the header", what);
  size_t len = 1; /* one punctuation character, or a word of up to 32 */
  while (is_word(h->s[h->i]) && h->i + len < h->n && is_word(h->s[h->i + len]) && len < 32)
    len++;
  return hdr_fail(h, "expected %s, found \"%.*s\"", what, (int)len, h->s + h->i);
}

/* A quoted string without escapes, either quote style, into out (cap bytes with NUL). */
static convt3d_status parse_str(header *h, char *out, size_t cap, const char *what) {
  char q = peek(h);
  if (q != '\'' && q != '"') return expected(h, what);
  size_t start = ++h->i;
  while (h->i < h->n && h->s[h->i] != q && h->s[h->i] != '\\' && h->s[h->i] != '\n') h->i++;
  if (h->i < h->n && h->s[h->i] == '\\')
    return hdr_fail(h, "escape sequences in strings are not supported");
  if (h->i == h->n || h->s[h->i] != q) {
    /* The header is not NUL-terminated: the excerpt must stop at its end. */
    const size_t shown = h->n - start < 20 ? h->n - start : 20;
    return hdr_fail(h, "unterminated string %c%.*s", q, (int)shown, h->s + start);
  }
  size_t len = h->i++ - start;
  if (len >= cap)
    return hdr_fail(h, "string '%.32s...' is too long for %s", h->s + start, what);
  memcpy(out, h->s + start, len);
  out[len] = '\0';
  return CONVT3D_OK;
}

static convt3d_status parse_descr(header *h, convt3d_dtype *dtype) {
  if (peek(h) == '[')
    return hdr_fail(h, "structured dtypes are not supported (only '<f4' and '<f8')");
  char d[32];
  convt3d_status st = parse_str(h, d, sizeof d, "a dtype string for 'descr'");
  if (st != CONVT3D_OK) return st;
  int f4 = strcmp(d, "<f4") == 0;
  if (f4 || strcmp(d, "<f8") == 0) {
    *dtype = f4 ? CONVT3D_F32 : CONVT3D_F64;
    return CONVT3D_OK;
  }
  if (strcmp(d, ">f4") == 0 || strcmp(d, ">f8") == 0)
    return hdr_fail(h, "big-endian dtype '%s' is not supported (only '<f4' and '<f8')", d);
  return hdr_fail(h, "unsupported dtype '%s' (only '<f4' and '<f8' are read)", d);
}

static convt3d_status parse_fortran(header *h) {
  peek(h);
  size_t len = 0;
  while (h->i + len < h->n && is_word(h->s[h->i + len])) len++;
  if (len == 5 && memcmp(h->s + h->i, "False", 5) == 0) {
    h->i += len;
    return CONVT3D_OK;
  }
  if (len == 4 && memcmp(h->s + h->i, "True", 4) == 0)
    return hdr_fail(h, "'fortran_order' is True: Fortran-order arrays are not supported");
  return expected(h, "True or False for 'fortran_order'");
}

static convt3d_status parse_dim(header *h, int64_t *dim) {
  char c = peek(h);
  size_t start = h->i, end = start + (c == '-');
  while (end < h->n && is_word(h->s[end])) end++;
  int len = end - start > 40 ? 40 : (int)(end - start); /* for messages */
  if (c == '-') return hdr_fail(h, "negative dimension '%.*s'", len, h->s + start);
  if (!is_digit(c)) return expected(h, "a non-negative integer dimension");
  int64_t v = 0;
  for (; h->i < end && is_digit(h->s[h->i]); h->i++)
    if (!cvt_mul(v, 10, &v) || !cvt_add(v, h->s[h->i] - '0', &v))
      return cvt_fail(CONVT3D_ERR_TOO_LARGE, "npy_read: %s: dimension %.*s overflows int64",
                      h->path, len, h->s + start);
  if (h->i < end) { /* "2.0", "2L", "0x10", "1_000": not what numpy writes */
    h->i = start;
    return hdr_fail(h, "dimension '%.*s' is not an integer", len, h->s + start);
  }
  *dim = v;
  return CONVT3D_OK;
}

static convt3d_status parse_shape(header *h, convt3d_array *a) {
  if (!eat(h, '(')) return expected(h, "a tuple for 'shape'");
  a->ndim = 0;
  if (eat(h, ')')) return CONVT3D_OK;
  for (;;) {
    if (a->ndim == CONVT3D_NPY_MAX_NDIM)
      return hdr_fail(h, "'shape' has more than %d dimensions", CONVT3D_NPY_MAX_NDIM);
    convt3d_status st = parse_dim(h, &a->shape[a->ndim++]);
    if (st != CONVT3D_OK) return st;
    int comma = eat(h, ',');
    if (eat(h, ')')) {
      if (a->ndim == 1 && !comma) /* Python reads "(5)" as the int 5, not a tuple */
        return hdr_fail(h, "'shape' (%lld) is not a tuple: a 1-d shape is written (%lld,)",
                        (long long)a->shape[0], (long long)a->shape[0]);
      return CONVT3D_OK;
    }
    if (!comma) return expected(h, "',' or ')' in 'shape'");
  }
}

/* The dict: exactly the keys 'descr', 'fortran_order' and 'shape', in any order. */
static convt3d_status parse_header(header *h, convt3d_array *a) {
  static const char *const keys[3] = {"descr", "fortran_order", "shape"};
  for (size_t k = 0; k < h->n; k++) {
    unsigned char c = (unsigned char)h->s[k];
    if (c > 0x7e || (c < 0x20 && !is_ws((char)c))) {
      h->i = k;
      return hdr_fail(h, "byte 0x%02x is not printable ASCII", c);
    }
  }
  if (!eat(h, '{')) return expected(h, "a dict starting with '{'");
  int seen[3] = {0, 0, 0};
  while (!eat(h, '}')) {
    char key[32];
    convt3d_status st = parse_str(h, key, sizeof key, "a quoted key");
    if (st != CONVT3D_OK) return st;
    int k = 0;
    while (k < 3 && strcmp(key, keys[k]) != 0) k++;
    if (k == 3)
      return hdr_fail(h, "unknown key '%s' (expected 'descr', 'fortran_order', 'shape')", key);
    if (seen[k]++) return hdr_fail(h, "duplicate key '%s'", key);
    if (!eat(h, ':')) return expected(h, "':' after the key");
    st = k == 0 ? parse_descr(h, &a->dtype) : k == 1 ? parse_fortran(h) : parse_shape(h, a);
    if (st != CONVT3D_OK) return st;
    if (!eat(h, ',') && peek(h) != '}') return expected(h, "',' or '}'");
  }
  if (peek(h) != '\0') return hdr_fail(h, "unexpected text after the closing '}'");
  for (int k = 0; k < 3; k++)
    if (!seen[k]) return hdr_fail(h, "missing key '%s'", keys[k]);
  return CONVT3D_OK;
}

/* Reads exactly n bytes; a short read is an I/O error or a file that shrank meanwhile. */
static convt3d_status read_exact(FILE *f, const char *path, void *buf, int64_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    size_t want = (uint64_t)n > IO_CHUNK ? IO_CHUNK : (size_t)n;
    size_t got = fread(p, 1, want, f);
    p += got;
    n -= (int64_t)got;
    if (got < want && ferror(f))
      return cvt_fail(CONVT3D_ERR_IO, "npy_read: %s: read failed: %s", path, strerror(errno));
    if (got < want)
      return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: file is truncated (shorter than "
                      "its size said: was it changed while being read?)", path);
  }
  return CONVT3D_OK;
}

/* Fills *a from f; a->data may be allocated even on failure (the caller frees it). */
static convt3d_status read_npy(FILE *f, const char *path, convt3d_array *a) {
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0)
    return cvt_fail(CONVT3D_ERR_IO, "npy_read: %s: stat failed: %s", path, strerror(errno));
  if (!S_ISREG(sb.st_mode))
    return cvt_fail(CONVT3D_ERR_IO, "npy_read: %s: not a regular file", path);
  int64_t file_size = (int64_t)sb.st_size;

  /* Preamble: magic, version, header length. */
  unsigned char pre[12];
  size_t have = fread(pre, 1, 8, f);
  if (ferror(f))
    return cvt_fail(CONVT3D_ERR_IO, "npy_read: %s: read failed: %s", path, strerror(errno));
  if (memcmp(pre, NPY_MAGIC, have < NPY_MAGIC_LEN ? have : NPY_MAGIC_LEN) != 0)
    return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: not a .npy file (no \\x93NUMPY "
                    "magic)", path);
  if (have < 8)
    return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: truncated: %lld bytes, shorter "
                    "than the .npy preamble", path, (long long)file_size);
  if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
    return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: unsupported .npy format version "
                    "%u.%u (1.0, 2.0 and 3.0 are read)", path, pre[6], pre[7]);
  size_t len_bytes = pre[6] == 1 ? 2 : 4;
  if (fread(pre + 8, 1, len_bytes, f) != len_bytes)
    return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: truncated inside the .npy preamble",
                    path);
  uint32_t hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
  if (len_bytes == 4) hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
  int64_t data_offset = 8 + (int64_t)len_bytes + hlen;
  if (data_offset > file_size)
    return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: header length %lu exceeds the file "
                    "size (%lld bytes)", path, (unsigned long)hlen, (long long)file_size);
  if (hlen > NPY_MAX_HEADER)
    return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: header length %lu exceeds the "
                    "limit of %lu bytes", path, (unsigned long)hlen,
                    (unsigned long)NPY_MAX_HEADER);

  /* Header. */
  char *text = cvt_malloc(hlen);
  if (!text)
    return cvt_fail(CONVT3D_ERR_OUT_OF_MEMORY, "npy_read: %s: cannot allocate the %lu-byte "
                    "header", path, (unsigned long)hlen);
  convt3d_status st = read_exact(f, path, text, hlen);
  if (st == CONVT3D_OK) {
    header h = {text, hlen, 0, path};
    st = parse_header(&h, a);
  }
  free(text);
  if (st != CONVT3D_OK) return st;

  /* Data: the size check comes before the allocation, so a header claiming a huge shape
   * in a short file is a clean BAD_FILE and never a huge malloc. */
  int64_t bytes = 0;
  st = array_bytes("npy_read", path, a->ndim, a->shape, elem_size(a->dtype), &bytes);
  if (st != CONVT3D_OK) return st;
  if (file_size - data_offset != bytes) {
    char s[SHAPE_STR_MAX];
    shape_str(s, a->ndim, a->shape);
    return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: %s: shape %s needs %lld data bytes "
                    "but the file holds %lld", path,
                    file_size - data_offset < bytes ? "truncated" : "trailing bytes", s,
                    (long long)bytes, (long long)(file_size - data_offset));
  }
  a->data = cvt_malloc((size_t)bytes);
  if (!a->data)
    return cvt_fail(CONVT3D_ERR_OUT_OF_MEMORY, "npy_read: %s: cannot allocate %lld bytes",
                    path, (long long)bytes);
  st = read_exact(f, path, a->data, bytes);
  if (st == CONVT3D_OK && fgetc(f) != EOF) /* the file grew while we read it */
    return cvt_fail(CONVT3D_ERR_BAD_FILE, "npy_read: %s: trailing bytes after the data", path);
  return st;
}

convt3d_status convt3d_npy_read(const char *path, convt3d_array *array) {
  if (array) memset(array, 0, sizeof *array);
  if (!path) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "npy_read: path is NULL");
  if (!array)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "npy_read: %s: array is NULL", path);
  FILE *f = fopen(path, "rb");
  if (!f)
    return cvt_fail(CONVT3D_ERR_IO, "npy_read: cannot open %s: %s", path, strerror(errno));
  convt3d_array a;
  memset(&a, 0, sizeof a);
  convt3d_status st = read_npy(f, path, &a);
  fclose(f); /* read-only: nothing a failing close could lose */
  if (st == CONVT3D_OK)
    *array = a;
  else
    free(a.data);
  return st;
}

void convt3d_array_free(convt3d_array *array) {
  if (!array) return;
  free(array->data);
  array->data = NULL;
  array->ndim = 0;
}

/* ------------------------------------------------------------------------ writing */

/* The preamble and header exactly as np.save writes them: magic, version 1.0, uint16
 * length, the dict, room for the first axis to grow, spaces and '\n' up to a multiple of
 * 64 bytes. The longest (32 dims of 19 digits) is under 900 bytes, so HEADER_MAX always
 * suffices and version 2.0, which numpy uses only past 65535 bytes, is never needed. */
#define HEADER_MAX 1024
_Static_assert(HEADER_MAX <= 65535, "a version 1.0 header length is a uint16");
static size_t format_header(char out[HEADER_MAX], const convt3d_array *array) {
  char s[SHAPE_STR_MAX];
  shape_str(s, array->ndim, array->shape);
  int grow = 0;
  if (array->ndim > 0)
    grow = NPY_GROWTH_DIGITS - snprintf(NULL, 0, "%lld", (long long)array->shape[0]);
  size_t len = 10 + (size_t)snprintf(out + 10, HEADER_MAX - 10, "{'descr': '%s', "
                                     "'fortran_order': False, 'shape': %s, }%*s",
                                     array->dtype == CONVT3D_F32 ? "<f4" : "<f8", s, grow, "");
  size_t total = (len + 1 + NPY_ALIGN) / NPY_ALIGN * NPY_ALIGN; /* pads 1..64, as numpy */
  memset(out + len, ' ', total - 1 - len);
  out[total - 1] = '\n';
  memcpy(out, NPY_MAGIC "\x01\x00", 8); /* NOLINT(bugprone-not-null-terminated-result) */
  out[8] = (char)((total - 10) & 0xff);
  out[9] = (char)((total - 10) >> 8);
  return total;
}

static int write_all(FILE *f, const void *buf, int64_t n) {
  const unsigned char *p = buf;
  for (; n > 0;) {
    size_t chunk = (uint64_t)n > IO_CHUNK ? IO_CHUNK : (size_t)n;
    if (fwrite(p, 1, chunk, f) != chunk) return 0;
    p += chunk;
    n -= (int64_t)chunk;
  }
  return 1;
}

/* Distinguishes the temporary files of concurrent writers within one process. */
static atomic_ulong tmp_counter;

/* Writes head and data to a temporary file next to path, then renames it over path:
 * readers see the old file or the complete new one, never a partial one. */
static convt3d_status write_atomic(const char *path, const char *head, size_t head_len,
                                   const void *data, int64_t bytes) {
  size_t tmp_cap = strlen(path) + 64;
  char *tmp = cvt_malloc(tmp_cap);
  if (!tmp) return cvt_fail(CONVT3D_ERR_OUT_OF_MEMORY, "npy_write: %s: out of memory", path);
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
    snprintf(tmp, tmp_cap, "%s.tmp.%ld.%lu", path, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1));
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break; /* EEXIST: a stale file; try the next name */
  }
  const char *step = NULL; /* the step that failed, with its errno */
  int err = 0;
  FILE *f = NULL;
  if (fd < 0) {
    step = "create";
    err = errno;
  } else if (!(f = fdopen(fd, "wb"))) {
    step = "open";
    err = errno;
    close(fd);
  } else {
    if (!write_all(f, head, (int64_t)head_len) || !write_all(f, data, bytes))
      step = "write";
    else if (fflush(f) != 0)
      step = "flush";
    else if (fsync(fileno(f)) != 0) /* on disk before it replaces the old file */
      step = "sync";
    if (step) err = errno;
    if (fclose(f) != 0 && !step) {
      step = "close";
      err = errno;
    }
  }
  if (!step && rename(tmp, path) != 0) {
    step = "rename";
    err = errno;
  }
  convt3d_status st = CONVT3D_OK;
  if (step) {
    st = cvt_fail(CONVT3D_ERR_IO, "npy_write: cannot write %s (%s of temporary file %s "
                  "failed): %s", path, step, tmp, strerror(err));
    if (fd >= 0) unlink(tmp);
  }
  free(tmp);
  return st;
}

convt3d_status convt3d_npy_write(const char *path, const convt3d_array *array) {
  if (!path) return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "npy_write: path is NULL");
  if (!array)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "npy_write: %s: array is NULL", path);
  size_t esize = elem_size(array->dtype);
  if (esize == 0)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "npy_write: %s: dtype %d is not "
                    "CONVT3D_F32 or CONVT3D_F64", path, (int)array->dtype);
  if (array->ndim < 0 || array->ndim > CONVT3D_NPY_MAX_NDIM)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "npy_write: %s: ndim %d is outside "
                    "[0, %d]", path, array->ndim, CONVT3D_NPY_MAX_NDIM);
  for (int d = 0; d < array->ndim; d++)
    if (array->shape[d] < 0)
      return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "npy_write: %s: shape[%d] is %lld, "
                      "must be >= 0", path, d, (long long)array->shape[d]);
  int64_t bytes = 0;
  convt3d_status st = array_bytes("npy_write", path, array->ndim, array->shape, esize, &bytes);
  if (st != CONVT3D_OK) return st;
  if (bytes > 0 && !array->data)
    return cvt_fail(CONVT3D_ERR_INVALID_ARGUMENT, "npy_write: %s: data is NULL for a "
                    "non-empty array", path);
  char head[HEADER_MAX];
  size_t head_len = format_header(head, array);
  return write_atomic(path, head, head_len, array->data, bytes);
}
