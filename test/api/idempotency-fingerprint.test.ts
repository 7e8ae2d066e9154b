import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { bodyFingerprint } from '../../src/api/idempotency-key.ts';
import { readJsonBody } from '../../src/api/json-body-reader.ts';
import { LARGE_VALUE_PLACEHOLDER } from '../../src/api/large-body-values.ts';

const MB = 1024 * 1024;

/** The body and its held values as the server's reader makes them from `text`, sent in 64 KB chunks. */
async function read(text: string) {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 65_536) chunks.push(bytes.subarray(i, i + 65_536));
  const { body, largeValues } = await readJsonBody(
    Readable.from(chunks),
    { 'content-length': String(bytes.length) },
    { maxBytes: 20 * MB, largeValueFields: new Set(['init_image', 'mask_image']) },
  );
  return { body: body as Record<string, unknown>, largeValues };
}

describe('bodyFingerprint', () => {
  const image = `data:image/png;base64,${Buffer.alloc(300_000, 7).toString('base64')}`;

  it('is the same whether the image was held aside or parsed as a string', async () => {
    const text = JSON.stringify({ key: 'esk_a', prompt: 'a cat', init_image: image, seed: 3 });
    const held = await read(text);
    expect(held.body.init_image).toBe(LARGE_VALUE_PLACEHOLDER);
    expect(held.largeValues.get('init_image')?.length).toBe(image.length);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(await bodyFingerprint(held.body, held.largeValues)).toBe(await bodyFingerprint(parsed));
  });

  it('is the same for escapes that decode to the same value, and for reordered fields', async () => {
    const plain = await read(JSON.stringify({ prompt: 'a cat', init_image: image, seed: 3 }));
    const escaped = await read(
      `{"seed":3,"init_image":"${image.replace('/', '\\/').replace('data', '\\u0064ata')}","prompt":"a cat"}`,
    );
    expect(await bodyFingerprint(escaped.body, escaped.largeValues)).toBe(
      await bodyFingerprint(plain.body, plain.largeValues),
    );
  });

  it('ignores the key and tells a different image or field apart', async () => {
    const base = await read(JSON.stringify({ key: 'esk_a', prompt: 'a cat', init_image: image }));
    const otherKey = await read(JSON.stringify({ key: 'esk_b', prompt: 'a cat', init_image: image }));
    const otherImage = await read(
      JSON.stringify({ prompt: 'a cat', init_image: `${image.slice(0, -4)}AAAA` }),
    );
    const otherField = await read(JSON.stringify({ prompt: 'a cat', mask_image: image }));
    const fingerprint = await bodyFingerprint(base.body, base.largeValues);
    expect(await bodyFingerprint(otherKey.body, otherKey.largeValues)).toBe(fingerprint);
    expect(await bodyFingerprint(otherImage.body, otherImage.largeValues)).not.toBe(fingerprint);
    expect(await bodyFingerprint(otherField.body, otherField.largeValues)).not.toBe(fingerprint);
  });

  it('tells a number from the same digits as text', async () => {
    expect(await bodyFingerprint({ seed: 3 })).not.toBe(await bodyFingerprint({ seed: '3' }));
  });
});
