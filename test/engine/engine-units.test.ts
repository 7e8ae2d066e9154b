import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { fromHalf, toHalf } from '../../src/engine/float16.ts';
import { gridPng } from '../../src/engine/image-grid.ts';
import { planarToRgb } from '../../src/engine/image-io.ts';
import { formatInfotext } from '../../src/engine/infotext.ts';
import { readPngText, withPngText } from '../../src/engine/png-text.ts';
import { PromptTokenizer } from '../../src/engine/prompt-tokenizer.ts';
import { BatchNoise, philox4x32, seededNormal } from '../../src/engine/seeded-noise.ts';
import { writeTinyModel } from '../../src/engine/tiny/tiny-model-folder.ts';
import { requireModelFolder } from '../../src/models/model-folder.ts';
import { tinyEntry } from '../support/tiny-models.ts';

describe('seeded noise', () => {
  it('reproduces the Random123 known-answer vectors of Philox4x32-10', () => {
    const hex = (a: Uint32Array) => Array.from(a, (x) => x.toString(16).padStart(8, '0')).join(' ');
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    expect(hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toBe(
      '408f276d 41c83b0e a20bc7c6 6d5451fd',
    );
    expect(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toBe(
      'd16cfe09 94fdcceb 5001e420 24126ea1',
    );
  });

  it('draws standard normal values: mean 0, variance 1', () => {
    const values = seededNormal(7, 0, 200_000);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
  });

  it('depends only on seed, stream and position: prefixes agree, seeds and streams differ', () => {
    expect(seededNormal(42, 0, 10)).toEqual(seededNormal(42, 0, 1000).subarray(0, 10));
    expect(seededNormal(42, 0, 10)).not.toEqual(seededNormal(43, 0, 10));
    expect(seededNormal(42, 0, 10)).not.toEqual(seededNormal(42, 1, 10));
    expect(seededNormal(2 ** 53 - 1, 0, 4)).not.toEqual(seededNormal(2 ** 53 - 1 - 2 ** 32, 0, 4));
  });

  it('gives each batch item the noise of its own seed, and a fresh stream per draw', () => {
    const batch = new BatchNoise([5, 6]);
    const first = batch.randn([2, 3, 4]);
    expect(first.subarray(12)).toEqual(seededNormal(6, 0, 12));
    expect(batch.randn([2, 3, 4]).subarray(0, 12)).toEqual(seededNormal(5, 1, 12));
  });
});

describe('fp16 bit patterns', () => {
  it('round-trips the values fp16 represents and rounds the rest to nearest even', () => {
    for (const v of [0, 1, -2, 0.5, 65504, -65504, 2 ** -24, 0.333251953125])
      expect(fromHalf(toHalf(v))).toBe(v);
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // halfway: to even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalf(1e6)).toBe(0x7c00);
    expect(Number.isNaN(fromHalf(toHalf(Number.NaN)))).toBe(true);
  });
});

describe('PNG parameters (AUTOMATIC1111 infotext)', () => {
  const parameters = formatInfotext({
    prompt: 'a lighthouse, on a cliff',
    negativePrompt: 'blurry',
    steps: 25,
    sampler: 'dpmpp_2m_karras',
    guidance: 7.5,
    seed: 42,
    width: 512,
    height: 768,
    model: 'sd-1.5',
    strength: 0.65,
  });

  it('writes the prompt, the negative prompt and the settings line as AUTOMATIC1111 does', () => {
    expect(parameters).toBe(
      'a lighthouse, on a cliff\nNegative prompt: blurry\n' +
        'Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x768, Model: sd-1.5, ' +
        'Denoising strength: 0.65, Version: easel',
    );
  });

  it('stores it in a tEXt chunk that reads back, and leaves the picture decodable', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#123456' } })
      .png()
      .toBuffer();
    const tagged = withPngText(png, 'parameters', parameters);
    expect(readPngText(tagged)).toEqual({ parameters });
    expect(tagged.includes(Buffer.from('tEXtparameters'))).toBe(true);
    const meta = await sharp(tagged).metadata();
    expect([meta.width, meta.height]).toEqual([4, 4]);
    // libvips reads it too: the chunk is where other tools look for it.
    expect(meta.comments?.find((c) => c.keyword === 'parameters')?.text).toBe(parameters);
  });

  it('uses an iTXt chunk (UTF-8) for prompts outside Latin-1', async () => {
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const text = '灯台 on a cliff 🌊\nSteps: 20';
    const tagged = withPngText(png, 'parameters', text);
    expect(tagged.includes(Buffer.from('iTXtparameters'))).toBe(true);
    expect(readPngText(tagged).parameters).toBe(text);
    await expect(sharp(tagged).metadata()).resolves.toBeDefined();
  });
});

describe('decoded pictures to RGB bytes', () => {
  it('clamps, rounds as Math.round, reads at an offset and turns NaN into mid-grey', () => {
    // Two 2x1 pictures back to back; the second one is read. Planes: R, G, B.
    const values = [-3, 1.5, 0, 0.5, 1, -1, -1 / 255, Number.NaN];
    const pictures = new Float32Array([...new Array(6).fill(0), ...values.slice(0, 6)]);
    pictures[6 + 5] = Number.NaN;
    const image = planarToRgb(pictures, 6, 2, 1);
    const expected = [-3, 0, 1, 1.5, 0.5, Number.NaN].map((v) =>
      Number.isNaN(v) ? 128 : Math.min(255, Math.max(0, Math.round((v + 1) * 127.5))),
    );
    expect([...image.data]).toEqual(expected);
    expect([image.width, image.height]).toEqual([2, 1]);
  });
});

describe('grid', () => {
  it('lays four pictures out 2x2 and two side by side', async () => {
    const tile = await sharp({ create: { width: 10, height: 8, channels: 3, background: '#f00' } })
      .png()
      .toBuffer();
    const cell = { bytes: tile, width: 10, height: 8 };
    const four = await gridPng([cell, cell, cell, cell]);
    expect([four.width, four.height]).toEqual([24, 20]);
    const two = await gridPng([cell, cell]);
    expect([two.width, two.height]).toEqual([24, 8]);
    const meta = await sharp(four.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([24, 20]);
  });
});

describe('model folders', () => {
  it('names the folder when a model is not installed, and how to install it', () => {
    const entry = tinyEntry('absent', { hub: { repo: 'org/absent-onnx', revision: 'main' } });
    expect(() => requireModelFolder(entry, '/nonexistent-models')).toThrow(
      /model "absent" is not installed: \/nonexistent-models\/absent does not exist\. Install it with: easel models download org\/absent-onnx --revision main/,
    );
  });

  it('names the first missing file of an incomplete model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'easel-folder-'));
    await writeTinyModel(join(dir, 'half'));
    await rm(join(dir, 'half', 'vae_decoder'), { recursive: true });
    expect(() => requireModelFolder(tinyEntry('half'), dir)).toThrow(
      new RegExp(`model "half" is incomplete: ${dir}/half/vae_decoder/model.onnx is missing`),
    );
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts CLIP slow-tokenizer files (vocab.json + merges.txt) instead of tokenizer.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'easel-clip-'));
    // A byte-level BPE vocabulary in CLIP's form: words end in </w>, merges build them.
    const vocab: Record<string, number> = {};
    const add = (t: string) => {
      vocab[t] = Object.keys(vocab).length;
    };
    for (const c of 'abcdefghijklmnopqrstuvwxyz') {
      add(c);
      add(`${c}</w>`);
    }
    for (const t of ['re', 'red</w>', 'ca', 'cat</w>', '<|startoftext|>', '<|endoftext|>']) add(t);
    await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
    await writeFile(join(dir, 'merges.txt'), '#version: 0.2\nr e\nre d</w>\nc a\nca t</w>\n');
    await writeFile(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({
        model_max_length: 77,
        bos_token: '<|startoftext|>',
        eos_token: '<|endoftext|>',
        pad_token: '<|endoftext|>',
      }),
    );
    const tokenizer = await PromptTokenizer.load(dir, 77);
    const { ids } = tokenizer.encode('Red  cat');
    const bos = vocab['<|startoftext|>']!;
    const eos = vocab['<|endoftext|>']!;
    expect(ids.slice(0, 4)).toEqual([bos, vocab['red</w>'], vocab['cat</w>'], eos]);
    expect(ids).toHaveLength(77);
    expect(ids.slice(4).every((id) => id === eos)).toBe(true);
    await rm(dir, { recursive: true, force: true });
  });
});
