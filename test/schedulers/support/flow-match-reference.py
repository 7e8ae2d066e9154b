"""Reference values for test/schedulers/flow-match-euler.test.ts.

diffusers' FlowMatchEulerDiscreteScheduler formulas (scheduling_flow_match_euler_discrete.py at
58eb52c) and SD3 img2img's get_timesteps, evaluated with numpy: float32 where diffusers computes
with torch tensors, float64 where it computes with numpy. Run: python3 flow-match-reference.py
"""

import math

import numpy as np

f32 = np.float32


def train_schedule(T, shift, dynamic):
    t = np.linspace(1, T, T, dtype=np.float32)[::-1].copy()
    s = (t / f32(T)).astype(np.float32)
    if not dynamic:
        s = (f32(shift) * s / (f32(1) + f32(shift - 1) * s)).astype(np.float32)
    return s


def set_timesteps(n, T=1000, shift=1.0, dynamic=False, mu=None, kind="exponential", terminal=None, karras=False):
    train = train_schedule(T, shift, dynamic)
    smax, smin = float(train[0]), float(train[-1])
    sig = np.linspace(smax * T, smin * T, n) / T
    if dynamic:
        e = math.exp(mu) if kind == "exponential" else mu
        sig = e / (e + (1 / sig - 1) ** 1.0)
    else:
        sig = shift * sig / (1 + (shift - 1) * sig)
    if terminal:
        omz = 1 - sig
        sig = 1 - omz / (omz[-1] / (1 - terminal))
    if karras:
        rho = 7.0
        ramp = np.linspace(0, 1, n)
        lo, hi = sig[-1] ** (1 / rho), sig[0] ** (1 / rho)
        sig = (hi + ramp * (lo - hi)) ** rho
    sig = sig.astype(np.float32)
    ts = (sig * f32(T)).astype(np.float32)
    return ts, np.concatenate([sig, np.zeros(1, dtype=np.float32)])


def deterministic(flip):
    n = 4 * 3 * 8 * 8
    x = np.arange(n, dtype=np.float32)
    if flip:
        x = x[::-1].copy()
    x = x.reshape(3, 8, 8, 4) / f32(n)
    return x.transpose(3, 0, 1, 2).astype(np.float32)


def dummy_model(x, t):
    return (x * f32(t) / f32(t + 1)).astype(np.float32)


def full_loop(n, **kw):
    ts, sig = set_timesteps(n, **kw)
    x = deterministic(False)
    for i, t in enumerate(ts):
        v = dummy_model(x, t)
        x = (x + (sig[i + 1] - sig[i]) * v).astype(np.float32)
    a = np.abs(x.astype(np.float64))
    return a.sum(), a.mean()


def calculate_shift(seq, base=256, mx=4096, bs=0.5, ms=1.15):
    m = (ms - bs) / (mx - base)
    return seq * m + (bs - m * base)


print("sd3 28 steps timesteps", [repr(float(v)) for v in set_timesteps(28, shift=3.0)[0][[0, 1, 2, -1]]])
print("sd3 28 steps last sigma", repr(float(set_timesteps(28, shift=3.0)[1][-2])))
print("full loop shift 3, 10 steps", full_loop(10, shift=3.0))
print("full loop shift 1, 10 steps", full_loop(10, shift=1.0))
mu = calculate_shift(1024)
print("mu(1024)", repr(mu))
print("dynamic 10 steps sigmas", [repr(float(v)) for v in set_timesteps(10, dynamic=True, mu=mu)[1]])
print("dynamic linear 4 steps", [repr(float(v)) for v in set_timesteps(4, dynamic=True, mu=mu, kind="linear")[1]])
print("terminal 0.1, shift 3, 6 steps", [repr(float(v)) for v in set_timesteps(6, shift=3.0, terminal=0.1)[1]])
print("karras shift 3, 6 steps", [repr(float(v)) for v in set_timesteps(6, shift=3.0, karras=True)[1]])
n, strength = 28, 0.6
t_start = int(max(n - min(n * strength, n), 0))
ts, sig = set_timesteps(n, shift=3.0)
x, noise = deterministic(False), deterministic(True)
noised = (sig[t_start] * noise + (f32(1) - sig[t_start]) * x).astype(np.float32)
print("img2img 28 @ 0.6: t_start", t_start, "first timestep", repr(float(ts[t_start])), "noised abs sum", np.abs(noised.astype(np.float64)).sum())
