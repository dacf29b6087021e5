#!/usr/bin/env python3
"""Writes tests/data/golden_draws.tsv: the value each of faultline's sampling transforms must
give for the first draws of the stream (seed 1, entity "golden", purpose "draws"), computed
here at 60 significant digits with Python's decimal module, independently of any C library.

Input: the draws, as the bits of IEEE 754 doubles (tests/data/golden_draws_in.tsv, pinned by
tests/golden.rs against the stream itself). Output columns: the kind, the input bits, and the
exact value of the transform of those doubles, to 25 significant digits:
  exp     u          -ln(u)                          (an exponential draw of mean 1)
  normal  u1  u2     sqrt(-2 ln u1) cos(2 pi u2)     (Box-Muller, cosine branch)
Run: python3 tests/data/golden_draws.py
"""
import struct
from decimal import Decimal, getcontext
from pathlib import Path

getcontext().prec = 60
HERE = Path(__file__).parent


def from_bits(h):
    return Decimal(struct.unpack(">d", bytes.fromhex(h))[0])  # exact: every double is a decimal


def pi():
    # Machin: pi = 16 atan(1/5) - 4 atan(1/239), each by its Taylor series.
    def atan_inv(n):
        x, n2, total, k, sign = Decimal(1) / n, n * n, Decimal(0), 1, 1
        term = x
        while term != 0:
            total += sign * term / k
            term /= n2
            k += 2
            sign = -sign
        return total
    return 16 * atan_inv(5) - 4 * atan_inv(239)


PI = pi()


def cos(x):
    # Reduce to [-pi, pi], then the Taylor series.
    two_pi = 2 * PI
    x = x - two_pi * (x / two_pi).to_integral_value()
    total, term, k = Decimal(1), Decimal(1), 0
    while abs(term) > Decimal(10) ** -70:
        k += 2
        term = -term * x * x / ((k - 1) * k)
        total += term
    return total


def main():
    rows = []
    for line in (HERE / "golden_draws_in.tsv").read_text().splitlines():
        kind, *bits = line.split("\t")
        if kind == "exp":
            v = -from_bits(bits[0]).ln()
        else:
            u1, u2 = (from_bits(b) for b in bits)
            v = (-2 * u1.ln()).sqrt() * cos(2 * PI * u2)
        rows.append("\t".join([kind, *bits, format(v, ".25g")]))
    (HERE / "golden_draws.tsv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
