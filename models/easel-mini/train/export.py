#!/usr/bin/python3
"""Export a training checkpoint (EMA weights) to the diffusers/Optimum ONNX layout and check it.

  /usr/bin/python3 models/easel-mini/train/export.py --ckpt /tmp/easel-mini/ckpt.pt --out models/easel-mini

Every ONNX file is checked with onnx.checker and then run with onnxruntime-node (run_onnx.mjs)
on random inputs at several shapes; the max abs difference to PyTorch is printed and must be small.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tokenizer as tk  # noqa: E402
from common import MODEL_KW, NUM_TRAIN_TIMESTEPS, load_checkpoint  # noqa: E402
from model import PixelShuffleDecoder, PixelUnshuffleEncoder, TEXT_DIM, LATENT_CH  # noqa: E402

OPSET = 17
DIFFUSERS_VERSION = "0.25.0"


class TextEncoderExport(torch.nn.Module):
    def __init__(self, te):
        super().__init__()
        self.te = te

    def forward(self, input_ids):
        return self.te(input_ids)


def scheduler_config(clip_range):
    return {
        "_class_name": "DDIMScheduler",
        "_diffusers_version": DIFFUSERS_VERSION,
        "num_train_timesteps": NUM_TRAIN_TIMESTEPS,
        "beta_schedule": "squaredcos_cap_v2",
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "trained_betas": None,
        "prediction_type": "v_prediction",
        "clip_sample": True,
        "clip_sample_range": clip_range,
        "set_alpha_to_one": False,
        "steps_offset": 1,
        "timestep_spacing": "trailing",
        "thresholding": False,
        "rescale_betas_zero_snr": False,
    }


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_configs(out, S, ck):
    write_json(os.path.join(out, "model_index.json"), {
        "_class_name": "OnnxStableDiffusionPipeline",
        "_diffusers_version": DIFFUSERS_VERSION,
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["diffusers", "OnnxRuntimeModel"],
        "tokenizer": ["transformers", "PreTrainedTokenizerFast"],
        "unet": ["diffusers", "OnnxRuntimeModel"],
        "vae_decoder": ["diffusers", "OnnxRuntimeModel"],
        "vae_encoder": ["diffusers", "OnnxRuntimeModel"],
    })
    # x0 clipping at +-S in latent space == clipping pixels to [-1, 1]
    write_json(os.path.join(out, "scheduler", "scheduler_config.json"), scheduler_config(S))
    tk.write(os.path.join(out, "tokenizer"), os.path.join(HERE, "tokenizer-vectors.json"))
    write_json(os.path.join(out, "text_encoder", "config.json"), {
        "architectures": ["EaselMiniTextEncoder"],
        "model_type": "easel-mini-text",
        "hidden_size": TEXT_DIM,
        "projection_dim": TEXT_DIM,
        "intermediate_size": TEXT_DIM * 4,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": tk.MAX_LEN,
        "vocab_size": len(tk.VOCAB),
        "bos_token_id": tk.BOS_ID,
        "eos_token_id": tk.EOS_ID,
        "pad_token_id": tk.PAD_ID,
        "torch_dtype": "float32",
    })
    chs = list(MODEL_KW["chs"])
    write_json(os.path.join(out, "unet", "config.json"), {
        "_class_name": "UNet2DConditionModel",
        "_diffusers_version": DIFFUSERS_VERSION,
        "_easel_note": "easel-mini UNet (see models/easel-mini/train/model.py); ONNX only",
        "in_channels": LATENT_CH,
        "out_channels": LATENT_CH,
        "sample_size": 16,
        "cross_attention_dim": TEXT_DIM,
        "block_out_channels": chs,
        "layers_per_block": MODEL_KW["n_res"],
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        "attention_head_dim": 16,
        "norm_num_groups": 8,
        "prediction_type": "v_prediction",
        "training_steps": ck.get("step"),
        "training_minutes": round(ck.get("trained_s", 0) / 60, 1),
    })
    vae = {
        "_class_name": "AutoencoderKL",
        "_diffusers_version": DIFFUSERS_VERSION,
        "_easel_note": "fixed, weightless 2x2 pixel (un)shuffle: latent channel = rgb*4 + dy*2 + dx",
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": LATENT_CH,
        "block_out_channels": [LATENT_CH, LATENT_CH],
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        "layers_per_block": 0,
        "sample_size": 32,
        "scaling_factor": S,
        "act_fn": "silu",
        "norm_num_groups": 1,
    }
    write_json(os.path.join(out, "vae_encoder", "config.json"), vae)
    write_json(os.path.join(out, "vae_decoder", "config.json"), vae)


def export_onnx(module, args, path, in_names, out_names, dyn, out_shapes):
    """out_shapes: {output: [dim (int) or symbolic name]} written into the graph's declared outputs."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=in_names, output_names=out_names,
                          dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True)
    m = onnx.load(path)
    for o in m.graph.output:
        dims = o.type.tensor_type.shape.dim
        for d, want in zip(dims, out_shapes[o.name]):
            if isinstance(want, int):
                d.ClearField("dim_param"); d.dim_value = want
            else:
                d.ClearField("dim_value"); d.dim_param = want
    m.doc_string = "easel-mini (models/easel-mini/train)"
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    return m


def check_with_ort(cases, tol):
    """cases: list of (tag, model_path, {name: np.array}, {out_name: torch result})."""
    tmp = tempfile.mkdtemp(prefix="easel-onnx-")
    jobs = []
    for tag, path, inputs, _ in cases:
        spec = {}
        for name, arr in inputs.items():
            f = os.path.join(tmp, f"{tag}.in.{name}.bin")
            arr.tofile(f)
            spec[name] = {"file": f, "dtype": "int32" if arr.dtype == np.int32 else "float32", "dims": list(arr.shape)}
        jobs.append({"model": os.path.abspath(path), "inputs": spec, "outDir": tmp, "tag": tag})
    with open(os.path.join(tmp, "jobs.json"), "w") as f:
        json.dump(jobs, f)
    subprocess.run(["node", os.path.join(HERE, "run_onnx.mjs"), os.path.join(tmp, "jobs.json")], check=True,
                   cwd=HERE)
    worst = 0.0
    for tag, path, inputs, expected in cases:
        meta = json.load(open(os.path.join(tmp, f"{tag}.meta.json")))
        for name, ref in expected.items():
            got = np.fromfile(os.path.join(tmp, f"{tag}.{name}.bin"), dtype=np.float32).reshape(meta["outputs"][name]["dims"])
            assert got.shape == ref.shape, (tag, name, got.shape, ref.shape)
            d = float(np.abs(got - ref).max())
            worst = max(worst, d)
            print(f"  {tag:28s} {name:18s} {str(list(got.shape)):18s} max|ort-torch| = {d:.2e}"
                  f"  (load {meta['loadMs']} ms, run {meta['runMs']} ms)")
            assert d < tol, f"{tag}/{name}: ONNX differs from PyTorch by {d}"
    shutil.rmtree(tmp)
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="/tmp/easel-mini/ckpt.pt")
    ap.add_argument("--out", default=os.path.normpath(os.path.join(HERE, "..")))
    ap.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA weights")
    args = ap.parse_args()
    torch.set_num_threads(1)
    te, unet, ck = load_checkpoint(args.ckpt, ema=not args.raw)
    S = ck["scaling_factor"]
    out = args.out
    print(f"checkpoint step {ck['step']}, {ck['trained_s'] / 60:.1f} min, scaling_factor {S}")
    write_configs(out, S, ck)

    te_path = os.path.join(out, "text_encoder", "model.onnx")
    unet_path = os.path.join(out, "unet", "model.onnx")
    dec_path = os.path.join(out, "vae_decoder", "model.onnx")
    enc_path = os.path.join(out, "vae_encoder", "model.onnx")
    ids = torch.tensor([tk.encode("a red circle on a blue background"), tk.encode("")], dtype=torch.int32)
    export_onnx(TextEncoderExport(te), (ids,), te_path, ["input_ids"], ["last_hidden_state", "pooler_output"],
                {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}},
                {"last_hidden_state": ["batch", tk.MAX_LEN, TEXT_DIM], "pooler_output": ["batch", TEXT_DIM]})
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, LATENT_CH, 16, 16, generator=g)
    ts = torch.tensor([999.0, 500.0])
    ctx = te(ids)[0].detach()
    export_onnx(unet, (x, ts, ctx), unet_path, ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
                {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "timestep_batch"},
                 "encoder_hidden_states": {0: "batch"}, "out_sample": {0: "batch", 2: "height", 3: "width"}},
                {"out_sample": ["batch", LATENT_CH, "height", "width"]})
    dec, enc = PixelShuffleDecoder(), PixelUnshuffleEncoder()
    export_onnx(dec, (x,), dec_path, ["latent_sample"], ["sample"],
                {"latent_sample": {0: "batch", 2: "height", 3: "width"},
                 "sample": {0: "batch", 2: "height_x2", 3: "width_x2"}},
                {"sample": ["batch", 3, "height_x2", "width_x2"]})
    img = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    export_onnx(enc, (img,), enc_path, ["sample"], ["latent_sample"],
                {"sample": {0: "batch", 2: "height", 3: "width"},
                 "latent_sample": {0: "batch", 2: "height_half", 3: "width_half"}},
                {"latent_sample": ["batch", LATENT_CH, "height_half", "width_half"]})
    # torch reference checks for the fixed VAE
    assert torch.equal(enc(img), torch.nn.functional.pixel_unshuffle(img, 2))
    assert torch.equal(dec(enc(img)), img)

    print("onnxruntime-node vs PyTorch:")
    cases = []
    prompts = ["a red circle on a blue background", "", "GREEN square, white background!", "a pink hexagon"]
    ids3 = torch.tensor([tk.encode(p) for p in prompts[:3]], dtype=torch.int32)
    ids1 = torch.tensor([tk.encode(prompts[3])], dtype=torch.int32)
    with torch.no_grad():
        for tag, ii in (("text_encoder_b3", ids3), ("text_encoder_b1", ids1)):
            h, p = te(ii)
            cases.append((tag, te_path, {"input_ids": ii.numpy()},
                          {"last_hidden_state": h.numpy(), "pooler_output": p.numpy()}))
        ctx3 = te(ids3)[0]
        for tag, b, hh, ww, nt in (("unet_b2_16x16", 2, 16, 16, 2), ("unet_b1_8x12", 1, 8, 12, 1),
                                   ("unet_b3_24x32", 3, 24, 32, 3), ("unet_b2_t1_16x16", 2, 16, 16, 1)):
            xs = torch.randn(b, LATENT_CH, hh, ww, generator=g)
            tt = torch.tensor([999.0, 37.0, 500.5][:nt])
            cc = ctx3[:b].contiguous()
            cases.append((tag, unet_path, {"sample": xs.numpy(), "timestep": tt.numpy(),
                                           "encoder_hidden_states": cc.numpy()}, {"out_sample": unet(xs, tt, cc).numpy()}))
        for tag, b, hh, ww in (("vae_decoder_b2_16x16", 2, 16, 16), ("vae_decoder_b1_8x20", 1, 8, 20)):
            lat = torch.randn(b, LATENT_CH, hh, ww, generator=g)
            cases.append((tag, dec_path, {"latent_sample": lat.numpy()}, {"sample": dec(lat).numpy()}))
        for tag, b, hh, ww in (("vae_encoder_b2_32x32", 2, 32, 32), ("vae_encoder_b1_16x40", 1, 16, 40)):
            im = torch.rand(b, 3, hh, ww, generator=g) * 2 - 1
            cases.append((tag, enc_path, {"sample": im.numpy()}, {"latent_sample": enc(im).numpy()}))
    worst = check_with_ort(cases, tol=1e-3)
    print(f"all ONNX outputs match PyTorch (worst {worst:.2e})")
    total = 0
    for root, _, files in os.walk(out):
        if "/train" in root:
            continue
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print(f"model folder size (without train/): {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
