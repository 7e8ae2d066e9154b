import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { SafetensorsFile } from '../safetensors/safetensors-file.ts';

/**
 * The short hashes AUTOMATIC1111 records for LoRAs and embeddings (`Lora hashes`, `TI hashes`), so
 * tools that look files up by them (civitai, A1111's own PNG info) find ours: the first 12 hex digits
 * of a SHA-256. For a LoRA, kohya's `sshs_model_hash` when the file carries one, else the "addnet"
 * hash of the tensor bytes after the header; for an embedding, of the whole file. Files are hashed
 * once per size and modification time.
 */
const cache = new Map<string, string>();

async function sha256(path: string, start: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { start })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function cached(path: string, kind: string, compute: () => Promise<string>): Promise<string> {
  const { size, mtimeMs } = await stat(path);
  const key = `${kind}|${path}|${size}|${mtimeMs}`;
  let value = cache.get(key);
  if (value === undefined) {
    value = await compute();
    cache.set(key, value);
  }
  return value;
}

export function loraShortHash(path: string): Promise<string> {
  return cached(path, 'lora', async () => {
    const file = await SafetensorsFile.open(path);
    try {
      const own = file.metadata.sshs_model_hash;
      if (typeof own === 'string' && /^[0-9a-f]{12,64}$/i.test(own)) return own.slice(0, 12).toLowerCase();
      return (await sha256(path, file.dataStart)).slice(0, 12);
    } finally {
      await file.close();
    }
  });
}

export function embeddingShortHash(path: string): Promise<string> {
  return cached(path, 'embedding', async () => (await sha256(path, 0)).slice(0, 12));
}
