#!/usr/bin/env python3
"""Writes tests/data/golden_draws.tsv: the value each of faultline's sampling transforms must
give for the first draws of the stream (seed 1, entity "golden", purpose "draws"), computed
here at 60 significant digits with Python's decimal module, independently of any C library.

Input: the draws (tests/data/golden_draws_in.tsv, pinned by tests/golden.rs against the stream
itself): uniforms as the bits of IEEE 754 doubles, and for an exponential the 64-bit words the
ziggurat took. Output columns: the kind, the inputs, and the exact value of the transform of
those inputs, to 25 significant digits:
  exp     w...       the ziggurat's draw from words w (an exponential of mean 1; see zig())
  zig     w...       the same, from words chosen by hand (not drawn from the stream) to take
                     the tail, a wedge's acceptance, and a wedge's rejection then a new word
  normal  u1  u2     sqrt(-2 ln u1) cos(2 pi u2)     (Box-Muller, cosine branch)
and, in nanoseconds, the draws of three distributions of tests/golden.rs:
  uniform    u        1e6 + 4e6 u                     (U(1 ms, 5 ms))
  lognormal  u1  u2   exp(ln 2e7 + (ln 10 / z99) z)   (median 20 ms, p99 200 ms; z as normal)
  mixture    u  [w...] 1e7 if u < 0.5, else 1e9 zig(w) (half 10 ms, half exp(mean 1 s))
where z99 = Phi^-1(0.99), found here by bisection on Phi written out from the erf series.
Run: python3 tests/data/golden_draws.py
"""
import struct
from decimal import Decimal, getcontext
from pathlib import Path

from zig_table import layers

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


# The ziggurat's layers as the sampler holds them: the 60-digit values rounded to doubles.
_R, _, _X, _F = layers()
R, X, F = (Decimal(float(v)) for v in [_R]), [Decimal(float(v)) for v in _X], [Decimal(float(v)) for v in _F]
R = next(R)
TWO53 = Decimal(2) ** 53


def zig(words):
    """Marsaglia and Tsang's ziggurat (src/model/zig.rs) on `words`, in exact arithmetic on the
    doubles of its table: the layer from the low 8 bits, the point from the top 53; below the
    next layer's width, the point; in layer 0 beyond it, R - ln u with u from the next word in
    (0, 1]; elsewhere a height in the layer from the next word, under exp(-x) the point, else
    the next word starts again. Every word must be used."""
    words = iter(words)
    while True:
        w = next(words)
        i = w & 0xFF
        x = Decimal(w >> 11) / TWO53 * X[i]
        if x < X[i + 1]:
            v = x
            break
        if i == 0:
            v = R - (Decimal((1 << 53) - (next(words) >> 11)) / TWO53).ln()
            break
        y = F[i] + Decimal(next(words) >> 11) / TWO53 * (F[i + 1] - F[i])
        if y < (-x).exp():
            v = x
            break
    assert next(words, None) is None, "a row holds one draw's words"
    return v


def main():
    rows = []
    for line in (HERE / "golden_draws_in.tsv").read_text().splitlines():
        kind, *bits = line.split("\t")
        us = [from_bits(b) for b in bits]
        if kind in ("exp", "zig"):
            v = zig(int(b, 16) for b in bits)
        elif kind == "normal":
            v = normal(*us)
        elif kind == "uniform":
            v = 1000000 + 4000000 * us[0]
        elif kind == "lognormal":
            v = (Decimal(20000000).ln() + Decimal(10).ln() / Z99 * normal(*us)).exp()
        else:
            v = Decimal(10000000) if us[0] < Decimal("0.5") else 1000000000 * zig(int(b, 16) for b in bits[1:])
        rows.append("\t".join([kind, *bits, format(v, ".25g")]))
    (HERE / "golden_draws.tsv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
