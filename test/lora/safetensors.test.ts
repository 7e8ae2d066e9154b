import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toHalf } from '../../src/engine/float16.ts';
import { encodeSafetensors } from '../../src/engine/safetensors/encode-safetensors.ts';
import { SafetensorsFile, withSafetensors } from '../../src/engine/safetensors/safetensors-file.ts';
import { CodedError } from '../../src/errors/coded-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'easel-safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
function file(bytes: Uint8Array): string {
  const path = join(dir, `f${count++}.safetensors`);
  writeFileSync(path, bytes);
  return path;
}

/** A file with a hand-written header and `data` after it. */
function raw(header: string | object, data = new Uint8Array(0), declared?: bigint): string {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return file(out);
}

async function refusal(path: string): Promise<string> {
  const error = await SafetensorsFile.open(path).then(
    async (f) => {
      await f.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CodedError);
  expect((error as CodedError).code).toBe('model-invalid');
  return (error as Error).message.replace(`${path} is not a valid safetensors file: `, '');
}

describe('reading safetensors files', () => {
  it('reads F32, F16 and BF16 tensors as float32, each only when asked for, and the metadata', async () => {
    const bf16 = new Uint16Array([0x3f80, 0xc040]); // 1, -3
    const path = raw(
      {
        __metadata__: { ss_network_dim: '4' },
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F16', shape: [1, 2], data_offsets: [8, 12] },
        c: { dtype: 'BF16', shape: [2], data_offsets: [12, 16] },
      },
      new Uint8Array([
        ...new Uint8Array(new Float32Array([0.5, -2]).buffer),
        ...new Uint8Array(new Uint16Array([toHalf(0.25), toHalf(8)]).buffer),
        ...new Uint8Array(bf16.buffer),
      ]),
    );
    await withSafetensors(path, async (f) => {
      expect(f.metadata).toEqual({ ss_network_dim: '4' });
      expect([...f.tensors.keys()]).toEqual(['a', 'b', 'c']);
      expect(f.tensors.get('b')).toMatchObject({ dtype: 'F16', shape: [1, 2] });
      expect([...(await f.readFloat32('c'))]).toEqual([1, -3]);
      expect([...(await f.readFloat32('a'))]).toEqual([0.5, -2]);
      expect([...(await f.readFloat32('b'))]).toEqual([0.25, 8]);
    });
  });

  it('reads back what the encoder writes, its header padded to 8 bytes', async () => {
    const bytes = encodeSafetensors({ x: { dtype: 'F16', shape: [3], values: new Float32Array([1, 2, 3]) } });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    await withSafetensors(file(bytes), async (f) =>
      expect([...(await f.readFloat32('x'))]).toEqual([1, 2, 3]),
    );
  });

  it('refuses a header size that claims more bytes than the file has', async () => {
    expect(await refusal(raw({}, new Uint8Array(0), 5000n))).toBe(
      'its header claims 5000 bytes but only 2 follow the length',
    );
  });

  it('refuses a header over 100 MB without reading it', async () => {
    expect(await refusal(raw({}, new Uint8Array(0), 200_000_000n))).toBe(
      'its header claims 200000000 bytes, over the 104857600-byte limit',
    );
  });

  it('refuses a file shorter than the header length', async () => {
    expect(await refusal(file(new Uint8Array(3)))).toBe(
      'it has 3 bytes, fewer than the 8-byte header length',
    );
  });

  it('refuses a header that is not JSON, or not a JSON object', async () => {
    expect(await refusal(raw('{"a": '))).toMatch(/^its header is not JSON \(/);
    expect(await refusal(raw('[1, 2]'))).toBe('its header is not a JSON object');
  });

  it('refuses offsets out of range and tensors that overlap', async () => {
    const data = new Uint8Array(8);
    expect(await refusal(raw({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data))).toBe(
      'tensor "a" lies at bytes 0-16, outside the 8 data bytes',
    );
    expect(await refusal(raw({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, data))).toBe(
      'tensor "a" lies at bytes 4-0, outside the 8 data bytes',
    );
    expect(
      await refusal(
        raw(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          data,
        ),
      ),
    ).toBe('tensors "a" and "b" overlap');
  });

  it('refuses a shape that does not match the byte length', async () => {
    expect(
      await refusal(raw({ a: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 8] } }, new Uint8Array(8))),
    ).toBe('tensor "a" is F16[2, 3] (12 bytes) but holds 8 bytes');
    expect(
      await refusal(raw({ a: { dtype: 'F16', shape: [-1], data_offsets: [0, 2] } }, new Uint8Array(2))),
    ).toBe('tensor "a" has no valid shape');
  });

  it('refuses a dtype safetensors does not define, and names a defined one it does not read', async () => {
    expect(
      await refusal(raw({ a: { dtype: 'F12', shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2))),
    ).toBe('tensor "a" has dtype "F12", which safetensors does not define');
    const path = raw({ a: { dtype: 'I8', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2));
    await withSafetensors(path, async (f) => {
      await expect(f.readFloat32('a')).rejects.toThrow(
        `${path}: tensor "a" is I8; easel reads F32, F16 and BF16 tensors`,
      );
    });
  });
});
