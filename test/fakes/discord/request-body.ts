import type { IncomingMessage } from 'node:http';

/** A file a client uploaded in a multipart request (`files[n]`). */
export interface UploadedFile {
  field: string;
  name: string;
  contentType: string;
  bytes: Buffer;
}

export interface ParsedBody {
  json: Record<string, unknown> | undefined;
  files: UploadedFile[];
  rawBytes: number;
}

export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Reads a Discord API request body the way Discord does: JSON, or multipart/form-data with the
 * message in `payload_json` and each file in `files[n]`. Multipart is parsed by the platform's own
 * `Request.formData()` so the fake accepts exactly what a standards-following server would.
 */
export async function parseBody(req: IncomingMessage, raw: Buffer): Promise<ParsedBody> {
  const type = req.headers['content-type'] ?? '';
  if (raw.length === 0) return { json: undefined, files: [], rawBytes: 0 };
  if (type.startsWith('application/json')) {
    return {
      json: JSON.parse(raw.toString('utf8')) as Record<string, unknown>,
      files: [],
      rawBytes: raw.length,
    };
  }
  if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake.invalid/', {
      method: 'POST',
      headers: { 'content-type': type },
      body: raw,
    }).formData();
    let json: Record<string, unknown> | undefined;
    const files: UploadedFile[] = [];
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') json = JSON.parse(value) as Record<string, unknown>;
        continue;
      }
      files.push({
        field,
        name: value.name,
        contentType: value.type,
        bytes: Buffer.from(await value.arrayBuffer()),
      });
    }
    return { json, files, rawBytes: raw.length };
  }
  throw new Error(`unsupported content-type ${type}`);
}
