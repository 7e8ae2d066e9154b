import type { InferenceSession } from 'onnxruntime-node';
import { CodedError } from '../errors/coded-error.ts';
import type { RgbImage } from './image-io.ts';
import { outputOf, requireInput, requireOutput, runPart, toInput } from './onnx-io.ts';

export interface TileOptions {
  /** Side of the core of each tile, in input pixels. */
  tile: number;
  /** Context added around each core (at least the network's receptive field), in input pixels. */
  overlap: number;
  signal?: AbortSignal;
  onTile?: (done: number, total: number) => void;
}

/**
 * Runs a Real-ESRGAN-layout upscaler (`input` [1,3,H,W] in [0,1] -> `output` [1,3,sH,sW]) tile by
 * tile, so memory stays bounded whatever the picture's size. Each tile is the core plus `overlap`
 * pixels of context on every side (clamped at the picture's edges); only the core's part of the
 * output is kept, so seams vanish when the overlap covers the network's receptive field.
 */
export async function upscaleTiled(
  session: InferenceSession,
  image: RgbImage,
  options: TileOptions = { tile: 192, overlap: 16 },
): Promise<RgbImage> {
  const spec = requireInput(session, 'upscaler', session.inputNames[0] ?? 'input');
  const outputName = requireOutput(session, 'upscaler', [session.outputNames[0] ?? 'output']);
  const { width, height } = image;
  const cols = Math.ceil(width / options.tile);
  const rows = Math.ceil(height / options.tile);
  let scale = 0;
  let out: Buffer | undefined;
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      if (options.signal?.aborted) throw new CodedError('engine-failed', 'upscale cancelled');
      const x0 = col * options.tile;
      const y0 = row * options.tile;
      const x1 = Math.min(x0 + options.tile, width);
      const y1 = Math.min(y0 + options.tile, height);
      const ex0 = Math.max(0, x0 - options.overlap);
      const ey0 = Math.max(0, y0 - options.overlap);
      const ex1 = Math.min(width, x1 + options.overlap);
      const ey1 = Math.min(height, y1 + options.overlap);
      const tw = ex1 - ex0;
      const th = ey1 - ey0;
      const planar = new Float32Array(3 * tw * th);
      for (let y = 0; y < th; y++) {
        for (let x = 0; x < tw; x++) {
          const src = ((ey0 + y) * width + ex0 + x) * 3;
          for (let c = 0; c < 3; c++) planar[c * tw * th + y * tw + x] = image.data[src + c]! / 255;
        }
      }
      const result = await runPart(session, 'upscaler', {
        [spec.name]: toInput(spec, planar, [1, 3, th, tw]),
      });
      const tileOut = outputOf(result, 'upscaler', outputName);
      const s = (tileOut.dims[3] ?? 0) / tw;
      if (!Number.isInteger(s) || s < 1 || tileOut.dims[2] !== th * s || tileOut.dims[1] !== 3) {
        throw new CodedError(
          'model-invalid',
          `upscaler output has shape [${tileOut.dims.join(', ')}] for an input of [1, 3, ${th}, ${tw}]`,
        );
      }
      if (out === undefined) {
        scale = s;
        out = Buffer.alloc(width * s * height * s * 3);
      }
      const outWidth = width * scale;
      const plane = tw * s * th * s;
      for (let y = (y0 - ey0) * s; y < (y1 - ey0) * s; y++) {
        for (let x = (x0 - ex0) * s; x < (x1 - ex0) * s; x++) {
          const dst = ((ey0 * s + y) * outWidth + ex0 * s + x) * 3;
          for (let c = 0; c < 3; c++) {
            const v = tileOut.data[c * plane + y * tw * s + x]! * 255;
            out[dst + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
          }
        }
      }
      options.onTile?.(row * cols + col + 1, rows * cols);
    }
  }
  return { data: out ?? Buffer.alloc(0), width: width * scale, height: height * scale };
}
