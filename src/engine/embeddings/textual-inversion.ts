import { basename } from 'node:path';
import { CodedError } from '../../errors/coded-error.ts';
import { withSafetensors } from '../safetensors/safetensors-file.ts';

/** The text encoders an embedding has vectors for: SD 1.x/2.x have one, SDXL two (CLIP L and G). */
export type EncoderPart = 'text_encoder' | 'text_encoder_2';

/** A textual-inversion embedding: the word members write, and the token vectors it stands for. */
export interface TextualInversion {
  name: string;
  vectors: Partial<Record<EncoderPart, Float32Array[]>>;
}

function rows(path: string, key: string, shape: number[], values: Float32Array): Float32Array[] {
  if (shape.length === 1) return [values];
  if (shape.length !== 2 || shape[0] === 0) {
    throw new CodedError('model-invalid', `${path}: "${key}" is [${shape.join(', ')}], not [vectors, width]`);
  }
  const [count, width] = shape as [number, number];
  return Array.from({ length: count }, (_, i) => values.subarray(i * width, (i + 1) * width));
}

/**
 * Reads an embedding in any of the safetensors layouts in use: A1111's `emb_params` (or the
 * `string_to_param.*` of its older files), diffusers' single `<token>` key, SDXL's `clip_l` and
 * `clip_g` pair. Its name is the file's name without `.safetensors`, as A1111 names it.
 */
export async function readTextualInversion(path: string): Promise<TextualInversion> {
  const name = basename(path).replace(/\.safetensors$/, '');
  return withSafetensors(path, async (file) => {
    const keys = [...file.tensors.keys()];
    const read = async (key: string) =>
      rows(path, key, file.tensors.get(key)!.shape, await file.readFloat32(key));
    if (keys.includes('clip_l') || keys.includes('clip_g')) {
      if (!keys.includes('clip_l') || !keys.includes('clip_g')) {
        throw new CodedError(
          'model-invalid',
          `${path}: an SDXL embedding needs both clip_l and clip_g vectors`,
        );
      }
      return { name, vectors: { text_encoder: await read('clip_l'), text_encoder_2: await read('clip_g') } };
    }
    const single =
      keys.find((k) => k === 'emb_params') ??
      keys.find((k) => k.startsWith('string_to_param.')) ??
      (keys.length === 1 ? keys[0] : undefined);
    if (single === undefined) {
      throw new CodedError(
        'model-invalid',
        `${path} holds no textual-inversion vectors (its keys: ${keys.join(', ') || 'none'})`,
      );
    }
    return { name, vectors: { text_encoder: await read(single) } };
  });
}
