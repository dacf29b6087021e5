"""Independent reference for faultline's trace hash v1 (src/engine/hash.rs).

Written from the formula in the doc comment, with Python integers, so the Rust implementation is
checked against a second implementation rather than against its own earlier output.
"""
M64 = (1 << 64) - 1
MUL = 0x9E3779B97F4A7C15
ADD = 0x2545F4914F6CDD1D


def fold(h, w):
    p = (((h ^ w) + ADD) & M64) * MUL
    return (p & M64) ^ (p >> 64)


def record(h, time_ns, kind, entity, request):
    h = fold(h, time_ns)
    h = fold(h, (kind << 32) | entity)
    return fold(h, request)


h = 0x6661756C74
h = record(h, 0, 0, 0, 0)
print(f"REF_ONE = {h:#x}")
h = record(h, 1_000_000_000, 3, 7, 42)
print(f"REF_TWO = {h:#x}")
