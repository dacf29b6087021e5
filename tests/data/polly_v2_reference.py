"""Independent reference for Polly v8's decorrelated jitter V2 (src/policy/backoff.rs).

From Polly.Core's RetryHelper: t = attempt + u; next = 2^t * tanh(sqrt(4 t));
delay = (next - prev) * (1/1.4) * base; prev = next; attempts count from 0.
"""
import math

base_ns = 1_000_000_000
prev = 0.0
out = []
for attempt in range(3):
    t = attempt + 0.5
    nxt = 2 ** t * math.tanh(math.sqrt(4 * t))
    out.append(int((nxt - prev) * (1 / 1.4) * base_ns))
    prev = nxt
print(out)
