/* fuzz_npy: libFuzzer harness for the .npy reader.
 *
 * Each input is written to a file and read with convt3d_npy_read (the reader takes a
 * path, not memory). Beyond "no crash, no leak, no undefined behaviour" it checks:
 * - a failure returns BAD_FILE or TOO_LARGE (the file is a regular, readable file, small
 *   enough to allocate), leaves the array empty (data NULL, ndim 0) and sets a message
 *   that names the file;
 * - a success describes exactly the bytes it was given: a supported dtype and rank, the
 *   data offset that the preamble states (computed here independently), a header of
 *   printable ASCII naming the dtype read, and element count * element size equal to the
 *   bytes after the header, which are the array's data verbatim;
 * - the array written back with convt3d_npy_write is a well-formed version 1.0 file (the
 *   header padded to 64 bytes and ending in '\n') that reads back bit for bit.
 * Scratch files live in a private directory under $TMPDIR (scripts/fuzz.sh points it to
 * a tmpfs, where the writer's fsync costs nothing). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convt3d.h"

/* A violated expectation is a finding: say what, then abort so libFuzzer saves the input. */
#define REQUIRE(cond, ...)                                                                \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "fuzz_npy: %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
      fprintf(stderr, __VA_ARGS__);                                                       \
      fputc('\n', stderr);                                                                \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

static char dir[4096], in_path[4200], out_path[4200];
/* The message a read of a NULL path leaves: a failing read must replace it. */
static char armed_message[512];

static void remove_scratch(void) {
  unlink(in_path);
  unlink(out_path);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fuzz_npy.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    fprintf(stderr, "fuzz_npy: cannot create a scratch directory %s: %s\n", dir,
            strerror(errno));
    exit(1);
  }
  snprintf(in_path, sizeof in_path, "%s/in.npy", dir);
  snprintf(out_path, sizeof out_path, "%s/out.npy", dir);
  atexit(remove_scratch);
  convt3d_array a;
  REQUIRE(convt3d_npy_read(NULL, &a) == CONVT3D_ERR_INVALID_ARGUMENT, "NULL path accepted");
  snprintf(armed_message, sizeof armed_message, "%s", convt3d_last_error());
  REQUIRE(armed_message[0] != '\0', "no message for a NULL path");
  return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  REQUIRE(f != NULL, "cannot create %s: %s", path, strerror(errno));
  REQUIRE(fwrite(data, 1, size, f) == size, "cannot write %s", path);
  REQUIRE(fclose(f) == 0, "cannot close %s", path);
}

/* The whole file, malloc'd; *size gets its length. */
static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  REQUIRE(f != NULL, "cannot open %s: %s", path, strerror(errno));
  REQUIRE(fseek(f, 0, SEEK_END) == 0, "cannot seek %s", path);
  long n = ftell(f);
  REQUIRE(n >= 0, "cannot size %s", path);
  rewind(f);
  uint8_t *buf = malloc((size_t)n + 1);
  REQUIRE(buf != NULL, "out of memory");
  REQUIRE(fread(buf, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
  fclose(f);
  *size = (size_t)n;
  return buf;
}

/* Element count of a shape, or -1 when it overflows int64 (a zero dimension wins). */
static int64_t numel_of(int ndim, const int64_t *shape) {
  for (int d = 0; d < ndim; d++)
    if (shape[d] == 0) return 0;
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    if (__builtin_mul_overflow(n, shape[d], &n)) return -1;
  return n;
}

/* The preamble as numpy defines it: magic, major.minor, then a uint16 (1.0) or uint32
 * (2.0, 3.0) little-endian header length. Returns the data offset, or 0 when the bytes do
 * not start with a complete preamble of a version the reader supports. */
static size_t data_offset(const uint8_t *p, size_t n, size_t *header_start) {
  if (n < 10 || memcmp(p, "\x93NUMPY", 6) != 0 || p[6] < 1 || p[6] > 3 || p[7] != 0)
    return 0;
  const size_t len_bytes = p[6] == 1 ? 2 : 4;
  if (n < 8 + len_bytes) return 0;
  uint64_t hlen = (uint64_t)p[8] | (uint64_t)p[9] << 8;
  if (len_bytes == 4) hlen |= (uint64_t)p[10] << 16 | (uint64_t)p[11] << 24;
  *header_start = 8 + len_bytes;
  return 8 + len_bytes + (size_t)hlen;
}

static void check_described(const convt3d_array *a, const uint8_t *data, size_t size) {
  REQUIRE(a->dtype == CONVT3D_F32 || a->dtype == CONVT3D_F64, "dtype %d", (int)a->dtype);
  REQUIRE(a->ndim >= 0 && a->ndim <= CONVT3D_NPY_MAX_NDIM, "ndim %d", a->ndim);
  for (int d = 0; d < a->ndim; d++) REQUIRE(a->shape[d] >= 0, "shape[%d] = %lld", d,
                                            (long long)a->shape[d]);
  REQUIRE(a->data != NULL, "a successful read left data NULL");
  size_t hstart = 0, off = data_offset(data, size, &hstart);
  REQUIRE(off != 0 && off <= size, "accepted a file without a valid preamble (offset %zu, "
          "size %zu)", off, size);
  /* The header: printable ASCII or whitespace only, and it names the dtype read. */
  const char *want = a->dtype == CONVT3D_F32 ? "<f4" : "<f8";
  int named = 0;
  for (size_t i = hstart; i < off; i++) {
    const uint8_t c = data[i];
    REQUIRE((c >= 0x20 && c <= 0x7e) || c == '\t' || c == '\n' || c == '\r' || c == '\f',
            "accepted header byte 0x%02x at offset %zu", c, i);
    if (i + 3 <= off && memcmp(data + i, want, 3) == 0) named = 1;
  }
  REQUIRE(named, "dtype %s read from a header that does not contain it", want);
  const int64_t numel = numel_of(a->ndim, a->shape);
  const int64_t esize = a->dtype == CONVT3D_F32 ? 4 : 8;
  REQUIRE(numel >= 0 && numel <= (int64_t)size, "element count %lld for a %zu-byte file",
          (long long)numel, size);
  REQUIRE((uint64_t)(numel * esize) == size - off, "%lld elements of %lld bytes, but %zu "
          "bytes follow the header", (long long)numel, (long long)esize, size - off);
  REQUIRE(memcmp(a->data, data + off, size - off) == 0, "data differ from the file's bytes");
}

/* Writes a to out_path, checks the file's layout, reads it back and compares. */
static void check_round_trip(const convt3d_array *a) {
  convt3d_status st = convt3d_npy_write(out_path, a);
  REQUIRE(st == CONVT3D_OK, "writing back a read array failed: %s", convt3d_last_error());
  size_t size = 0, hstart = 0;
  uint8_t *file = read_file(out_path, &size);
  const size_t off = data_offset(file, size, &hstart);
  REQUIRE(off != 0 && off <= size && file[6] == 1, "the writer's preamble is malformed");
  REQUIRE(off % 64 == 0 && file[off - 1] == '\n', "the writer's header is not padded to "
          "64 bytes and ended by '\\n' (data offset %zu)", off);
  free(file);

  convt3d_array b;
  st = convt3d_npy_read(out_path, &b);
  REQUIRE(st == CONVT3D_OK, "reading back a written array failed: %s", convt3d_last_error());
  REQUIRE(b.dtype == a->dtype && b.ndim == a->ndim, "dtype/ndim changed in the round trip");
  REQUIRE(memcmp(b.shape, a->shape, sizeof b.shape[0] * (size_t)a->ndim) == 0,
          "shape changed in the round trip");
  const int64_t bytes = numel_of(a->ndim, a->shape) * (a->dtype == CONVT3D_F32 ? 4 : 8);
  REQUIRE(memcmp(b.data, a->data, (size_t)bytes) == 0, "data changed in the round trip");
  convt3d_array_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  write_file(in_path, data, size);
  convt3d_array a;
  memset(&a, 0xA5, sizeof a); /* garbage: the reader must set every field it reports */
  convt3d_array none;
  (void)convt3d_npy_read(NULL, &none); /* arms the message a failure must replace */
  const convt3d_status st = convt3d_npy_read(in_path, &a);
  if (st != CONVT3D_OK) {
    REQUIRE(st == CONVT3D_ERR_BAD_FILE || st == CONVT3D_ERR_TOO_LARGE, "status %d (%s): %s",
            (int)st, convt3d_status_string(st), convt3d_last_error());
    REQUIRE(a.data == NULL && a.ndim == 0, "a failed read left data %p, ndim %d", a.data,
            a.ndim);
    const char *msg = convt3d_last_error();
    REQUIRE(strcmp(msg, armed_message) != 0 && strstr(msg, in_path) != NULL,
            "a failed read left the message '%s', which does not name the file", msg);
    return 0;
  }
  check_described(&a, data, size);
  check_round_trip(&a);
  convt3d_array_free(&a);
  REQUIRE(a.data == NULL && a.ndim == 0, "convt3d_array_free left data");
  convt3d_array_free(&a); /* a second free is a no-op */
  return 0;
}
