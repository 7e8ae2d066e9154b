/**
 * The hi-res fix's latent upscale (AUTOMATIC1111's "Latent" upscalers): the first pass's latents
 * [n, C, h, w] enlarged to the second pass's [n, C, H, W], bilinearly (torch's interpolate with
 * align_corners=False, A1111's "Latent") or by nearest neighbour ("Latent (nearest)").
 */
export function resizeLatents(
  latents: Float32Array,
  count: number,
  channels: number,
  from: { latentWidth: number; latentHeight: number },
  to: { latentWidth: number; latentHeight: number },
  mode: 'bilinear' | 'nearest',
): Float32Array {
  const { latentWidth: w, latentHeight: h } = from;
  const { latentWidth: W, latentHeight: H } = to;
  const out = new Float32Array(count * channels * H * W);
  const sx = w / W;
  const sy = h / H;
  for (let plane = 0; plane < count * channels; plane++) {
    const src = plane * h * w;
    const dst = plane * H * W;
    for (let y = 0; y < H; y++) {
      const fy = Math.max(0, (y + 0.5) * sy - 0.5);
      const y0 = mode === 'nearest' ? Math.min(h - 1, Math.floor(y * sy)) : Math.min(h - 1, Math.floor(fy));
      const y1 = Math.min(h - 1, y0 + 1);
      const dy = mode === 'nearest' ? 0 : fy - y0;
      for (let x = 0; x < W; x++) {
        const fx = Math.max(0, (x + 0.5) * sx - 0.5);
        const x0 = mode === 'nearest' ? Math.min(w - 1, Math.floor(x * sx)) : Math.min(w - 1, Math.floor(fx));
        const x1 = Math.min(w - 1, x0 + 1);
        const dx = mode === 'nearest' ? 0 : fx - x0;
        const top = latents[src + y0 * w + x0]! * (1 - dx) + latents[src + y0 * w + x1]! * dx;
        const bottom = latents[src + y1 * w + x0]! * (1 - dx) + latents[src + y1 * w + x1]! * dx;
        out[dst + y * W + x] = top * (1 - dy) + bottom * dy;
      }
    }
  }
  return out;
}
