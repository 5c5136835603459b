/* Tests of the .npy reader and writer: round trips, files laid out byte for byte as numpy
 * writes them (versions 1.0, 2.0, 3.0), every kind of malformed file, and writes that
 * fail without touching the target. Needs no Python: numpy's bytes are spelled out here. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "convt3d.h"

static char dir[64]; /* the scratch directory, from mkdtemp */

static void in_dir(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const void *bytes, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  CHECK(fwrite(bytes, 1, len, f) == len);
  CHECK(fclose(f) == 0);
}

/* The whole file, malloc'd (NULL if it cannot be read); *len gets its size. */
static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = path ? fopen(path, "rb") : NULL;
  if (!f) return NULL;
  unsigned char *buf = malloc(1 << 20);
  *len = buf ? fread(buf, 1, 1 << 20, f) : 0;
  fclose(f);
  return buf;
}

/* Scratch-directory entries whose name contains needle (NULL: all entries). */
static int count_entries(const char *needle) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!needle || strstr(e->d_name, needle)))
      n++;
  if (d) closedir(d);
  return n;
}

/* A .npy file as numpy lays it out: magic, version, header length, then the dict padded
 * with spaces and a final '\n' to a multiple of 64 bytes, then the data. */
static size_t make_npy(unsigned char *out, int major, const char *dict, size_t dlen,
                       const void *data, size_t nbytes) {
  size_t pre = major == 1 ? 10 : 12, hlen = dlen + 1;
  hlen += (64 - (pre + hlen) % 64) % 64;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (unsigned char)major;
  out[7] = 0;
  for (size_t b = 0; b < pre - 8; b++) out[8 + b] = (unsigned char)(hlen >> (8 * b));
  memset(out + pre, ' ', hlen);
  memcpy(out + pre, dict, dlen);
  out[pre + hlen - 1] = '\n';
  if (nbytes) memcpy(out + pre + hlen, data, nbytes);
  return pre + hlen + nbytes;
}

/* Reads path and checks the failure: status, a message naming the file (and needle),
 * and an array left empty. */
static void expect_read_fail(const char *label, const char *path, convt3d_status want,
                             const char *needle) {
  static int sentinel;
  convt3d_array a = {.ndim = 3, .data = &sentinel};
  convt3d_status st = convt3d_npy_read(path, &a);
  const char *msg = convt3d_last_error();
  CHECKF(st == want, "%s: status %d (%s), want %d; message: %s", label, (int)st,
         convt3d_status_string(st), (int)want, msg);
  CHECKF(msg[0] != '\0' && strstr(msg, path) != NULL, "%s: message '%s'", label, msg);
  CHECKF(!needle || strstr(msg, needle) != NULL, "%s: message '%s' lacks '%s'", label, msg,
         needle);
  CHECKF(a.ndim == 0 && a.data == NULL, "%s: array not reset", label);
  if (st == CONVT3D_OK) convt3d_array_free(&a);
}

static void expect_bytes_fail(const char *label, const void *bytes, size_t len,
                              convt3d_status want, const char *needle) {
  char path[128];
  in_dir(path, sizeof path, "bad.npy");
  write_file(path, bytes, len);
  expect_read_fail(label, path, want, needle);
}

/* A version 1.0 file with this header dict and 24 bytes of data (a (2, 3) float32). */
static void expect_dict_fail(const char *dict, convt3d_status want, const char *needle) {
  static const float data[6];
  unsigned char buf[4096];
  size_t len = make_npy(buf, 1, dict, strlen(dict), data, sizeof data);
  expect_bytes_fail(dict, buf, len, want, needle);
}

/* Reads a file with this header (any version) and checks dtype and shape. */
static void expect_dict_ok(int major, const char *dict, size_t dlen, convt3d_dtype dtype,
                           int ndim, const int64_t *shape, size_t nbytes) {
  static const unsigned char zeros[256];
  unsigned char buf[4096];
  char path[128];
  in_dir(path, sizeof path, "ok.npy");
  size_t len = make_npy(buf, major, dict, dlen, zeros, nbytes);
  write_file(path, buf, len);
  convt3d_array a;
  convt3d_status st = convt3d_npy_read(path, &a);
  CHECKF(st == CONVT3D_OK, "%.*s: %s", (int)dlen, dict, convt3d_last_error());
  if (st != CONVT3D_OK) return;
  CHECKF(a.dtype == dtype && a.ndim == ndim, "%.*s: dtype %d ndim %d", (int)dlen, dict,
         (int)a.dtype, a.ndim);
  for (int d = 0; d < ndim && d < a.ndim; d++) CHECK(a.shape[d] == shape[d]);
  CHECK(a.data != NULL);
  if (nbytes && a.data) CHECK(memcmp(a.data, zeros, nbytes) == 0);
  convt3d_array_free(&a);
  CHECK(a.data == NULL && a.ndim == 0);
}

static void test_round_trips(void) {
  static const int64_t shapes[][5] = {{0}, {0}, {3}, {2, 0, 4}, {1, 2, 3, 4, 5}};
  static const int ndims[] = {0, 1, 1, 3, 5};
  char path[128];
  in_dir(path, sizeof path, "rt.npy");
  for (int t = 0; t < 2; t++) {
    convt3d_dtype dtype = t == 0 ? CONVT3D_F32 : CONVT3D_F64;
    size_t es = t == 0 ? 4 : 8;
    for (int s = 0; s < 5; s++) {
      convt3d_array a = {.dtype = dtype, .ndim = ndims[s]};
      int64_t numel = 1;
      for (int d = 0; d < ndims[s]; d++) numel *= a.shape[d] = shapes[s][d];
      a.data = numel ? malloc((size_t)numel * es) : NULL;
      for (int64_t i = 0; i < numel; i++) {
        double v = i == 1 ? -0.0 : i == 2 ? INFINITY : i == 3 ? NAN : (double)i * 0.37 - 5;
        if (t == 0) ((float *)a.data)[i] = (float)v;
        else ((double *)a.data)[i] = v;
      }
      CHECKF(convt3d_npy_write(path, &a) == CONVT3D_OK, "write: %s", convt3d_last_error());
      struct stat sb;
      CHECK(stat(path, &sb) == 0 && (sb.st_size - numel * (int64_t)es) % 64 == 0);
      convt3d_array b;
      CHECKF(convt3d_npy_read(path, &b) == CONVT3D_OK, "read: %s", convt3d_last_error());
      CHECK(b.dtype == dtype && b.ndim == ndims[s]);
      CHECK(b.data != NULL); /* also for zero elements */
      for (int d = 0; d < ndims[s] && d < b.ndim; d++) CHECK(b.shape[d] == shapes[s][d]);
      if (b.data && numel) CHECK(memcmp(a.data, b.data, (size_t)numel * es) == 0);
      convt3d_array_free(&b);
      free(a.data);
    }
  }
  CHECK(count_entries(".tmp.") == 0);
}

/* numpy 1.24's np.save of np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1: the
 * dict, 20 spaces left for the first axis to grow, padding to 128 bytes and '\n'. */
static const char numpy_dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
static const unsigned char numpy_data[24] = {0, 0, 0x80, 0xbf, 0, 0, 0, 0xbf, 0, 0, 0, 0,
                                             0, 0, 0, 0x3f, 0, 0, 0x80, 0x3f, 0, 0, 0xc0, 0x3f};
static const float numpy_values[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};

static size_t numpy_file(unsigned char *out, int major) {
  size_t pre = major == 1 ? 10 : 12, hlen = 128 - pre;
  memcpy(out, major == 1 ? "\x93NUMPY\x01\x00\x76\x00" : "\x93NUMPY\x02\x00\x74\x00\x00\x00",
         pre);
  out[6] = (unsigned char)major;
  memset(out + pre, ' ', hlen);
  memcpy(out + pre, numpy_dict, strlen(numpy_dict));
  out[127] = '\n';
  memcpy(out + 128, numpy_data, sizeof numpy_data);
  return 128 + sizeof numpy_data;
}

static void test_numpy_files(void) {
  char path[128];
  in_dir(path, sizeof path, "numpy.npy");
  unsigned char buf[256];
  for (int major = 1; major <= 3; major++) {
    size_t len = numpy_file(buf, major);
    write_file(path, buf, len);
    convt3d_array a;
    CHECKF(convt3d_npy_read(path, &a) == CONVT3D_OK, "v%d: %s", major, convt3d_last_error());
    CHECK(a.dtype == CONVT3D_F32 && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3);
    CHECK(a.data && memcmp(a.data, numpy_values, sizeof numpy_values) == 0);
    /* Writing it back gives numpy's bytes (always version 1.0). */
    if (a.data) CHECK(convt3d_npy_write(path, &a) == CONVT3D_OK);
    size_t got_len;
    unsigned char *got = slurp(path, &got_len);
    numpy_file(buf, 1);
    CHECK(got && got_len == len && memcmp(got, buf, len) == 0);
    free(got);
    convt3d_array_free(&a);
  }
}

static void test_header_parsing(void) {
  const int64_t s23[] = {2, 3}, s5[] = {5}, s[32] = {1};
  const char *d;
  d = "{ \"shape\" :( 2 ,3 ) ,\n\t\"fortran_order\":False,'descr':\"<f8\"}";
  expect_dict_ok(1, d, strlen(d), CONVT3D_F64, 2, s23, 48);
  d = "{'descr':'<f4','fortran_order':False,'shape':(5,)}";
  expect_dict_ok(2, d, strlen(d), CONVT3D_F32, 1, s5, 20);
  d = "{'descr': '<f4', 'fortran_order': False, 'shape': ( ), }";
  expect_dict_ok(3, d, strlen(d), CONVT3D_F32, 0, s, 4);
  d = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,"
      " 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }";
  int64_t ones[32];
  for (int i = 0; i < 32; i++) ones[i] = 1;
  expect_dict_ok(1, d, strlen(d), CONVT3D_F64, 32, ones, 8);
  /* A zero-element shape whose other dims would overflow: numpy accepts it. */
  const int64_t big0[] = {INT64_C(4611686018427387904), INT64_C(4611686018427387904), 0};
  d = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, "
      "4611686018427387904, 0), }";
  expect_dict_ok(1, d, strlen(d), CONVT3D_F32, 3, big0, 0);

  const convt3d_status BAD = CONVT3D_ERR_BAD_FILE, BIG = CONVT3D_ERR_TOO_LARGE;
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False}", BAD, "missing key 'shape'");
  expect_dict_fail("{'fortran_order': False, 'shape': (2, 3)}", BAD, "missing key 'descr'");
  expect_dict_fail("{'descr': '<f4', 'shape': (2, 3)}", BAD, "'fortran_order'");
  expect_dict_fail("{}", BAD, "missing key");
  expect_dict_fail("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
                   BAD, "duplicate key 'descr'");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}",
                   BAD, "unknown key 'extra'");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", BAD, "True");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", BAD, "\"0\"");
  static const char *const dtypes[] = {">f4", ">f8", "<i4", "<f2", "|u1", "|O", "=f4",
                                       "|f4", "f4", "<c8", "<f16", "<U3", ""};
  for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++) {
    char dict[128], needle[16];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2, 3), }",
             dtypes[i]);
    snprintf(needle, sizeof needle, "'%s'", dtypes[i]);
    expect_dict_fail(dict, BAD, needle);
  }
  expect_dict_fail("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", BAD,
                   "big-endian");
  expect_dict_fail("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }",
                   BAD, "structured");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", BAD, "-3");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3), }", BAD, "2.0");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': ('2', 3), }", BAD, "'");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (None,), }", BAD, "None");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", BAD,
                   "not a tuple");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", BAD, "[");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, }", BAD, "}");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3), }", BAD, ",");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, "
                   "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,"
                   " 1), }", BAD, "more than 32");
  expect_dict_fail("hello", BAD, "\"hello\"");
  expect_dict_fail("", BAD, "end of the header");
  expect_dict_fail("{'descr': '<f4", BAD, "unterminated");
  expect_dict_fail("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2, 3), }", BAD,
                   "escape");
  expect_dict_fail("{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3), }", BAD, "':'");
  expect_dict_fail("{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3), }", BAD, "','");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x", BAD,
                   "after the closing");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", BAD,
                   "end of the header");
  expect_dict_fail("{descr: '<f4', 'fortran_order': False, 'shape': (2, 3), }", BAD, "descr");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\x80", BAD,
                   "0x80");
  expect_dict_fail("{'descr': '<f4\xc3\xa9', 'fortran_order': False, 'shape': (2, 3), }", BAD,
                   "0xc3");
  d = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\0";
  unsigned char buf[256];
  static const float zeros[6];
  expect_bytes_fail("NUL in header", buf,
                    make_npy(buf, 1, d, strlen(d) + 1, zeros, sizeof zeros), BAD, "0x00");

  /* Sizes: overflow is TOO_LARGE; a huge shape in a short file is BAD_FILE, checked
   * before any allocation. */
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)"
                   ", }", BIG, "99999999999999999999");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, "
                   "4294967296), }", BIG, "(4294967296, 4294967296)");
  expect_dict_fail("{'descr': '<f8', 'fortran_order': False, 'shape': "
                   "(2305843009213693952,), }", BIG, "2305843009213693952");
  expect_dict_fail("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, "
                   "1000000000), }", BAD, "truncated");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", BAD,
                   "truncated");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", BAD,
                   "trailing");
  expect_dict_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0, 3), }", BAD,
                   "trailing");
}

static void test_preamble(void) {
  const convt3d_status BAD = CONVT3D_ERR_BAD_FILE;
  unsigned char buf[256];
  size_t len = numpy_file(buf, 1);
  expect_bytes_fail("empty file", buf, 0, BAD, "truncated");
  expect_bytes_fail("5 bytes", buf, 5, BAD, "truncated");
  expect_bytes_fail("magic only", buf, 8, BAD, "truncated");
  expect_bytes_fail("text", "hello world, not numpy at all", 29, BAD, "magic");
  buf[5] = 'Z';
  expect_bytes_fail("bad magic", buf, len, BAD, "magic");
  buf[5] = 'Y';
  static const unsigned char versions[][2] = {{4, 0}, {1, 1}, {0, 0}, {2, 1}, {255, 0}};
  for (int v = 0; v < 5; v++) {
    char needle[32];
    snprintf(needle, sizeof needle, "version %u.%u", versions[v][0], versions[v][1]);
    buf[6] = versions[v][0];
    buf[7] = versions[v][1];
    expect_bytes_fail(needle, buf, len, BAD, needle);
  }
  buf[6] = 1;
  buf[7] = 0;
  expect_bytes_fail("header cut", buf, 100, BAD, "header length 118 exceeds");
  expect_bytes_fail("data cut", buf, len - 1, BAD, "truncated");
  buf[len] = 0;
  expect_bytes_fail("extra byte", buf, len + 1, BAD, "trailing");
  buf[8] = buf[9] = 0xff;
  expect_bytes_fail("v1 length lies", buf, len, BAD, "header length 65535 exceeds");
  len = numpy_file(buf, 2);
  expect_bytes_fail("v2 preamble cut", buf, 10, BAD, "truncated");
  buf[8] = buf[9] = buf[10] = buf[11] = 0xff;
  expect_bytes_fail("v2 length lies", buf, len, BAD, "header length 4294967295 exceeds");

  /* A header over the 1 MiB limit is refused before it is allocated or read. */
  size_t huge_len = ((size_t)2 << 20) + 12;
  unsigned char *huge = calloc(huge_len, 1);
  CHECK(huge != NULL);
  if (huge) {
    memcpy(huge, "\x93NUMPY\x02\x00\x00\x00\x20\x00", 12); /* length 2 MiB */
    expect_bytes_fail("huge header", huge, huge_len, BAD, "limit");
    free(huge);
  }

  char path[128];
  in_dir(path, sizeof path, "does-not-exist.npy");
  expect_read_fail("missing file", path, CONVT3D_ERR_IO, "No such file");
  expect_read_fail("directory", dir, CONVT3D_ERR_IO, "regular file");

  convt3d_array a = {.ndim = 2};
  CHECK(convt3d_npy_read(NULL, &a) == CONVT3D_ERR_INVALID_ARGUMENT && a.ndim == 0);
  CHECK(convt3d_npy_read(path, NULL) == CONVT3D_ERR_INVALID_ARGUMENT);
  CHECK(convt3d_last_error()[0] != '\0');
  convt3d_array_free(NULL);
  convt3d_array_free(&a);
  convt3d_array_free(&a); /* twice: data is NULL after the first */
  CHECK(a.data == NULL);
}

/* A failed write returns want, leaves the existing target byte-identical and no
 * temporary file behind. */
static void expect_write_fail(const char *label, const char *path, const convt3d_array *a,
                              convt3d_status want) {
  size_t before_len = 0, after_len = 0;
  unsigned char *before = slurp(path, &before_len);
  int entries = count_entries(NULL);
  convt3d_status st = convt3d_npy_write(path, a);
  const char *msg = convt3d_last_error();
  CHECKF(st == want, "%s: status %d, want %d: %s", label, (int)st, (int)want, msg);
  CHECKF(msg[0] != '\0', "%s: empty message", label);
  CHECKF(!path || strstr(msg, path), "%s: message '%s' lacks the path", label, msg);
  unsigned char *after = slurp(path, &after_len);
  CHECKF((!before && !after) || (before && after && before_len == after_len &&
                                 memcmp(before, after, before_len) == 0),
         "%s: target changed", label);
  CHECKF(count_entries(NULL) == entries && count_entries(".tmp.") == 0,
         "%s: files left behind", label);
  free(before);
  free(after);
}

static void test_write_failures(void) {
  char path[128], sub[128];
  float data[6] = {1, 2, 3, 4, 5, 6};
  convt3d_array good = {.dtype = CONVT3D_F32, .ndim = 2, .shape = {2, 3}, .data = data};
  in_dir(path, sizeof path, "target.npy");
  CHECK(convt3d_npy_write(path, &good) == CONVT3D_OK);

  const convt3d_status INV = CONVT3D_ERR_INVALID_ARGUMENT;
  convt3d_array a = good;
  expect_write_fail("NULL array", path, NULL, INV);
  expect_write_fail("NULL path", NULL, &good, INV);
  a.dtype = (convt3d_dtype)0;
  expect_write_fail("dtype 0", path, &a, INV);
  a.dtype = (convt3d_dtype)3;
  expect_write_fail("dtype 3", path, &a, INV);
  a = good;
  a.ndim = -1;
  expect_write_fail("ndim -1", path, &a, INV);
  a.ndim = CONVT3D_NPY_MAX_NDIM + 1;
  expect_write_fail("ndim 33", path, &a, INV);
  a = good;
  a.shape[1] = -3;
  expect_write_fail("negative dim", path, &a, INV);
  a = good;
  a.data = NULL;
  expect_write_fail("NULL data", path, &a, INV);
  a.shape[0] = INT64_C(1) << 62;
  expect_write_fail("overflow", path, &a, CONVT3D_ERR_TOO_LARGE);
  a.shape[1] = 0; /* zero elements: NULL data is fine */
  CHECKF(convt3d_npy_write(path, &a) == CONVT3D_OK, "%s", convt3d_last_error());
  CHECK(convt3d_npy_write(path, &good) == CONVT3D_OK);

  in_dir(sub, sizeof sub, "no-such-dir/x.npy");
  expect_write_fail("missing directory", sub, &good, CONVT3D_ERR_IO);
  in_dir(sub, sizeof sub, "subdir");
  CHECK(mkdir(sub, 0700) == 0);
  expect_write_fail("target is a directory", sub, &good, CONVT3D_ERR_IO);
  CHECK(rmdir(sub) == 0);

  /* A write that fails halfway (file size limit: write() fails with EFBIG). */
  static double big[1 << 16];
  convt3d_array large = {.dtype = CONVT3D_F64, .ndim = 1, .shape = {1 << 16}, .data = big};
  struct rlimit old, lim;
  CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
  lim = old;
  lim.rlim_cur = 4096;
  signal(SIGXFSZ, SIG_IGN);
  CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  expect_write_fail("file size limit", path, &large, CONVT3D_ERR_IO);
  CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
  CHECK(convt3d_npy_write(path, &large) == CONVT3D_OK);

  /* Permissions: 0666 less the umask, like any new file. */
  struct stat sb;
  mode_t mask = umask(022);
  CHECK(convt3d_npy_write(path, &good) == CONVT3D_OK);
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
  umask(077);
  CHECK(convt3d_npy_write(path, &good) == CONVT3D_OK);
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
  umask(mask);
  CHECK(count_entries(".tmp.") == 0);
}

static void remove_dir(void) {
  DIR *d = opendir(dir);
  char path[512];
  for (struct dirent *e; d && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path) != 0) rmdir(path);
  }
  if (d) closedir(d);
  CHECK(rmdir(dir) == 0);
}

int main(void) {
  strcpy(dir, "/tmp/test_npy.XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_round_trips();
  test_numpy_files();
  test_header_parsing();
  test_preamble();
  test_write_failures();
  remove_dir();
  return check_summary("test_npy");
}
