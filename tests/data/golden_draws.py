#!/usr/bin/env python3
"""Writes tests/data/golden_draws.tsv: the value each of faultline's sampling transforms must
give for the first draws of the stream (seed 1, entity "golden", purpose "draws"), computed
here at 60 significant digits with Python's decimal module, independently of any C library.

Input: the draws, as the bits of IEEE 754 doubles (tests/data/golden_draws_in.tsv, pinned by
tests/golden.rs against the stream itself). Output columns: the kind, the input bits, and the
exact value of the transform of those doubles, to 25 significant digits:
  exp     u          -ln(u)                          (an exponential draw of mean 1)
  normal  u1  u2     sqrt(-2 ln u1) cos(2 pi u2)     (Box-Muller, cosine branch)
and, in nanoseconds, the draws of three distributions of tests/golden.rs:
  uniform    u        1e6 + 4e6 u                     (U(1 ms, 5 ms))
  lognormal  u1  u2   exp(ln 2e7 + (ln 10 / z99) z)   (median 20 ms, p99 200 ms; z as normal)
  mixture    u  [v]   1e7 if u < 0.5, else -1e9 ln v  (half 10 ms, half exp(mean 1 s))
where z99 = Phi^-1(0.99), found here by bisection on Phi written out from the erf series.
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


def phi(x):
    # Phi(x) = (1 + erf(x / sqrt 2)) / 2, erf by its Taylor series (fine for |x| < 3).
    y = x / Decimal(2).sqrt()
    total, term, n = Decimal(0), y, 0
    while abs(term) > Decimal(10) ** -70:
        total += term / (2 * n + 1)
        n += 1
        term = -term * y * y / n
    return (1 + 2 / PI.sqrt() * total) / 2


def z99():
    lo, hi = Decimal(2), Decimal(3)
    for _ in range(220):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if phi(mid) < Decimal("0.99") else (lo, mid)
    return lo


Z99 = z99()


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


def normal(u1, u2):
    return (-2 * u1.ln()).sqrt() * cos(2 * PI * u2)


def main():
    rows = []
    for line in (HERE / "golden_draws_in.tsv").read_text().splitlines():
        kind, *bits = line.split("\t")
        us = [from_bits(b) for b in bits]
        if kind == "exp":
            v = -us[0].ln()
        elif kind == "normal":
            v = normal(*us)
        elif kind == "uniform":
            v = 1000000 + 4000000 * us[0]
        elif kind == "lognormal":
            v = (Decimal(20000000).ln() + Decimal(10).ln() / Z99 * normal(*us)).exp()
        else:
            v = Decimal(10000000) if us[0] < Decimal("0.5") else -1000000000 * us[1].ln()
        rows.append("\t".join([kind, *bits, format(v, ".25g")]))
    (HERE / "golden_draws.tsv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
