#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus, tests/fuzz/corpus/<harness>/ (committed; rerun this
after changing an input format). Plain Python, no numpy: the .npy bytes are spelled out
as numpy lays them out (magic, version, header length, a dict padded with spaces and a
final newline to a multiple of 64 bytes, then the data)."""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INT64_MAX = 2**63 - 1
INT64_MIN = -2**63


def npy(major, dict_text, data=b"", align=64):
    pre = 10 if major == 1 else 12
    head = dict_text.encode("latin-1")
    hlen = len(head) + 1
    hlen += (align - (pre + hlen) % align) % align
    head = head + b" " * (hlen - len(head) - 1) + b"\n"
    size = struct.pack("<H", hlen) if major == 1 else struct.pack("<I", hlen)
    return b"\x93NUMPY" + bytes([major, 0]) + size + head + data


def header(descr="<f4", shape="(2, 3)", fortran="False"):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def floats(n, fmt="<f"):
    return b"".join(struct.pack(fmt, (i % 5) - 2) for i in range(n))


def npy_corpus():
    f4, f8 = (lambda n: floats(n, "<f")), (lambda n: floats(n, "<d"))
    c = {
        # valid: every version and dtype, ranks 0 to 5, empty arrays, numpy's variants
        "v1_f4_2x3.npy": npy(1, header("<f4", "(2, 3)"), f4(6)),
        "v1_f8_4.npy": npy(1, header("<f8", "(4,)"), f8(4)),
        "v2_f4_1x2x2.npy": npy(2, header("<f4", "(1, 2, 2)"), f4(4)),
        "v3_f8_scalar.npy": npy(3, header("<f8", "()"), f8(1)),
        "v1_f4_empty_0x5.npy": npy(1, header("<f4", "(0, 5)")),
        "v1_f4_5d.npy": npy(1, header("<f4", "(1, 2, 1, 2, 1)"), f4(4)),
        "v1_dquotes_order.npy": npy(1, '{"shape": (3,), "fortran_order": False, "descr": "<f8"}',
                                    f8(3)),
        "v1_no_trailing_comma.npy": npy(1, "{'descr':'<f4','fortran_order':False,'shape':(2,)}",
                                        f4(2)),
        "v1_unaligned.npy": npy(1, header("<f4", "(1,)"), f4(1), align=1),
        "v1_huge_zero_dims.npy": npy(1, header("<f4", "(9223372036854775807, 0, 4611686018427387904)")),
        "v2_32dims.npy": npy(2, header("<f4", "(" + "1, " * 32 + ")"), f4(1)),
        # malformed
        "bad_truncated_data.npy": npy(1, header("<f4", "(2, 3)"), f4(5)),
        "bad_trailing_bytes.npy": npy(1, header("<f4", "(2,)"), f4(3)),
        "bad_big_endian.npy": npy(1, header(">f4", "(2,)"), f4(2)),
        "bad_fortran.npy": npy(1, header("<f4", "(2, 2)", "True"), f4(4)),
        "bad_int32.npy": npy(1, header("<i4", "(2,)"), f4(2)),
        "bad_unknown_key.npy": npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                                   f4(1)),
        "bad_duplicate_key.npy": npy(1, "{'descr': '<f4', 'descr': '<f4', 'shape': (1,)}", f4(1)),
        "bad_missing_key.npy": npy(1, "{'descr': '<f4', 'shape': (1,)}", f4(1)),
        "bad_not_tuple.npy": npy(1, header("<f4", "(5)"), f4(5)),
        "bad_negative_dim.npy": npy(1, header("<f4", "(-1,)")),
        "bad_float_dim.npy": npy(1, header("<f4", "(2.0,)"), f4(2)),
        "bad_overflow_dim.npy": npy(1, header("<f4", "(99999999999999999999,)")),
        "bad_overflow_numel.npy": npy(1, header("<f8", "(4294967296, 4294967296)")),
        "bad_huge_shape_short_file.npy": npy(2, header("<f4", "(1000000000000,)"), f4(1)),
        "bad_33dims.npy": npy(1, header("<f4", "(" + "1, " * 33 + ")"), f4(1)),
        "bad_non_ascii.npy": npy(1, header("<f4", "(1,)").replace("descr", "d\xe9scr"), f4(1)),
        "bad_escape.npy": npy(1, header("<f4", "(1,)").replace("<f4", "<f\\x34"), f4(1)),
        "bad_structured.npy": npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
                                  f4(1)),
        "bad_version4.npy": b"\x93NUMPY\x04\x00" + npy(1, header())[8:],
        "bad_hlen_too_long.npy": b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{}",
        "bad_hlen_short.npy": b"\x93NUMPY\x01\x00\x04\x00{'descr'",
        "bad_magic_only.npy": b"\x93NUMPY",
        "bad_not_npy.npy": b"PK\x03\x04 a zip file, not an array",
        "empty.npy": b"",
    }
    return c


# ------------------------------------------------------------------ fuzz_api
EDGE = [-1, -2, INT64_MIN, INT64_MAX, INT64_MAX - 1, INT64_MAX // 2, INT64_MAX // 3,
        1 << 31, (1 << 31) - 1, 1 << 32, 1 << 62, (1 << 62) + 1, 3037000499, 3037000500,
        2097151, 2097152, 1 << 40, -(1 << 62), 2**31 - 1, -2**31, 2**32 - 1, 65535, 65536,
        1000000007, 4096, 4097, 1024, 1025, 255, 256, 17, INT64_MIN + 1]


def i64(v):
    """fuzz_api.c's take_i64, inverted."""
    if 0 <= v < 16:
        return bytes([v])
    if v in EDGE:
        return bytes([0xA0 + EDGE.index(v)])
    if 16 <= v < 272:
        return bytes([0xC0, v - 16])
    return bytes([0xE0]) + struct.pack("<q", v)


def rank(r, usual):
    if r == usual:
        return b"\x00"
    return bytes([0xC0 + [0, 1, 2, 3, 4, 5, 6, -1].index(r)])


def problem(x, w, s=(1, 1, 1), p=(0, 0, 0), op=(0, 0, 0), d=(1, 1, 1), g=1, bias=None,
            f64=False, tail=b"\x00\x00\x2a\x00\x00\x00"):
    """The binary form of decode_problem; tail: output-size mode, cut, seed, algorithm,
    isa, threads."""
    out = b"\x00" + (b"\x03" if f64 else b"\x00")
    out += rank(len(x), 5) + b"".join(i64(v) for v in list(x) + [0] * (5 - len(x)))
    out += rank(len(w), 5) + b"".join(i64(v) for v in list(w) + [0] * (5 - len(w)))
    out += (b"\x01" if bias is not None else b"\x00") + b"\x00" + i64(bias or 0)
    for t in (s, p, op, d):
        out += b"".join(i64(v) for v in t)
    return out + i64(g) + b"\x00" + tail


def api_corpus():
    c = {
        # valid, small enough to run
        "k3s2p1op1.bin": problem((1, 2, 3, 3, 3), (2, 3, 3, 3, 3), (2, 2, 2), (1, 1, 1),
                                 (1, 1, 1), bias=3),
        "k2s2_f64.bin": problem((2, 3, 2, 2, 2), (3, 2, 2, 2, 2), (2, 2, 2), f64=True, bias=2),
        "groups2.bin": problem((1, 4, 2, 3, 2), (4, 1, 2, 2, 1), g=2, bias=2,
                               tail=b"\x00\x05\x07\x02\x01\x02"),
        "depthwise.bin": problem((1, 3, 4, 4, 4), (3, 1, 3, 3, 3), (2, 2, 2), (1, 1, 1), g=3,
                                 tail=b"\x00\x09\x01\x03\x03\x00"),
        "unbatched.bin": problem((2, 3, 3, 3), (2, 2, 2, 2, 2), (1, 2, 3), (0, 1, 0),
                                 tail=b"\x00\x00\x03\x03\x02\x01"),
        "empty_batch.bin": problem((0, 2, 3, 3, 3), (2, 2, 2, 2, 2), bias=2),
        "dilation.bin": problem((1, 1, 4, 4, 4), (1, 2, 3, 3, 3), (1, 1, 1), (2, 2, 2),
                                d=(2, 3, 1), tail=b"\x00\x00\x11\x02\x02\x00"),
        "op_below_dilation.bin": problem((1, 1, 3, 3, 3), (1, 1, 2, 2, 2), (1, 1, 1),
                                         op=(1, 1, 1), d=(2, 2, 2)),
        "stride_gt_kernel.bin": problem((1, 2, 3, 3, 3), (2, 2, 1, 1, 1), (3, 3, 3),
                                        op=(2, 2, 2), tail=b"\x00\x00\x05\x03\x01\x04"),
        "wide_rows.bin": problem((1, 1, 1, 2, 40), (1, 16, 2, 2, 2), (2, 2, 2),
                                 tail=b"\x00\x00\x06\x03\x03\x01"),
        "padding_beyond_kernel.bin": problem((1, 1, 6, 6, 6), (1, 1, 2, 2, 2), (1, 1, 1),
                                             (1, 1, 1)),
        "output_size_offset.bin": problem((1, 1, 3, 3, 3), (1, 1, 3, 3, 3), (3, 3, 3),
                                          tail=b"\x80\x02\xff\x01\x00\x00\x00\x00\x00"),
        # valid, too large to run: checks and descriptors only
        "readme_example.bin": problem((2, 16, 8, 8, 8), (16, 8, 3, 3, 3), (2, 2, 2), (1, 1, 1),
                                      (1, 1, 1), bias=8),
        "output_near_int64_max.bin": problem((1, 1, 1, 1, 2), (1, 1, 1, 1, 1),
                                             (1, 1, INT64_MAX // 2)),
        # invalid
        "rank3_input.bin": problem((1, 2, 3), (2, 2, 2, 2, 2)),
        "rank6_weight.bin": b"\x00\x00\x00" + bytes(5) + b"\xc6" + bytes(40),
        "negative_dim.bin": problem((1, -1, 3, 3, 3), (2, 2, 2, 2, 2)),
        "groups0.bin": problem((1, 2, 3, 3, 3), (2, 2, 2, 2, 2), g=0),
        "groups_not_dividing.bin": problem((1, 3, 3, 3, 3), (3, 2, 2, 2, 2), g=2),
        "cin_mismatch.bin": problem((1, 3, 3, 3, 3), (2, 2, 2, 2, 2)),
        "bias_mismatch.bin": problem((1, 2, 3, 3, 3), (2, 2, 2, 2, 2), bias=3),
        "op_too_large.bin": problem((1, 2, 3, 3, 3), (2, 2, 2, 2, 2), (2, 2, 2), op=(2, 0, 0)),
        "output_below_one.bin": problem((1, 1, 1, 1, 1), (1, 1, 1, 1, 1), p=(1, 0, 0)),
        "stride_int64_max.bin": problem((1, 1, 3, 3, 3), (1, 1, 3, 3, 3), (INT64_MAX, 1, 1)),
        "cout_overflow.bin": problem((1, 2, 1, 1, 1), (2, INT64_MAX // 2, 1, 1, 1), g=2),
        "dims_int64_max.bin": problem((INT64_MAX, 1, 1, 1, 1), (1, 1, 1, 1, 1)),
        "numel_overflow.bin": problem((3037000500, 1, 3037000500, 1, 1), (1, 1, 1, 1, 1)),
        "padding_int64_min.bin": problem((1, 1, 3, 3, 3), (1, 1, 3, 3, 3), p=(INT64_MIN, 0, 0)),
        "dtype_invalid.bin": b"\x00\x06" + problem((1, 1, 1, 1, 1), (1, 1, 1, 1, 1))[2:],
        "empty_input_extent.bin": problem((1, 1, 0, 3, 3), (1, 1, 1, 1, 1)),
        "empty_kernel.bin": problem((1, 1, 3, 3, 3), (1, 1, 0, 1, 1)),
        "empty.bin": b"",
    }
    # descriptors (first byte odd), then the bytes that drive the checks
    descs = [
        "f32_mb2_ic16_oc33_g1_i8x8x8_k3x3x3_s2x2x2_p1x1x1_op1x1x1_d1x1x1_bias",
        "f64_nb_ic4_oc6_g2_i3x2x3_k2x2x2_s1x2x1_p0x0x1_op0x1x0_d1x1x2_nobias",
        "f32_mb1_ic2_oc2_g1_i3x3x3_k2x2x2_s2x2x2_p0x0x0_op0x0x0_d1x1x1_bias",
        "f32_mb0_ic2_oc4_g2_i2x2x2_k1x1x1_s1x1x1_p0x0x0_op0x0x0_d1x1x1_nobias",
        "f32_mb9223372036854775807_ic1_oc1_g1_i1x1x1_k1x1x1_s1x1x1_p0x0x0_op0x0x0_d1x1x1_nobias",
        "f64_mb1_ic1_oc3_g2_i1x1x1_k1x1x1_s1x1x1_p0x0x0_op0x0x0_d1x1x1_bias",
        "f32_rank3-input_rank5-weight",
        "f16_mb1_ic1_oc1_g1_i1x1x1_k1x1x1_s1x1x1_p0x0x0_op0x0x0_d1x1x1_bias",
    ]
    for i, d in enumerate(descs):
        c["desc%d.txt" % i] = b"\x01" + d.encode() + b"\x00\x00\x00\x05\x01\x02\x03"
    return c


# ------------------------------------------------------------------ fuzz_cli
def argv(*args):
    return b"\x00".join(a.encode() for a in args)


def cli_corpus():
    base = ("run", "--input", "x.npy", "--weight", "w.npy")
    return {
        "run_plain": argv(*base, "--output", "y.npy"),
        "run_all_options": argv(*base, "--bias", "b.npy", "--stride", "2", "--padding", "1",
                                "--output-padding", "1", "--dilation", "1", "--groups", "1",
                                "--output", "y.npy"),
        "run_equals_triples": argv("run", "--input=x.npy", "--weight=w.npy", "--stride=1,2,3",
                                   "--padding=0,1,0", "--dilation=2,1,1", "--output=y.npy"),
        "run_output_size": argv(*base, "--stride", "2", "--output-size", "5,6,5",
                                "--output", "y.npy"),
        "run_groups": argv("run", "--input", "x.npy", "--weight", "wg.npy", "--groups", "2",
                           "--bias", "b.npy", "--output", "y.npy"),
        "run_f64": argv("run", "--input", "xd.npy", "--weight", "wd.npy", "--bias", "bd.npy",
                        "--output", "y.npy"),
        "run_unbatched": argv("run", "--input", "x4.npy", "--weight", "w.npy", "--output", "o"),
        "run_empty_batch": argv("run", "--input", "x0.npy", "--weight", "w.npy",
                                "--output", "y.npy"),
        "run_overwrite_input": argv(*base, "--output", "x.npy"),
        "run_help": argv("run", "--help"),
        # rejected
        "run_mixed_dtypes": argv("run", "--input", "x.npy", "--weight", "wd.npy",
                                 "--output", "y.npy"),
        "run_bias_mismatch": argv(*base, "--bias", "b4.npy", "--output", "y.npy"),
        "run_weight_rank3": argv("run", "--input", "x.npy", "--weight", "w3.npy",
                                 "--output", "y.npy"),
        "run_scalar_input": argv("run", "--input", "s.npy", "--weight", "w.npy",
                                 "--output", "y.npy"),
        "run_int32_file": argv("run", "--input", "i4.npy", "--weight", "w.npy",
                               "--output", "y.npy"),
        "run_huge_claim": argv("run", "--input", "big.npy", "--weight", "w.npy",
                               "--output", "y.npy"),
        "run_not_npy": argv(*base, "--bias", "bad.npy", "--output", "y.npy"),
        "run_missing_file": argv("run", "--input", "nope.npy", "--weight", "w.npy",
                                 "--output", "y.npy"),
        "run_directory_input": argv("run", "--input", "d", "--weight", "w.npy",
                                    "--output", "y.npy"),
        "run_output_directory": argv(*base, "--output", "d"),
        "run_output_empty_name": argv(*base, "--output", "", "--stride", "1"),
        "run_both_op_and_size": argv(*base, "--output-padding", "0", "--output-size", "4,4,4",
                                     "--output", "y.npy"),
        "run_bad_output_size": argv(*base, "--output-size", "1,1,1", "--output", "y.npy"),
        "run_twice": argv(*base, "--stride", "1", "--stride", "2", "--output", "y.npy"),
        "run_missing_value": argv(*base, "--output"),
        "run_unknown": argv(*base, "--strde", "2", "--output", "y.npy"),
        "run_missing_required": argv("run", "--input", "x.npy", "--output", "y.npy"),
        "run_stride_int64_max": argv(*base, "--stride", "9223372036854775807",
                                     "--output", "y.npy"),
        "run_stride_overflow": argv(*base, "--stride", "1,1,99999999999999999999",
                                    "--output", "y.npy"),
        "run_huge_output": argv(*base, "--stride", "1,1,400000", "--output", "y.npy"),
        "run_negative_padding": argv(*base, "--padding", "-1", "--output", "y.npy"),
        "run_four_values": argv(*base, "--dilation", "1,1,1,1", "--output", "y.npy"),
        "run_groups_zero": argv(*base, "--groups", "0", "--output", "y.npy"),
        "run_groups_text": argv(*base, "--groups", " 1", "--output", "y.npy"),
        "info": argv("info"),
        "info_help": argv("info", "--help"),
        "info_extra": argv("info", "extra"),
    }


def main():
    out = os.path.join(HERE, "corpus")
    for name, files in (("fuzz_npy", npy_corpus()), ("fuzz_api", api_corpus()),
                        ("fuzz_cli", cli_corpus())):
        d = os.path.join(out, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for fname, data in files.items():
            with open(os.path.join(d, fname), "wb") as f:
                f.write(data)
        print("%s: %d files" % (d, len(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
