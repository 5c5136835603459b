/* A minimal test harness: CHECK records a failure with its location and goes on, so one
 * run reports every broken expectation; check_summary() prints the totals and gives the
 * process exit status. */
#ifndef CONVT3D_TESTS_CHECK_H
#define CONVT3D_TESTS_CHECK_H

#include <stdio.h>

static int check_count;
static int check_failures;

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    check_count++;                                                                       \
    if (!(cond)) {                                                                       \
      check_failures++;                                                                  \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
    }                                                                                    \
  } while (0)

/* CHECK with a printf-style explanation printed on failure. */
#define CHECKF(cond, ...)                                                                \
  do {                                                                                   \
    check_count++;                                                                       \
    if (!(cond)) {                                                                       \
      check_failures++;                                                                  \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);           \
      fprintf(stderr, __VA_ARGS__);                                                      \
      fputc('\n', stderr);                                                               \
    }                                                                                    \
  } while (0)

static inline int check_summary(const char *name) {
  printf("%s: %d passed, %d failed\n", name, check_count - check_failures, check_failures);
  return check_failures == 0 && check_count > 0 ? 0 : 1;
}

#endif
