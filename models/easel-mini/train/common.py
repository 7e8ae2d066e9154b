"""Shared pieces: the noise schedule (diffusers' squaredcos_cap_v2), the latent scaling, model construction."""
import math

import torch

import tokenizer as tk
from model import TextEncoder, UNet

NUM_TRAIN_TIMESTEPS = 1000
MODEL_KW = dict(chs=(32, 64, 64), attn=(False, True, True), n_res=1)


def cosine_betas(n=NUM_TRAIN_TIMESTEPS, max_beta=0.999):
    """diffusers.schedulers.scheduling_ddim.betas_for_alpha_bar(alpha_transform_type='cosine')."""
    def ab(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = [min(1 - ab((i + 1) / n) / ab(i / n), max_beta) for i in range(n)]
    return torch.tensor(betas, dtype=torch.float32)


BETAS = cosine_betas()
ALPHAS_CUMPROD = torch.cumprod(1.0 - BETAS, dim=0)


def build_models():
    te = TextEncoder(len(tk.VOCAB), tk.EOS_ID)
    unet = UNet(**MODEL_KW)
    return te, unet


def load_checkpoint(path, ema=True):
    ck = torch.load(path, map_location="cpu")
    te, unet = build_models()
    te.load_state_dict(ck["ema_te" if ema else "te"])
    unet.load_state_dict(ck["ema_unet" if ema else "unet"])
    te.eval(); unet.eval()
    return te, unet, ck
