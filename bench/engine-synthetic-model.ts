import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OnnxGraphBuilder } from '../src/engine/tiny/onnx-graph-builder.ts';
import { writeTinyModel } from '../src/engine/tiny/tiny-model-folder.ts';
import { buildTextEncoder } from '../src/engine/tiny/tiny-models.ts';
import { tinyVocabSize } from '../src/engine/tiny/tiny-tokenizer.ts';

/**
 * A model folder for the engine benchmark: the tiny model's tokenizer, VAE and scheduler, with a
 * CLIP-width (768) text encoder and a synthetic UNet made of `depth` 3x3 convolutions of `width`
 * channels at full latent resolution plus a cross-attention-like text term, heavy enough that the
 * UNet dominates a step as Stable Diffusion's does.
 */
export async function writeBenchModel(dir: string, width: number, depth: number): Promise<void> {
  await writeTinyModel(dir, { safetyChecker: false });
  const context = 768;
  await writeFile(
    join(dir, 'text_encoder', 'model.onnx'),
    buildTextEncoder({ vocabSize: tinyVocabSize(), hidden: context }),
  );
  await writeFile(join(dir, 'unet', 'model.onnx'), syntheticUnet(width, depth, context));
  await writeFile(
    join(dir, 'unet', 'config.json'),
    JSON.stringify({ in_channels: 4, out_channels: 4, cross_attention_dim: context }),
  );
}

function random(seed: number, count: number, scale: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = (state / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

function syntheticUnet(width: number, depth: number, context: number): Uint8Array {
  const g = new OnnxGraphBuilder('synthetic_unet');
  const sample = g.input('sample', 'float32', ['batch', 4, 'height', 'width']);
  const t = g.input('timestep', 'int64', ['batch']);
  const states = g.input('encoder_hidden_states', 'float32', ['batch', 77, context]);
  const tEmbedding = g.node('Sin', [
    g.node('Mul', [
      g.node('Reshape', [g.node('Cast', [t], { to: 1 }), g.int64s([-1, 1, 1, 1])]),
      g.weight([0.01], [1]),
    ]),
  ]);
  const text = g.node('Reshape', [
    g.node('MatMul', [
      g.node('ReduceMean', [states], { axes: [1], keepdims: 0 }),
      g.weight(random(1, context * width, Math.sqrt(3 / context)), [context, width]),
    ]),
    g.int64s([-1, width, 1, 1]),
  ]);
  let h = g.node('Conv', [sample, g.weight(random(2, width * 4 * 9, Math.sqrt(3 / 36)), [width, 4, 3, 3])], {
    pads: [1, 1, 1, 1],
  });
  h = g.node('Add', [g.node('Add', [h, text]), tEmbedding]);
  for (let i = 0; i < depth; i++) {
    const conv = g.node(
      'Conv',
      [h, g.weight(random(10 + i, width * width * 9, Math.sqrt(3 / (width * 9))), [width, width, 3, 3])],
      {
        pads: [1, 1, 1, 1],
      },
    );
    h = g.node('Add', [h, g.node('Tanh', [conv])]);
  }
  const out = g.node(
    'Conv',
    [h, g.weight(random(99, 4 * width * 9, Math.sqrt(3 / (width * 9)) * 0.1), [4, width, 3, 3])],
    {
      pads: [1, 1, 1, 1],
    },
  );
  const skip = g.node('Add', [sample, g.node('Mul', [out, g.weight([0.1], [1])])]);
  g.nodeTo('out_sample', 'Identity', [skip]);
  g.output('out_sample', 'float32', ['batch', 4, 'height', 'width']);
  return g.toBytes();
}
