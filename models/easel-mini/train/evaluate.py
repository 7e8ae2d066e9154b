#!/usr/bin/python3
"""Sample easel-mini with DDIM (diffusers' DDIMScheduler math, v-prediction, x0 clipping,
classifier-free guidance) and score the pictures with pixel statistics.

  /usr/bin/python3 models/easel-mini/train/evaluate.py --ckpt /tmp/easel-mini/ckpt.pt --steps 25 --guidance 1.5

Scoring of one 32x32 RGB picture (uint8), as the TS engine test should do it:
  background  median colour of the 2-pixel border ring -> nearest palette colour (Euclidean RGB)
  foreground  pixels farther than 60 from that median colour; the largest 4-connected component
  shape colour  median colour of the component -> nearest palette colour
  shape       soft coverage c = clamp(dot(p-bg, fg-bg)/|fg-bg|^2, 0, 1) over the component's bounding box
              grown by one pixel; fill = sum(c) / (max row sum of c * max column sum of c);
              fill < 0.67 triangle, < 0.90 circle, else square   (ideal: 0.5, pi/4, 1)
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scenes  # noqa: E402
import tokenizer as tk  # noqa: E402
from common import ALPHAS_CUMPROD, NUM_TRAIN_TIMESTEPS, load_checkpoint  # noqa: E402
from model import shuffle  # noqa: E402

PAL = np.array([scenes.PALETTE[c] for c in scenes.COLOURS], dtype=np.float32)
FG_THRESHOLD = 60.0
TRI_MAX, CIRCLE_MAX = 0.67, 0.9


# ------------------------------------------------------------------ DDIM (diffusers semantics, eta = 0)
def ddim_timesteps(n, spacing="trailing", steps_offset=1):
    T = NUM_TRAIN_TIMESTEPS
    if spacing == "trailing":
        return (np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1)
    if spacing == "leading":
        r = T // n
        return (np.arange(0, n) * r).round()[::-1].astype(np.int64) + steps_offset
    if spacing == "linspace":
        return np.linspace(0, T - 1, n).round()[::-1].astype(np.int64)
    raise ValueError(spacing)


def ddim_step(v, t, x, n, clip_range):
    acp = ALPHAS_CUMPROD
    prev_t = t - NUM_TRAIN_TIMESTEPS // n
    a_t = acp[t]
    a_prev = acp[prev_t] if prev_t >= 0 else acp[0]  # set_alpha_to_one = False
    b_t = 1 - a_t
    x0 = a_t.sqrt() * x - b_t.sqrt() * v
    eps = a_t.sqrt() * v + b_t.sqrt() * x
    if clip_range is not None:
        x0 = x0.clamp(-clip_range, clip_range)
    return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps


@torch.no_grad()
def sample(te, unet, S, prompts, seeds, steps=25, guidance=1.5, clip_range="S", spacing="trailing", h=16, w=16,
           batch=128):
    """Returns uint8 images [N,32,32,3] (N = len(prompts); seeds[i] seeds prompt i's noise)."""
    clip = S if clip_range == "S" else clip_range
    uncond = te(torch.tensor([tk.encode("")], dtype=torch.int32))[0]
    out = []
    for i0 in range(0, len(prompts), batch):
        ps, ss = prompts[i0:i0 + batch], seeds[i0:i0 + batch]
        cond = te(torch.tensor([tk.encode(p) for p in ps], dtype=torch.int32))[0]
        B = len(ps)
        ctx = torch.cat([uncond.expand(B, -1, -1), cond])
        x = torch.stack([torch.randn(12, h, w, generator=torch.Generator().manual_seed(int(s))) for s in ss])
        for t in ddim_timesteps(steps, spacing):
            t = int(t)
            v = unet(torch.cat([x, x]), torch.full((2 * B,), float(t)), ctx)
            vu, vc = v.chunk(2)
            v = vu + guidance * (vc - vu)
            x = ddim_step(v, t, x, steps, clip)
        img = shuffle(x / S)
        img = ((img / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        out.append(img)
    return np.concatenate(out)


# ------------------------------------------------------------------ scoring
def nearest(rgb):
    return scenes.COLOURS[int(np.argmin(((PAL - rgb) ** 2).sum(1)))]


def largest_component(mask):
    H, W = mask.shape
    seen = np.zeros_like(mask, dtype=bool)
    best = []
    for y in range(H):
        for x in range(W):
            if mask[y, x] and not seen[y, x]:
                comp, stack = [], [(y, x)]
                seen[y, x] = True
                while stack:
                    cy, cx = stack.pop()
                    comp.append((cy, cx))
                    for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                        if 0 <= ny < H and 0 <= nx < W and mask[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            stack.append((ny, nx))
                if len(comp) > len(best):
                    best = comp
    return best


def analyse(img):
    """img uint8 [H,W,3] -> dict(bg, fg, shape, fill)."""
    im = img.astype(np.float32)
    H, W, _ = im.shape
    ring = np.ones((H, W), dtype=bool)
    ring[2:H - 2, 2:W - 2] = False
    bgc = np.median(im[ring], axis=0)
    d = np.sqrt(((im - bgc) ** 2).sum(-1))
    comp = largest_component(d > FG_THRESHOLD)
    res = {"bg": nearest(bgc), "fg": None, "shape": None, "fill": None}
    if len(comp) < 4:
        return res
    ys = np.array([p[0] for p in comp]); xs = np.array([p[1] for p in comp])
    fgc = np.median(im[ys, xs], axis=0)
    res["fg"] = nearest(fgc)
    y0, y1 = max(ys.min() - 1, 0), min(ys.max() + 2, H)
    x0, x1 = max(xs.min() - 1, 0), min(xs.max() + 2, W)
    dirv = fgc - bgc
    c = ((im[y0:y1, x0:x1] - bgc) @ dirv) / max(float(dirv @ dirv), 1e-6)
    c = np.clip(c, 0, 1)
    fill = float(c.sum() / max(c.sum(1).max() * c.sum(0).max(), 1e-6))
    res["fill"] = fill
    res["shape"] = "triangle" if fill < TRI_MAX else "circle" if fill < CIRCLE_MAX else "square"
    return res


CAPTION_STYLES = [  # the caption styles of scenes.py that name the background
    lambda fg, sh, bg: f"{scenes.article(fg)} {fg} {sh} on {scenes.article(bg)} {bg} background",
    lambda fg, sh, bg: f"{fg} {sh}, {bg} background",
    lambda fg, sh, bg: f"{scenes.article(fg)} {fg} {sh} on {bg}",
    lambda fg, sh, bg: f"{bg} background with {scenes.article(fg)} {fg} {sh}",
    lambda fg, sh, bg: f"a picture of {scenes.article(fg)} {fg} {sh} on {scenes.article(bg)} {bg} background",
    lambda fg, sh, bg: f"{scenes.article(fg)} {fg} {sh} in front of {scenes.article(bg)} {bg} background",
    lambda fg, sh, bg: f"{fg} {sh} on {bg} background",
]


def eval_prompts(n_seeds=3):
    """72 prompts (3 shapes x 8 colours x 3 backgrounds, the 7 caption styles in turn) x n_seeds seeds."""
    items = []
    k = 0
    for si, shape in enumerate(scenes.SHAPES):
        for fi, fg in enumerate(scenes.COLOURS):
            for j in range(3):
                bg = scenes.COLOURS[(fi + 1 + (3 * j + si + fi) % 7) % 8]
                p = CAPTION_STYLES[k % len(CAPTION_STYLES)](fg, shape, bg)
                k += 1
                for s in range(n_seeds):
                    items.append({"prompt": p, "fg": fg, "shape": shape, "bg": bg, "seed": 1000 + 17 * k + s})
    return items


def score(items, imgs):
    n = len(items)
    ok = {"fg": 0, "bg": 0, "shape": 0, "all": 0}
    per_shape = {s: [0, 0] for s in scenes.SHAPES}
    for it, img in zip(items, imgs):
        r = analyse(img)
        it["got"] = r
        f, b, s = r["fg"] == it["fg"], r["bg"] == it["bg"], r["shape"] == it["shape"]
        ok["fg"] += f; ok["bg"] += b; ok["shape"] += s; ok["all"] += f and b and s
        per_shape[it["shape"]][0] += s; per_shape[it["shape"]][1] += 1
    res = {k: v / n for k, v in ok.items()}
    res["n"] = n
    res["shape_by_kind"] = {k: v[0] / v[1] for k, v in per_shape.items()}
    return res


def grid(imgs, cols, tile=256, path=None):
    from PIL import Image
    rows = (len(imgs) + cols - 1) // cols
    g = Image.new("RGB", (cols * tile, rows * tile), (255, 255, 255))
    for i, a in enumerate(imgs):
        g.paste(Image.fromarray(a).resize((tile, tile), Image.NEAREST), ((i % cols) * tile, (i // cols) * tile))
    if path:
        g.save(path)
    return g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="/tmp/easel-mini/ckpt.pt")
    ap.add_argument("--raw", action="store_true")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, nargs="+", default=[1.5])
    ap.add_argument("--clip", default="S", help="'S' (pixels to [-1,1]), 'none', or a number")
    ap.add_argument("--spacing", default="trailing")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--grid", default=None, help="save a grid of the first pictures here")
    ap.add_argument("--truth", action="store_true", help="score rendered training scenes (checks the scorer)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    items = eval_prompts(args.seeds)
    if args.truth:
        gen = torch.Generator().manual_seed(5)
        n = len(items)
        p = scenes.sample_scene_params(n, gen)
        img, _ = scenes.render(*p)
        imgs = ((img / 2 + 0.5).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
        for i, it in enumerate(items):
            it.update(fg=scenes.COLOURS[p[1][i]], shape=scenes.SHAPES[p[0][i]], bg=scenes.COLOURS[p[2][i]])
        r = score(items, imgs)
        print("ground truth:", json.dumps(r))
        fills = {}
        for it in items:
            fills.setdefault(it["shape"], []).append(it["got"]["fill"])
        for k, v in fills.items():
            print(k, f"fill min {min(v):.3f} mean {np.mean(v):.3f} max {max(v):.3f}")
        return
    te, unet, ck = load_checkpoint(args.ckpt, ema=not args.raw)
    S = ck["scaling_factor"]
    clip = "S" if args.clip == "S" else None if args.clip == "none" else float(args.clip)
    print(f"checkpoint step {ck['step']} ({ck['trained_s'] / 60:.1f} min), {len(items)} samples "
          f"({len(items) // args.seeds} prompts x {args.seeds} seeds), steps {args.steps}, clip {args.clip}, "
          f"spacing {args.spacing}")
    allres = {}
    for g in args.guidance:
        imgs = sample(te, unet, S, [it["prompt"] for it in items], [it["seed"] for it in items],
                      steps=args.steps, guidance=g, clip_range=clip, spacing=args.spacing)
        r = score(items, imgs)
        allres[g] = r
        print(f"guidance {g}: fg {r['fg']:.3f} bg {r['bg']:.3f} shape {r['shape']:.3f} all {r['all']:.3f} "
              f"by shape {json.dumps({k: round(v, 3) for k, v in r['shape_by_kind'].items()})}", flush=True)
        if args.grid:
            grid(imgs[: 8 * 9: 1], 9, tile=64, path=args.grid.replace(".png", f"-g{g}.png"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ckpt_step": ck["step"], "minutes": ck["trained_s"] / 60, "steps": args.steps,
                       "clip": args.clip, "spacing": args.spacing, "results": allres}, f, indent=1)


if __name__ == "__main__":
    main()
