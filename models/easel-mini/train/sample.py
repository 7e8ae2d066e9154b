#!/usr/bin/python3
"""Draw a labelled grid of easel-mini pictures (PyTorch, the same DDIM math as evaluate.py).

  /usr/bin/python3 models/easel-mini/train/sample.py --ckpt /tmp/easel-mini/ckpt.pt --out docs/easel-mini-sample.png
"""
import argparse
import os
import sys

import torch
from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import load_checkpoint  # noqa: E402
from evaluate import analyse, sample  # noqa: E402

PROMPTS = [
    "a red circle on a blue background",
    "a yellow square on a purple background",
    "a white triangle on a black background",
    "an orange circle on a green background",
    "a blue triangle on a yellow background",
    "a green square on a white background",
    "a purple circle on an orange background",
    "a black square on a red background",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="/tmp/easel-mini/ckpt.pt")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "..", "docs", "easel-mini-sample.png"))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, default=1.5)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--prompts", nargs="*", default=PROMPTS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    te, unet, ck = load_checkpoint(args.ckpt)
    imgs = sample(te, unet, ck["scaling_factor"], args.prompts, [args.seed] * len(args.prompts),
                  steps=args.steps, guidance=args.guidance)
    T, lab = args.tile, 22
    rows = (len(imgs) + args.cols - 1) // args.cols
    g = Image.new("RGB", (args.cols * T, rows * (T + lab)), (255, 255, 255))
    d = ImageDraw.Draw(g)
    font = ImageFont.load_default()
    for i, (p, a) in enumerate(zip(args.prompts, imgs)):
        x, y = (i % args.cols) * T, (i // args.cols) * (T + lab)
        g.paste(Image.fromarray(a).resize((T, T), Image.NEAREST), (x, y))
        d.text((x + 4, y + T + 5), p, fill=(0, 0, 0), font=font)
        r = analyse(a)
        print(f"{p!r}: seed {args.seed} -> {r['fg']} {r['shape']} on {r['bg']} (fill {r['fill']})")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    g.save(args.out)
    print(f"wrote {args.out} (step {ck['step']}, {args.steps} DDIM steps, guidance {args.guidance})")


if __name__ == "__main__":
    main()
