import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addTextualInversions,
  expandEmbeddingNames,
  TOKEN_EMBEDDING,
} from '../../src/engine/embeddings/add-embeddings.ts';
import {
  readTextualInversion,
  type TextualInversion,
} from '../../src/engine/embeddings/textual-inversion.ts';
import { OnnxModelWeights } from '../../src/engine/lora/onnx-model-weights.ts';
import { createPatchedSession } from '../../src/engine/lora/patched-session.ts';
import { buildTextEncoder } from '../../src/engine/tiny/tiny-models.ts';
import {
  tinyTokenizerConfig,
  tinyTokenizerJson,
  tinyVocabSize,
} from '../../src/engine/tiny/tiny-tokenizer.ts';
import { dyadic, f32, writeLora } from './named-models.ts';

const { onnx } = onnxProto;
const dir = mkdtempSync(join(tmpdir(), 'easel-embeddings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HIDDEN = 8;

/**
 * The tiny text encoder with its token table named as Optimum names CLIP's; `asInput` also lists
 * the table as a graph input with its shape, as IR 3 exports list every initializer.
 */
function writeTextEncoder(asInput = false): string {
  const model = onnx.ModelProto.decode(
    buildTextEncoder({ vocabSize: tinyVocabSize(), hidden: HIDDEN, idsType: 'int64' }),
  );
  const gather = model.graph!.node!.find((n) => n.opType === 'Gather')!;
  const table = gather.input![0]!;
  gather.input![0] = TOKEN_EMBEDDING;
  for (const tensor of model.graph!.initializer!) if (tensor.name === table) tensor.name = TOKEN_EMBEDDING;
  if (asInput) {
    const dim = [{ dimValue: tinyVocabSize() }, { dimValue: HIDDEN }];
    model.graph!.input!.push(
      onnx.ValueInfoProto.create({
        name: TOKEN_EMBEDDING,
        type: { tensorType: { elemType: 1, shape: { dim } } },
      }),
    );
  }
  const path = join(dir, asInput ? 'text_encoder-ir3.onnx' : 'text_encoder.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

async function hidden(session: InferenceSession, ids: number[]): Promise<Float32Array[]> {
  const padded = [...ids, ...Array(77 - ids.length).fill(2)];
  const out = await session.run({
    input_ids: new Tensor('int64', BigInt64Array.from(padded.map(BigInt)), [1, 77]),
  });
  const data = out.last_hidden_state!.data as Float32Array;
  return Array.from({ length: 77 }, (_, i) => data.slice(i * HIDDEN, (i + 1) * HIDDEN));
}

describe('textual-inversion embeddings', () => {
  it('reads A1111, diffusers and SDXL files, their name the file name', async () => {
    const a1111 = await readTextualInversion(
      writeLora(join(dir, 'painterly.safetensors'), { emb_params: f32([2, 4], dyadic(1, 8)) }),
    );
    expect(a1111.name).toBe('painterly');
    expect(a1111.vectors.text_encoder?.map((v) => v.length)).toEqual([4, 4]);
    const old = await readTextualInversion(
      writeLora(join(dir, 'old.safetensors'), { 'string_to_param.*': f32([1, 4], dyadic(2, 4)) }),
    );
    expect(old.vectors.text_encoder).toHaveLength(1);
    const diffusers = await readTextualInversion(
      writeLora(join(dir, 'cat-toy.safetensors'), { '<cat-toy>': f32([4], dyadic(3, 4)) }),
    );
    expect([...diffusers.vectors.text_encoder![0]!]).toEqual([...dyadic(3, 4)]);
    const sdxl = await readTextualInversion(
      writeLora(join(dir, 'xl.safetensors'), {
        clip_g: f32([3, 1280], dyadic(4, 3840)),
        clip_l: f32([3, 768], dyadic(5, 2304)),
      }),
    );
    expect(sdxl.vectors.text_encoder?.map((v) => v.length)).toEqual([768, 768, 768]);
    expect(sdxl.vectors.text_encoder_2?.map((v) => v.length)).toEqual([1280, 1280, 1280]);
  });

  it('refuses files that hold no vectors or half an SDXL pair', async () => {
    const none = writeLora(join(dir, 'none.safetensors'), {
      a: f32([1], dyadic(1, 1)),
      b: f32([1], dyadic(1, 1)),
    });
    await expect(readTextualInversion(none)).rejects.toThrow(
      `${none} holds no textual-inversion vectors (its keys: a, b)`,
    );
    const half = writeLora(join(dir, 'half.safetensors'), { clip_l: f32([1, 768], dyadic(1, 768)) });
    await expect(readTextualInversion(half)).rejects.toThrow(
      'an SDXL embedding needs both clip_l and clip_g vectors',
    );
    const cube = writeLora(join(dir, 'cube.safetensors'), { emb_params: f32([1, 2, 2], dyadic(1, 4)) });
    await expect(readTextualInversion(cube)).rejects.toThrow(
      '"emb_params" is [1, 2, 2], not [vectors, width]',
    );
  });

  it("an embedding's tokens reach the text encoder as its vectors, changing the output there and only there", async () => {
    const encoder = await OnnxModelWeights.load(writeTextEncoder());
    const mystyle: TextualInversion = {
      name: 'mystyle',
      vectors: { text_encoder: [dyadic(10, HIDDEN), dyadic(11, HIDDEN)] },
    };
    const extended = await addTextualInversions(tinyTokenizerJson(), encoder, 'text_encoder', [mystyle]);
    const vocab = tinyVocabSize();
    expect(extended.ids.get('mystyle')).toEqual([vocab, vocab + 1]);
    expect(extended.patches.get(TOKEN_EMBEDDING)?.dims).toEqual([vocab + 2, HIDDEN]);

    const tokenizer = new Tokenizer(extended.tokenizerJson as never, tinyTokenizerConfig() as never);
    const prompt = expandEmbeddingNames('a mystyle cat', [{ name: 'mystyle', count: 2 }]);
    expect(prompt).toBe('a mystyle mystyle_1 cat');
    const ids = tokenizer.encode(prompt).ids;
    const baseTokenizer = new Tokenizer(tinyTokenizerJson() as never, tinyTokenizerConfig() as never);
    const baseIds = baseTokenizer.encode('a mystyle mystyle_1 cat').ids;
    const unk = baseTokenizer.token_to_id('[UNK]');
    expect(ids).toEqual([1, baseIds[1], vocab, vocab + 1, baseIds.at(-2), 2]);
    // Where the embedding stands, the base tokenizer has the unknown token.
    expect(baseIds.slice(2, 4)).toEqual([unk, unk]);

    const patched = await createPatchedSession(encoder, extended.patches);
    const base = await InferenceSession.create(encoder.path);
    const withEmbedding = await hidden(patched, ids);
    const without = await hidden(base, [1, baseIds[1]!, unk!, unk!, baseIds.at(-2)!, 2]);
    for (let position = 0; position < 77; position++) {
      if (position === 2 || position === 3) expect(withEmbedding[position]).not.toEqual(without[position]);
      else expect(withEmbedding[position]).toEqual(without[position]);
    }
    // A prompt without the embedding reads exactly as before.
    const plain = baseTokenizer.encode('a cat').ids;
    expect(await hidden(patched, plain)).toEqual(await hidden(base, plain));
    await patched.release();
    await base.release();
  });

  it('refuses an embedding of another width, one missing its encoder, and a name the tokenizer already has', async () => {
    const encoder = await OnnxModelWeights.load(writeTextEncoder());
    const add = (inversion: TextualInversion, part: 'text_encoder' | 'text_encoder_2' = 'text_encoder') =>
      addTextualInversions(tinyTokenizerJson(), encoder, part, [inversion]);
    await expect(add({ name: 'wide', vectors: { text_encoder: [dyadic(1, 768)] } })).rejects.toThrow(
      `embedding "wide" has 768-wide vectors but text_encoder's tokens are ${HIDDEN} wide: it is for another model family`,
    );
    await expect(
      add({ name: 'sd1', vectors: { text_encoder: [dyadic(1, HIDDEN)] } }, 'text_encoder_2'),
    ).rejects.toThrow('embedding "sd1" has no vectors for text_encoder_2: it is for another model family');
    await expect(add({ name: 'cat', vectors: { text_encoder: [dyadic(1, HIDDEN)] } })).rejects.toThrow(
      'embedding "cat": "cat" is already a token of the tokenizer',
    );
  });

  it('grows the table where an older export also lists it as a graph input with its shape', async () => {
    const encoder = await OnnxModelWeights.load(writeTextEncoder(true));
    const inversion: TextualInversion = {
      name: 'old-style',
      vectors: { text_encoder: [dyadic(12, HIDDEN)] },
    };
    const extended = await addTextualInversions(tinyTokenizerJson(), encoder, 'text_encoder', [inversion]);
    const session = await createPatchedSession(encoder, extended.patches);
    const current = await OnnxModelWeights.load(writeTextEncoder());
    const same = await addTextualInversions(tinyTokenizerJson(), current, 'text_encoder', [inversion]);
    const reference = await createPatchedSession(current, same.patches);
    const ids = [1, tinyVocabSize(), 2];
    expect(await hidden(session, ids)).toEqual(await hidden(reference, ids));
    await reference.release();
    await session.release();
  });
});
