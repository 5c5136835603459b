/* Status strings and the per-thread failure message. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

/* One message per thread: a failure on one thread never overwrites another's. 512 bytes
 * hold the longest message the library formats (a descriptor plus two shapes). */
static _Thread_local char last_error[512];

convt3d_status cvt_fail(convt3d_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return status;
}

void cvt_clear_error(void) { last_error[0] = '\0'; }

const char *convt3d_last_error(void) { return last_error; }

const char *convt3d_status_string(convt3d_status status) {
  switch (status) {
  case CONVT3D_OK: return "success";
  case CONVT3D_ERR_INVALID_ARGUMENT: return "invalid argument";
  case CONVT3D_ERR_OUT_OF_MEMORY: return "out of memory";
  case CONVT3D_ERR_TOO_LARGE: return "problem too large";
  case CONVT3D_ERR_IO: return "I/O error";
  case CONVT3D_ERR_BAD_FILE: return "malformed or unsupported file";
  }
  return "unknown status";
}
