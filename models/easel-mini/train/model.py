"""easel-mini networks: a word-level text encoder, a small cross-attention UNet, and the
fixed pixel (un)shuffle that stands in for the VAE."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

TEXT_DIM = 64
LATENT_CH = 12


# ---------------------------------------------------------------- "VAE": fixed pixel rearrangement
class PixelUnshuffleEncoder(nn.Module):
    """[B,3,H,W] in [-1,1] -> [B,12,H/2,W/2] (channel = c*4 + dy*2 + dx, torch's pixel_unshuffle)."""

    def forward(self, sample):
        b, c, h, w = sample.shape
        x = sample.reshape(b, c, h // 2, 2, w // 2, 2)
        x = x.permute(0, 1, 3, 5, 2, 4)
        return x.reshape(b, c * 4, h // 2, w // 2)


class PixelShuffleDecoder(nn.Module):
    """[B,12,h,w] -> [B,3,2h,2w], the exact inverse of PixelUnshuffleEncoder."""

    def forward(self, latent_sample):
        b, c, h, w = latent_sample.shape
        x = latent_sample.reshape(b, c // 4, 2, 2, h, w)
        x = x.permute(0, 1, 4, 2, 5, 3)
        return x.reshape(b, c // 4, h * 2, w * 2)


def unshuffle(img):
    return F.pixel_unshuffle(img, 2)


def shuffle(lat):
    return F.pixel_shuffle(lat, 2)


# ---------------------------------------------------------------- attention
class Attention(nn.Module):
    def __init__(self, dim, ctx_dim=None, heads=4):
        super().__init__()
        ctx_dim = ctx_dim or dim
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(ctx_dim, dim, bias=False)
        self.v = nn.Linear(ctx_dim, dim, bias=False)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        b, n, d = x.shape
        h = self.heads
        q = self.q(x).reshape(b, -1, h, d // h).transpose(1, 2)
        k = self.k(ctx).reshape(b, -1, h, d // h).transpose(1, 2)
        v = self.v(ctx).reshape(b, -1, h, d // h).transpose(1, 2)
        a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.scale, dim=-1)
        out = torch.matmul(a, v).transpose(1, 2).reshape(b, -1, d)
        return self.o(out)


class TextBlock(nn.Module):
    def __init__(self, dim, heads=4, ff=4):
        super().__init__()
        self.n1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads=heads)
        self.n2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim * ff), nn.GELU(), nn.Linear(dim * ff, dim))

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.ff(self.n2(x))


class TextEncoder(nn.Module):
    """input_ids [B,77] (int) -> last_hidden_state [B,77,64], pooler_output [B,64] (at the first EOS)."""

    def __init__(self, vocab_size, eos_id, dim=TEXT_DIM, layers=2, max_len=77):
        super().__init__()
        self.eos_id = eos_id
        self.tok = nn.Embedding(vocab_size, dim)
        self.pos = nn.Parameter(torch.randn(1, max_len, dim) * 0.02)
        self.blocks = nn.ModuleList([TextBlock(dim) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        ids = input_ids.long()
        x = self.tok(ids) + self.pos[:, : ids.shape[1]]
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        first_eos = torch.argmax((ids == self.eos_id).to(torch.int32), dim=1)
        pooled = x[torch.arange(x.shape[0]), first_eos]
        return x, pooled


# ---------------------------------------------------------------- UNet
def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.n1 = nn.GroupNorm(8, cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(tdim, cout)
        self.n2 = nn.GroupNorm(8, cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.t(temb)[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class SpatialTransformer(nn.Module):
    """self-attention + cross-attention to the text + feed-forward over the pixels."""

    def __init__(self, ch, ctx_dim, heads=4):
        super().__init__()
        self.norm = nn.GroupNorm(8, ch)
        self.proj_in = nn.Linear(ch, ch)
        self.n1 = nn.LayerNorm(ch)
        self.attn1 = Attention(ch, heads=heads)
        self.n2 = nn.LayerNorm(ch)
        self.attn2 = Attention(ch, ctx_dim, heads=heads)
        self.n3 = nn.LayerNorm(ch)
        self.ff = nn.Sequential(nn.Linear(ch, ch * 4), nn.GELU(), nn.Linear(ch * 4, ch))
        self.proj_out = nn.Linear(ch, ch)

    def forward(self, x, ctx):
        b, c, h, w = x.shape
        r = x
        x = self.norm(x).reshape(b, c, -1).transpose(1, 2)
        x = self.proj_in(x)
        x = x + self.attn1(self.n1(x))
        x = x + self.attn2(self.n2(x), ctx)
        x = x + self.ff(self.n3(x))
        x = self.proj_out(x)
        return r + x.transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    def __init__(self, in_ch=LATENT_CH, chs=(32, 64, 64), attn=(False, True, True), n_res=1,
                 ctx_dim=TEXT_DIM, tdim=128):
        super().__init__()
        self.chs = chs
        self.tproj = nn.Sequential(nn.Linear(chs[0], tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        # global conditioning: the text encoder's first (BOS) output summarises the caption; it is
        # added to the timestep embedding so every ResBlock (also at 16x16) sees the prompt.
        self.cproj = nn.Sequential(nn.Linear(ctx_dim, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.conv_in = nn.Conv2d(in_ch, chs[0], 3, padding=1)
        self.down = nn.ModuleList()
        skip_ch = [chs[0]]
        cur = chs[0]
        for lvl, ch in enumerate(chs):
            for _ in range(n_res):
                self.down.append(nn.ModuleList([ResBlock(cur, ch, tdim),
                                                SpatialTransformer(ch, ctx_dim) if attn[lvl] else nn.Identity()]))
                cur = ch
                skip_ch.append(cur)
            if lvl < len(chs) - 1:
                self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
                skip_ch.append(cur)
        self.mid1 = ResBlock(cur, cur, tdim)
        self.mid_attn = SpatialTransformer(cur, ctx_dim)
        self.mid2 = ResBlock(cur, cur, tdim)
        self.up = nn.ModuleList()
        for lvl in reversed(range(len(chs))):
            ch = chs[lvl]
            for _ in range(n_res + 1):
                self.up.append(nn.ModuleList([ResBlock(cur + skip_ch.pop(), ch, tdim),
                                              SpatialTransformer(ch, ctx_dim) if attn[lvl] else nn.Identity()]))
                cur = ch
            if lvl > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"),
                                             nn.Conv2d(cur, cur, 3, padding=1)))
        self.norm_out = nn.GroupNorm(8, cur)
        self.conv_out = nn.Conv2d(cur, in_ch, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, sample, timestep, encoder_hidden_states):
        ctx = encoder_hidden_states
        temb = self.tproj(timestep_embedding(timestep, self.chs[0])) + self.cproj(ctx[:, 0])
        x = self.conv_in(sample)
        skips = [x]
        for m in self.down:
            if isinstance(m, nn.ModuleList):
                x = m[0](x, temb)
                x = m[1](x, ctx) if isinstance(m[1], SpatialTransformer) else x
            else:
                x = m(x)
            skips.append(x)
        x = self.mid2(self.mid_attn(self.mid1(x, temb), ctx), temb)
        for m in self.up:
            if isinstance(m, nn.ModuleList):
                x = m[0](torch.cat([x, skips.pop()], dim=1), temb)
                x = m[1](x, ctx) if isinstance(m[1], SpatialTransformer) else x
            else:
                x = m(x)
        return self.conv_out(F.silu(self.norm_out(x)))


def count(m):
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":
    import time
    torch.set_num_threads(2)
    u = UNet()
    te = TextEncoder(40, 2)
    print("unet", count(u), "text", count(te))
    x = torch.randn(64, 12, 16, 16)
    ids = torch.randint(0, 40, (64, 77))
    opt = torch.optim.AdamW(list(u.parameters()) + list(te.parameters()), 1e-3)
    for i in range(6):
        t0 = time.time()
        ctx, _ = te(ids)
        out = u(x, torch.rand(64) * 999, ctx)
        loss = out.pow(2).mean() + (out - x).pow(2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        print(f"{64 / (time.time() - t0):.0f} samples/s")
