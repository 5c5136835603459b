/* fuzz_cli: libFuzzer harness for the command line of tools/convt3d.c.
 *
 * The tool's source is compiled into this file, its main() renamed, and an input becomes
 * its argv: the bytes split at NUL bytes, at most MAX_ARGS arguments. The first must be
 * "run" or "info": `demo` and `bench` time large problems and are not fuzzed. Arguments
 * containing '/' are refused, and every file name the tool opens or writes is taken
 * inside a private scratch directory, which holds small .npy files under fixed names
 * (make_fixtures: x.npy, w.npy, b.npy, ...), so the fuzzer never reads or writes anywhere
 * else. Beyond "no crash, no leak, no undefined behaviour" it checks:
 * - the exit status is 0, 1 or 2 (info: 0 or 2), and a failure prints a message that
 *   names the command;
 * - `run` writes exactly one file when it succeeds (unless --help was asked for) and none
 *   when it fails: no partial output, no leftover temporary file (either would be a file
 *   too many); what it writes is a readable .npy file.
 * The tool's allocations over OUTPUT_CAP bytes fail here (as on a machine short of
 * memory), so a huge output is an out-of-memory exit rather than minutes of work.
 * FUZZ_CLI_VERBOSE=1 prints each run's arguments, exit status and messages. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "convt3d.h"
#include "random.h"

#define REQUIRE(cond, ...)                                                                \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "fuzz_cli: %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
      fprintf(stderr, __VA_ARGS__);                                                       \
      fputc('\n', stderr);                                                                \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

enum { MAX_ARGS = 24 };
#define OUTPUT_CAP ((size_t)8 << 20)

static char dir[4096]; /* the scratch directory */
static FILE *cli_stderr; /* the tool's stderr, captured per run */
static bool verbose;     /* $FUZZ_CLI_VERBOSE: print each run's argv, status and messages */

/* ------------------------------------------------- the tool, with its I/O redirected */

static void *cli_malloc(size_t n) { return n > OUTPUT_CAP ? NULL : malloc(n); }

/* A name given to the tool, as a path inside the scratch directory (names hold no '/'). */
static const char *scratch_path(const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s", dir, name);
  return buf;
}

static convt3d_status cli_npy_read(const char *name, convt3d_array *a) {
  char path[8192];
  return convt3d_npy_read(scratch_path(name, path, sizeof path), a);
}

static convt3d_status cli_npy_write(const char *name, const convt3d_array *a) {
  char path[8192];
  return convt3d_npy_write(scratch_path(name, path, sizeof path), a);
}

/* tools/bench.c stands behind `convt3d bench`, which the harness never runs. */
int bench_main(int argc, char **argv) {
  (void)argc, (void)argv;
  REQUIRE(0, "bench reached");
  return 1;
}

#define main convt3d_cli_main
#define malloc(n) cli_malloc(n)
#define convt3d_npy_read(path, array) cli_npy_read(path, array)
#define convt3d_npy_write(path, array) cli_npy_write(path, array)
#undef stderr
#define stderr cli_stderr
#include "convt3d.c"
#undef stderr
#define stderr stderr
#undef convt3d_npy_write
#undef convt3d_npy_read
#undef malloc
#undef main

int convt3d_cli_main(int argc, char **argv);

/* ------------------------------------------------------------- the fixtures */

typedef struct fixture {
  const char *name;
  int major;         /* .npy version; 0: `raw` holds the whole file */
  const char *descr; /* '<f4', '<f8', ... */
  const char *shape; /* as numpy writes it */
  int numel;         /* elements written after the header */
  const char *raw;
} fixture;

/* Valid inputs for a few problems (batched, unbatched, float64, empty batch, groups 2)
 * and files the tool must refuse. */
static const fixture fixtures[] = {
    {"x.npy", 1, "<f4", "(1, 2, 3, 3, 3)", 54, NULL},
    {"x4.npy", 1, "<f4", "(2, 3, 3, 3)", 54, NULL},
    {"xd.npy", 2, "<f8", "(1, 2, 3, 3, 3)", 54, NULL},
    {"w.npy", 1, "<f4", "(2, 2, 2, 2, 2)", 32, NULL},
    {"wd.npy", 3, "<f8", "(2, 2, 2, 2, 2)", 32, NULL},
    {"wg.npy", 1, "<f4", "(2, 1, 2, 2, 2)", 16, NULL},
    {"w3.npy", 1, "<f4", "(2, 2, 3)", 12, NULL},
    {"b.npy", 1, "<f4", "(2,)", 2, NULL},
    {"bd.npy", 1, "<f8", "(2,)", 2, NULL},
    {"b4.npy", 1, "<f4", "(4,)", 4, NULL},
    {"s.npy", 1, "<f4", "()", 1, NULL},
    {"i4.npy", 1, "<i4", "(1, 2, 3, 3, 3)", 54, NULL},
    {"big.npy", 2, "<f4", "(1000000000000,)", 1, NULL}, /* claims more than it holds */
    {"bad.npy", 0, NULL, NULL, 0, "not a .npy file\n"},
    /* an empty batch: once made plan create size its tiles by a huge output plane */
    {"x0.npy", 1, "<f4", "(0, 2, 3, 3, 3)", 0, NULL},
};
enum { ALL_FIXTURES = sizeof fixtures / sizeof fixtures[0] };
static const int num_fixtures = ALL_FIXTURES;
static ino_t fixture_inode[ALL_FIXTURES];

static void write_fixture(int i) {
  const fixture *fx = &fixtures[i];
  char path[8192];
  FILE *f = fopen(scratch_path(fx->name, path, sizeof path), "wb");
  REQUIRE(f != NULL, "cannot create %s: %s", path, strerror(errno));
  if (fx->major == 0) {
    fputs(fx->raw, f);
  } else {
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                       "'shape': %s, }", fx->descr, fx->shape);
    const int pre = fx->major == 1 ? 10 : 12, total = (pre + len + 1 + 63) / 64 * 64;
    const int hlen = total - pre;
    fwrite("\x93NUMPY", 1, 6, f);
    fputc(fx->major, f);
    fputc(0, f);
    for (int b = 0; b < pre - 8; b++) fputc(b < 2 ? (hlen >> (8 * b)) & 0xff : 0, f);
    fprintf(f, "%s%*s\n", dict, hlen - len - 1, "");
    for (int e = 0; e < fx->numel; e++) { /* small integers, as in the C tests */
      const int v = (e * 7 + i) % 5 - 2;
      if (fx->descr[2] == '4') {
        const float x = (float)v;
        fwrite(&x, 4, 1, f);
      } else {
        const double x = v;
        fwrite(&x, 8, 1, f);
      }
    }
  }
  REQUIRE(fclose(f) == 0, "cannot write %s", path);
  struct stat sb;
  REQUIRE(stat(path, &sb) == 0, "cannot stat %s", path);
  fixture_inode[i] = sb.st_ino;
}

static void remove_scratch(void) {
  char path[8192];
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      remove(scratch_path(e->d_name, path, sizeof path));
  if (d) closedir(d);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fuzz_cli.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    fprintf(stderr, "fuzz_cli: cannot create a scratch directory %s: %s\n", dir,
            strerror(errno));
    exit(1);
  }
  atexit(remove_scratch);
  verbose = getenv("FUZZ_CLI_VERBOSE") != NULL;
  for (int i = 0; i < num_fixtures; i++) write_fixture(i);
  char path[8192];
  REQUIRE(mkdir(scratch_path("d", path, sizeof path), 0700) == 0, "cannot create %s", path);
  /* The tool's stdout (info, --help) is of no interest; libFuzzer and the sanitizers
   * report on stderr, which stays. */
  const int null_fd = open("/dev/null", O_WRONLY);
  REQUIRE(null_fd >= 0 && dup2(null_fd, STDOUT_FILENO) >= 0, "cannot silence stdout");
  close(null_fd);
  return 0;
}

/* ------------------------------------------------------------------ a run */

/* Looks at what a run left in the scratch directory and puts the fixtures back. Returns
 * the number of files the run wrote (new names, or fixtures replaced). */
static int collect_outputs(void) {
  int written = 0;
  char path[8192];
  DIR *d = opendir(dir);
  REQUIRE(d != NULL, "cannot list %s", dir);
  for (struct dirent *e; (e = readdir(d));) {
    const char *name = e->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "d")) continue;
    int i = 0;
    while (i < num_fixtures && strcmp(name, fixtures[i].name)) i++;
    struct stat sb;
    REQUIRE(stat(scratch_path(name, path, sizeof path), &sb) == 0, "cannot stat %s", path);
    if (i < num_fixtures && sb.st_ino == fixture_inode[i]) continue;
    written++;
    convt3d_array a;
    REQUIRE(convt3d_npy_read(path, &a) == CONVT3D_OK, "the output %s does not read back: %s",
            name, convt3d_last_error());
    convt3d_array_free(&a);
    if (i < num_fixtures) write_fixture(i);
    else REQUIRE(remove(path) == 0, "cannot remove %s", path);
  }
  closedir(d);
  return written;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (memchr(data, '/', size)) return 0;
  /* argv: "convt3d", then the NUL-separated arguments, each in its own exact-size block
   * so that ASan sees a read past one. */
  char *argv[MAX_ARGS + 2] = {"convt3d"};
  int argc = 1;
  bool help = false;
  for (size_t start = 0; start < size && argc <= MAX_ARGS; argc++) {
    const uint8_t *nul = memchr(data + start, 0, size - start);
    const size_t len = nul ? (size_t)(nul - (data + start)) : size - start;
    argv[argc] = malloc(len + 1);
    REQUIRE(argv[argc] != NULL, "out of memory");
    memcpy(argv[argc], data + start, len);
    argv[argc][len] = '\0';
    help = help || !strcmp(argv[argc], "--help") || !strcmp(argv[argc], "-h");
    start += len + 1;
  }
  argv[argc] = NULL;
  const bool run = argc >= 2 && !strcmp(argv[1], "run");
  const bool info = argc >= 2 && !strcmp(argv[1], "info");
  if (run || info) {
    char *err = NULL;
    size_t err_len = 0;
    cli_stderr = open_memstream(&err, &err_len);
    REQUIRE(cli_stderr != NULL, "open_memstream failed");
    const int rc = convt3d_cli_main(argc, argv);
    REQUIRE(fclose(cli_stderr) == 0, "cannot close the captured stderr");
    const int written = collect_outputs();
    if (verbose) {
      fprintf(stderr, "fuzz_cli:");
      for (int i = 1; i < argc; i++) fprintf(stderr, " '%s'", argv[i]);
      fprintf(stderr, "\n  exit %d, %d file(s) written, stderr: %s", rc, written,
              err_len ? err : "(empty)\n");
    }
    REQUIRE(rc == 0 || rc == 2 || (rc == 1 && run), "exit status %d", rc);
    REQUIRE(rc == 0 || (err_len > 0 && !strncmp(err, "convt3d", 7)),
            "exit status %d with the message '%s'", rc, err ? err : "");
    if (run) {
      REQUIRE(rc == 0 || written == 0, "a failed run (exit %d: %s) wrote %d files", rc, err,
              written);
      REQUIRE(rc != 0 || written == 1 || (written == 0 && help),
              "a successful run wrote %d files", written);
    }
    free(err);
  }
  for (int i = 1; i < argc; i++) free(argv[i]);
  return 0;
}
