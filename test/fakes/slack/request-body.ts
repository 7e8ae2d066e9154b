import type { IncomingMessage } from 'node:http';

/**
 * Reads a Web API request body the way Slack does: form-encoded (what `@slack/web-api` sends, with
 * objects such as `blocks` as JSON strings), JSON, or multipart (binary uploads).
 */
export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export type Args = Record<string, unknown>;

/** Values Slack documents as JSON-encoded inside a form body. */
const JSON_FIELDS = new Set(['blocks', 'attachments', 'view', 'files', 'metadata']);

export async function parseArgs(req: IncomingMessage, raw: Buffer): Promise<Args> {
  const type = String(req.headers['content-type'] ?? '');
  let args: Args = {};
  if (type.startsWith('application/json')) {
    args = raw.length ? (JSON.parse(raw.toString('utf8')) as Args) : {};
  } else if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake.local/', {
      method: 'POST',
      headers: { 'content-type': type },
      body: raw,
    }).formData();
    for (const [key, value] of form.entries()) {
      args[key] = typeof value === 'string' ? value : Buffer.from(await value.arrayBuffer());
    }
  } else {
    for (const [key, value] of new URLSearchParams(raw.toString('utf8'))) args[key] = value;
  }
  for (const key of JSON_FIELDS) {
    const value = args[key];
    if (typeof value === 'string') {
      try {
        args[key] = JSON.parse(value);
      } catch {
        // Left as the string: the method answers `invalid_blocks` or the like.
      }
    }
  }
  return args;
}
