"""Procedural scenes for easel-mini: one anti-aliased shape on a plain background.

Images are 32x32 RGB.  Shapes are drawn on a 4x supersampled grid and averaged
down (box filter), so edges carry fractional coverage.  Every shape's bounding
box is s x s (s uniform in [SIZE_MIN, SIZE_MAX] pixels), its centre uniform within
+-JITTER pixels of the image centre and the box at least MARGIN pixels inside the
image, so the border always shows the background.  Circles, axis-aligned squares,
upright isosceles triangles (apex up, base = height = s).  The shape colour and the
background colour are always different.
"""
import math
import random

import torch

IMAGE_SIZE = 32
SUPERSAMPLE = 4
SIZE_MIN, SIZE_MAX = 15.0, 22.0
MARGIN = 3.0
JITTER = 2.0  # the shape's centre is within +-JITTER pixels of the image centre (and MARGIN inside)

# Distinct colours, 0-255 RGB.
PALETTE = {
    "red": (220, 25, 25),
    "green": (35, 170, 50),
    "blue": (35, 70, 225),
    "yellow": (245, 230, 40),
    "purple": (140, 40, 190),
    "orange": (250, 130, 0),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
COLOURS = list(PALETTE)
SHAPES = ["circle", "square", "triangle"]
# Fill ratio of the shape in its bounding box.
FILL = {"circle": math.pi / 4, "square": 1.0, "triangle": 0.5}

_PAL = torch.tensor([PALETTE[c] for c in COLOURS], dtype=torch.float32) / 127.5 - 1.0  # [-1,1]


def article(word):
    return "an" if word[0] in "aeiou" else "a"


def caption(fg, shape, bg, rng, with_bg=True):
    """One caption variant.  with_bg=False: the caption does not name the background."""
    a = article(fg)
    if with_bg:
        t = rng.randrange(8)
        if t == 0:
            return f"{a} {fg} {shape} on {article(bg)} {bg} background"
        if t == 1:
            return f"{fg} {shape}, {bg} background"
        if t == 2:
            return f"{a} {fg} {shape} on {bg}"
        if t == 3:
            return f"{bg} background with {a} {fg} {shape}"
        if t == 4:
            return f"a picture of {a} {fg} {shape} on {article(bg)} {bg} background"
        if t == 5:
            return f"{a} {fg} {shape} on {article(bg)} {bg} background."
        if t == 6:
            return f"{a} {fg} {shape} in front of {article(bg)} {bg} background"
        return f"{fg} {shape} on {bg} background"
    t = rng.randrange(5)
    if t == 0:
        return f"{a} {fg} {shape}"
    if t == 1:
        return f"{fg} {shape}"
    if t == 2:
        return f"a picture of {a} {fg} {shape}"
    if t == 3:
        return f"{a} {fg} {shape}."
    return f"a drawing of {a} {fg} {shape}"


def render(shape_idx, fg_idx, bg_idx, size, cx, cy):
    """Render a batch.  All args are 1-D tensors of length B.  Returns [B,3,32,32] in [-1,1]
    and the coverage [B,1,32,32] in [0,1]."""
    B = shape_idx.shape[0]
    n = IMAGE_SIZE * SUPERSAMPLE
    g = (torch.arange(n, dtype=torch.float32) + 0.5) / SUPERSAMPLE  # pixel units
    y = g.view(1, n, 1)
    x = g.view(1, 1, n)
    s = size.view(B, 1, 1)
    cx = cx.view(B, 1, 1)
    cy = cy.view(B, 1, 1)
    dx = x - cx
    dy = y - cy
    h = s / 2
    circle = (dx * dx + dy * dy) <= h * h
    square = (dx.abs() <= h) & (dy.abs() <= h)
    # upright isosceles triangle: apex (cx, cy-h), base y = cy+h from cx-h to cx+h
    triangle = (dy <= h) & (dx.abs() <= (dy + h) / 2)
    si = shape_idx.view(B, 1, 1)
    mask = torch.where(si == 0, circle, torch.where(si == 1, square, triangle)).float()
    cov = torch.nn.functional.avg_pool2d(mask.unsqueeze(1), SUPERSAMPLE)  # [B,1,32,32]
    fg = _PAL[fg_idx].view(B, 3, 1, 1)
    bg = _PAL[bg_idx].view(B, 3, 1, 1)
    img = bg * (1 - cov) + fg * cov
    return img, cov


def sample_scene_params(B, gen):
    """Random scene parameters (torch generator for reproducibility)."""
    shape_idx = torch.randint(0, len(SHAPES), (B,), generator=gen)
    fg_idx = torch.randint(0, len(COLOURS), (B,), generator=gen)
    off = torch.randint(1, len(COLOURS), (B,), generator=gen)
    bg_idx = (fg_idx + off) % len(COLOURS)  # always different from fg
    size = SIZE_MIN + (SIZE_MAX - SIZE_MIN) * torch.rand(B, generator=gen)
    c = IMAGE_SIZE / 2
    lo = torch.clamp(MARGIN + size / 2, min=c - JITTER)
    hi = torch.clamp(IMAGE_SIZE - MARGIN - size / 2, max=c + JITTER)
    cx = lo + (hi - lo) * torch.rand(B, generator=gen)
    cy = lo + (hi - lo) * torch.rand(B, generator=gen)
    return shape_idx, fg_idx, bg_idx, size, cx, cy


def batch(B, gen, rng, p_drop=0.1, p_no_bg=0.25, return_cov=False):
    """A training batch: images [B,3,32,32] in [-1,1] and captions (list of str) (and the coverage)."""
    shape_idx, fg_idx, bg_idx, size, cx, cy = sample_scene_params(B, gen)
    img, cov = render(shape_idx, fg_idx, bg_idx, size, cx, cy)
    caps = []
    for i in range(B):
        u = rng.random()
        if u < p_drop:
            caps.append("")
        else:
            caps.append(caption(COLOURS[fg_idx[i]], SHAPES[shape_idx[i]], COLOURS[bg_idx[i]], rng,
                                with_bg=rng.random() >= p_no_bg))
    if return_cov:
        return img, caps, cov
    return img, caps


if __name__ == "__main__":
    from PIL import Image
    gen = torch.Generator().manual_seed(0)
    rng = random.Random(0)
    img, caps = batch(16, gen, rng)
    arr = ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    tiles = [Image.fromarray(a).resize((128, 128), Image.NEAREST) for a in arr]
    grid = Image.new("RGB", (128 * 4, 128 * 4))
    for i, t in enumerate(tiles):
        grid.paste(t, ((i % 4) * 128, (i // 4) * 128))
    grid.save("/tmp/scenes.png")
    print("\n".join(caps))
