// Smoke test of the exported folder through onnxruntime-node and the JS tokenizer: the standard
// SD pipeline (CFG, DDIM with diffusers' math, v-prediction, x0 clip, VAE decode with the scaling
// factor), with the initial noise read from a file so Python can compare.
// usage: node onnx_pipeline.mjs <modelDir> <noise.bin (float32 [n,12,16,16])> <out.bin> <guidance> <prompt>...
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { Tokenizer } from "@huggingface/tokenizers";

const [dir, noiseFile, outFile, g, ...prompts] = process.argv.slice(2);
const guidance = Number(g);
const cfg = (p) => JSON.parse(readFileSync(join(dir, p), "utf8"));
const sched = cfg("scheduler/scheduler_config.json");
const S = cfg("vae_decoder/config.json").scaling_factor;
const tok = new Tokenizer(cfg("tokenizer/tokenizer.json"), cfg("tokenizer/tokenizer_config.json"));
const eosId = 2;
const ids = (p) => {
  let a = tok.encode(p).ids;
  if (a.length > 77) a = [...a.slice(0, 76), eosId];
  while (a.length < 77) a.push(eosId);
  return a;
};
const te = await ort.InferenceSession.create(join(dir, "text_encoder/model.onnx"));
const unet = await ort.InferenceSession.create(join(dir, "unet/model.onnx"));
const dec = await ort.InferenceSession.create(join(dir, "vae_decoder/model.onnx"));
// cosine betas (diffusers betas_for_alpha_bar), float32 cumprod
const T = sched.num_train_timesteps;
const ab = (t) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
const acp = new Float32Array(T);
let prod = Math.fround(1);
for (let i = 0; i < T; i++) {
  const beta = Math.fround(Math.min(1 - ab((i + 1) / T) / ab(i / T), 0.999));
  prod = Math.fround(prod * Math.fround(1 - beta));
  acp[i] = prod;
}
const n = 25;
const steps = [];
for (let x = T; x > 0; x -= T / n) steps.push(Math.round(x) - 1);
const noise = new Float32Array(readFileSync(noiseFile).buffer.slice(0));
const per = 12 * 16 * 16;
const out = new Float32Array(prompts.length * 3 * 32 * 32);
for (let k = 0; k < prompts.length; k++) {
  const idsT = new ort.Tensor("int32", Int32Array.from([...ids(""), ...ids(prompts[k])]), [2, 77]);
  const ctx = (await te.run({ input_ids: idsT })).last_hidden_state;
  let x = noise.slice(k * per, (k + 1) * per);
  for (const t of steps) {
    const inp = new Float32Array(2 * per); inp.set(x, 0); inp.set(x, per);
    const v = (await unet.run({ sample: new ort.Tensor("float32", inp, [2, 12, 16, 16]),
      timestep: new ort.Tensor("float32", Float32Array.from([t]), [1]), encoder_hidden_states: ctx })).out_sample.data;
    const prev = t - T / n;
    const a = acp[t], ap = prev >= 0 ? acp[prev] : acp[0], b = 1 - a;
    const nx = new Float32Array(per);
    for (let i = 0; i < per; i++) {
      const vv = v[i] + guidance * (v[per + i] - v[i]);
      let x0 = Math.sqrt(a) * x[i] - Math.sqrt(b) * vv;
      const eps = Math.sqrt(a) * vv + Math.sqrt(b) * x[i];
      x0 = Math.min(sched.clip_sample_range, Math.max(-sched.clip_sample_range, x0));
      nx[i] = Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps;
    }
    x = nx;
  }
  const lat = x.map((z) => z / S);
  const img = (await dec.run({ latent_sample: new ort.Tensor("float32", lat, [1, 12, 16, 16]) })).sample.data;
  out.set(img, k * 3 * 32 * 32);
}
writeFileSync(outFile, Buffer.from(out.buffer));
