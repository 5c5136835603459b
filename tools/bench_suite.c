/* convt3d bench: the suite file reader.
 *
 * A suite is CSV (DESIGN.md): a header naming at least the columns below, in any order,
 * then one layer shape per line; other columns (`source`, ...) are ignored. The whole
 * file is read and checked before anything runs, so a typo on the last line costs
 * nothing, and every message names the file and line. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { EXIT_REJECTED = 2, EXIT_FAILED = 1, MAX_FIELDS = 64 };

bool bench_parse_i64(const char *s, int64_t *v) {
  while (*s == ' ')
    s++;
  if (!*s) return false;
  char *end;
  errno = 0;
  long long r = strtoll(s, &end, 10);
  while (*end == ' ')
    end++;
  if (errno || *end) return false;
  *v = (int64_t)r;
  return true;
}

static const char *const columns[] = {"name", "N",   "Cin", "Cout", "D",  "H",  "W",     "kD",
                                      "kH",   "kW",  "sD",  "sH",   "sW", "pD", "pH",    "pW",
                                      "opD",  "opH", "opW", "dD",   "dH", "dW", "groups"};
enum { NCOLS = sizeof columns / sizeof columns[0] };

/* Splits a CSV line in place (RFC 4180 quoting, so a `source` may hold commas). Returns
 * the field count, or -1 for an unterminated quote or more than MAX_FIELDS fields. The
 * write pointer never passes the read pointer, so unquoting in place is safe. */
static int csv_split(char *line, char *fields[MAX_FIELDS]) {
  char *r = line, *w = line;
  for (int n = 0; n < MAX_FIELDS;) {
    fields[n++] = w;
    if (*r == '"')
      for (r++;; r++) {
        if (!*r) return -1;
        if (*r == '"' && r[1] != '"') {
          r++;
          break;
        }
        if (*r == '"') r++;
        *w++ = *r;
      }
    while (*r && *r != ',')
      *w++ = *r++;
    const bool last = !*r++;
    *w++ = '\0';
    if (last) return n;
  }
  return -1;
}

int bench_read_suite(const char *path, bench_shape **shapes, int *count) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "convt3d bench: cannot open suite '%s': %s\n", path, strerror(errno));
    return EXIT_FAILED;
  }
  char *line = NULL, *fields[MAX_FIELDS];
  size_t cap = 0;
  int col[NCOLS], nheader = 0, rc = 0, lineno = 0, n = 0, alloc = 0;
  bench_shape *v = NULL;
  while (!rc && getline(&line, &cap, f) >= 0) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[strspn(line, " \t")]) continue; /* blank line */
    const int nf = csv_split(line, fields);
    if (nf < 0) {
      fprintf(stderr, "%s:%d: unterminated quote or over %d fields\n", path, lineno, MAX_FIELDS);
      rc = EXIT_REJECTED;
    } else if (!nheader) {
      nheader = nf;
      for (int c = 0; c < NCOLS && !rc; c++) {
        col[c] = -1;
        for (int i = 0; i < nf; i++)
          if (!strcmp(fields[i] + strspn(fields[i], " "), columns[c])) col[c] = i;
        if (col[c] < 0) {
          fprintf(stderr, "%s:%d: header lacks column '%s'\n", path, lineno, columns[c]);
          rc = EXIT_REJECTED;
        }
      }
    } else if (nf != nheader) {
      fprintf(stderr, "%s:%d: %d fields, but the header has %d\n", path, lineno, nf, nheader);
      rc = EXIT_REJECTED;
    } else {
      if (n == alloc) {
        alloc = alloc ? 2 * alloc : 32;
        bench_shape *nv = realloc(v, (size_t)alloc * sizeof *v);
        if (!nv) {
          fprintf(stderr, "convt3d bench: out of memory\n");
          rc = EXIT_FAILED;
          break;
        }
        v = nv;
      }
      rc = EXIT_REJECTED; /* until the row is proven good */
      bench_shape *s = &v[n];
      const char *name = fields[col[0]];
      int64_t val[NCOLS];
      int c = 1;
      for (; c < NCOLS && bench_parse_i64(fields[col[c]], &val[c]); c++)
        continue;
      if (!*name || strlen(name) > BENCH_NAME_MAX) {
        fprintf(stderr, "%s:%d: name must have 1 to %d characters\n", path, lineno, BENCH_NAME_MAX);
      } else if (c < NCOLS) {
        fprintf(stderr, "%s:%d: %s: column '%s' is '%s', not an integer\n", path, lineno, name,
                columns[c], fields[col[c]]);
      } else if (val[1] < 1 || val[2] < 1 || val[3] < 1 || val[22] < 1 || val[3] % val[22]) {
        /* PyTorch accepts a zero batch, but there is nothing to time then; Cout must split
         * into groups because the weight holds Cout/groups. */
        fprintf(stderr,
                "%s:%d: %s: the bench needs N, Cin, Cout, groups >= 1 and Cout divisible "
                "by groups (N %" PRId64 ", Cin %" PRId64 ", Cout %" PRId64 ", groups %" PRId64
                ")\n",
                path, lineno, name, val[1], val[2], val[3], val[22]);
      } else {
        snprintf(s->name, sizeof s->name, "%s", name);
        convt3d_problem *p = &s->p;
        convt3d_problem_init(p, CONVT3D_F32);
        p->input = (convt3d_shape){5, {val[1], val[2], val[4], val[5], val[6]}};
        p->weight = (convt3d_shape){5, {val[2], val[3] / val[22], val[7], val[8], val[9]}};
        p->has_bias = 1; /* the layers benchmarked (nnU-Net, ...) have bias */
        p->bias = (convt3d_shape){1, {val[3]}};
        for (int a = 0; a < 3; a++) {
          p->stride[a] = val[10 + a];
          p->padding[a] = val[13 + a];
          p->output_padding[a] = val[16 + a];
          p->dilation[a] = val[19 + a];
        }
        p->groups = val[22];
        convt3d_shape out;
        if (convt3d_output_shape(p, &out) != CONVT3D_OK)
          fprintf(stderr, "%s:%d: %s: %s\n", path, lineno, name, convt3d_last_error());
        else if (!out.dims[2] || !out.dims[3] || !out.dims[4])
          fprintf(stderr, "%s:%d: %s: empty output\n", path, lineno, name);
        else
          rc = 0, n++;
      }
    }
  }
  if (!rc && ferror(f)) {
    fprintf(stderr, "convt3d bench: cannot read suite '%s': %s\n", path, strerror(errno));
    rc = EXIT_FAILED;
  }
  if (!rc && !n) {
    fprintf(stderr, "%s: no shapes (a header line, then one line per shape)\n", path);
    rc = EXIT_REJECTED;
  }
  free(line);
  fclose(f);
  if (rc) free(v);
  *shapes = rc ? NULL : v;
  *count = rc ? 0 : n;
  return rc;
}
