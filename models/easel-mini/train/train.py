#!/usr/bin/python3
"""Train easel-mini (text encoder + UNet, v-prediction, cosine schedule) on procedural shapes.

  nice -n 19 /usr/bin/python3 models/easel-mini/train/train.py --minutes 70 --out /tmp/easel-mini
  ... --resume               continue from <out>/ckpt.pt (same flags)

Checkpoints (<out>/ckpt.pt, plus <out>/ckpt-<step>.pt every --keep-every minutes) hold the raw and
EMA weights; export.py turns one into the ONNX model folder.
"""
import argparse
import copy
import os
import random
import signal
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenes  # noqa: E402
import tokenizer as tk  # noqa: E402
from common import ALPHAS_CUMPROD, NUM_TRAIN_TIMESTEPS, build_models  # noqa: E402
from model import count, unshuffle  # noqa: E402


def scaling_factor(seed=1234, n=20000):
    """1/std of the unshuffled latents over n random scenes, rounded to 4 decimals."""
    gen = torch.Generator().manual_seed(seed)
    p = scenes.sample_scene_params(n, gen)
    img, _ = scenes.render(*p)
    return round(1.0 / unshuffle(img).std().item(), 4)


def encode_captions(caps, rng, p_unk=0.05):
    rows = []
    for c in caps:
        ids = tk.encode(c)
        if c and rng.random() < p_unk:  # robustness to unknown words in prompts
            n = ids.index(tk.EOS_ID)
            content = ids[1:n]
            for _ in range(rng.randint(1, 3)):
                content.insert(rng.randint(0, len(content)), tk.UNK_ID)
            ids = tk.encode("")[:1] + content[:75] + [tk.EOS_ID]
            ids += [tk.PAD_ID] * (tk.MAX_LEN - len(ids))
        rows.append(ids)
    return torch.tensor(rows, dtype=torch.int32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/easel-mini")
    ap.add_argument("--minutes", type=float, default=70.0, help="wall-clock training budget (this run)")
    ap.add_argument("--steps", type=int, default=0, help="stop at this total step count (0: no limit)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-final", type=float, default=1e-4)
    ap.add_argument("--decay-frac", type=float, default=0.25, help="last fraction of the budget with cosine LR decay")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--p-drop", type=float, default=0.1, help="caption dropout for classifier-free guidance")
    ap.add_argument("--snr-gamma", type=float, default=0.0, help="clamp the x0 weight (snr+1) at gamma+1; 0: off")
    ap.add_argument("--fg-weight", type=float, default=4.0,
                    help="extra loss weight on the shape and the pixel around it (0: plain MSE)")
    ap.add_argument("--size-min", type=float, default=scenes.SIZE_MIN, help="smallest shape (pixels)")
    ap.add_argument("--size-max", type=float, default=scenes.SIZE_MAX, help="largest shape (pixels)")
    ap.add_argument("--jitter", type=float, default=scenes.JITTER, help="max offset of the shape from the centre")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="1 is best on a busy shared machine")
    ap.add_argument("--ckpt-every", type=float, default=4.0, help="minutes between checkpoints")
    ap.add_argument("--keep-every", type=float, default=15.0, help="minutes between kept numbered checkpoints")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    scenes.SIZE_MIN, scenes.SIZE_MAX, scenes.JITTER = args.size_min, args.size_max, args.jitter
    os.makedirs(args.out, exist_ok=True)
    ck_path = os.path.join(args.out, "ckpt.pt")
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    te, unet = build_models()
    params = list(te.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    ema_te, ema_unet = copy.deepcopy(te), copy.deepcopy(unet)
    for p in list(ema_te.parameters()) + list(ema_unet.parameters()):
        p.requires_grad_(False)
    step, trained_s = 0, 0.0
    S = scaling_factor()
    budget_total = args.minutes * 60
    if args.resume and os.path.exists(ck_path):
        ck = torch.load(ck_path, map_location="cpu")
        te.load_state_dict(ck["te"]); unet.load_state_dict(ck["unet"])
        ema_te.load_state_dict(ck["ema_te"]); ema_unet.load_state_dict(ck["ema_unet"])
        opt.load_state_dict(ck["opt"])
        step, trained_s, S = ck["step"], ck["trained_s"], ck["scaling_factor"]
        rng.setstate(ck["rng"]); gen.set_state(ck["gen"]); torch.set_rng_state(ck["torch_rng"])
        budget_total = trained_s + args.minutes * 60
        print(f"resumed at step {step}, {trained_s / 60:.1f} min trained", flush=True)
    print(f"text encoder {count(te)} params, unet {count(unet)} params, scaling_factor {S}", flush=True)

    def save(path):
        ck = {"te": te.state_dict(), "unet": unet.state_dict(), "ema_te": ema_te.state_dict(),
              "ema_unet": ema_unet.state_dict(), "opt": opt.state_dict(), "step": step, "trained_s": trained_s,
              "scaling_factor": S, "rng": rng.getstate(), "gen": gen.get_state(),
              "torch_rng": torch.get_rng_state(), "args": vars(args)}
        torch.save(ck, path + ".tmp")
        os.replace(path + ".tmp", path)

    acp = ALPHAS_CUMPROD
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # kill PID: checkpoint, then stop
    t_start = time.time() - trained_s
    last_ck = last_keep = time.time()
    loss_acc, n_acc, t_log = 0.0, 0, time.time()
    while True:
        trained_s = time.time() - t_start
        if stop or trained_s >= budget_total or (args.steps and step >= args.steps):
            break
        frac = trained_s / budget_total
        d0 = 1 - args.decay_frac
        if step < args.warmup:
            lr = args.lr * (step + 1) / args.warmup
        elif frac < d0:
            lr = args.lr
        else:
            q = min(1.0, (frac - d0) / args.decay_frac)
            lr = args.lr_final + 0.5 * (args.lr - args.lr_final) * (1 + torch.cos(torch.tensor(q * 3.14159265)).item())
        for g in opt.param_groups:
            g["lr"] = lr

        img, caps, cov = scenes.batch(args.batch, gen, rng, p_drop=args.p_drop, return_cov=True)
        ids = encode_captions(caps, rng)
        x0 = unshuffle(img) * S
        t = torch.randint(0, NUM_TRAIN_TIMESTEPS, (args.batch,))
        noise = torch.randn_like(x0)
        a = acp[t].sqrt().view(-1, 1, 1, 1)
        s = (1 - acp[t]).sqrt().view(-1, 1, 1, 1)
        xt = a * x0 + s * noise
        v = a * noise - s * x0
        ctx, _ = te(ids)
        pred = unet(xt, t.float(), ctx)
        err = F.mse_loss(pred, v, reduction="none")
        if args.fg_weight > 0:  # emphasise the shape (its outline carries the shape signal)
            region = (F.max_pool2d(cov, 3, stride=1, padding=1) > 0.01).float()
            wl = unshuffle((1 + args.fg_weight * region).expand(-1, 3, -1, -1))
            per = (wl * err).mean(dim=(1, 2, 3)) / wl.mean(dim=(1, 2, 3))
        else:
            per = err.mean(dim=(1, 2, 3))
        if args.snr_gamma > 0:
            snr = acp[t] / (1 - acp[t])
            w = torch.clamp(snr + 1, max=args.snr_gamma + 1) / (snr + 1)
            loss = (per * w).mean()
        else:
            loss = per.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for m, e in ((te, ema_te), (unet, ema_unet)):
                for p, q in zip(m.parameters(), e.parameters()):
                    q.mul_(decay).add_(p.detach(), alpha=1 - decay)
                for b, c in zip(m.buffers(), e.buffers()):
                    c.copy_(b)
        loss_acc += per.mean().item(); n_acc += 1
        if step % 100 == 0:
            now = time.time()
            print(f"step {step} min {trained_s / 60:.1f} loss {loss_acc / n_acc:.4f} lr {lr:.2e} "
                  f"{100 * args.batch / (now - t_log):.0f} samples/s", flush=True)
            loss_acc, n_acc, t_log = 0.0, 0, now
        if time.time() - last_ck >= args.ckpt_every * 60:
            trained_s = time.time() - t_start
            save(ck_path)
            last_ck = time.time()
            if time.time() - last_keep >= args.keep_every * 60:
                save(os.path.join(args.out, f"ckpt-{step:06d}.pt"))
                last_keep = time.time()
            print(f"checkpoint at step {step}", flush=True)
    trained_s = time.time() - t_start
    save(ck_path)
    save(os.path.join(args.out, f"ckpt-{step:06d}.pt"))
    print(f"done: step {step}, {trained_s / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
