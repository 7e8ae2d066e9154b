import { connect } from 'node:net';

/**
 * One HTTP/1.1 request over a bare socket, for what fetch cannot do: declare a body and hold it
 * back, or send it chunk by chunk and see when the server answers. `body` chunks are written in
 * order, waiting for the socket to drain; writing stops once the answer has arrived.
 */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: a parsed JSON answer, asserted on field by field
  body: any;
  /** Body bytes written before the answer came. */
  bytesSent: number;
}

export function rawRequest(
  url: string,
  request: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer[] },
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const received: Buffer[] = [];
    let answered = false;
    let bytesSent = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms (${bytesSent} body bytes sent)`));
    }, timeoutMs);

    const tryParse = () => {
      const raw = Buffer.concat(received);
      const split = raw.indexOf('\r\n\r\n');
      if (split === -1) return;
      const head = raw.subarray(0, split).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      const body = raw.subarray(split + 4);
      if (body.length < length) return;
      answered = true;
      clearTimeout(timer);
      const text = body.subarray(0, length).toString('utf8');
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text
      }
      resolve({ status: Number(head[0]!.split(' ')[1]), headers, body: parsed, bytesSent });
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      tryParse();
    });
    socket.on('error', (error) => {
      if (answered) return;
      // The server may close while we still write; its answer may already be in.
      tryParse();
      if (!answered) {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on('connect', async () => {
      const headers = { host: `${hostname}:${port}`, ...request.headers };
      const head = `${request.method ?? 'POST'} ${request.path} HTTP/1.1\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n`;
      socket.write(head);
      for (const chunk of request.body ?? []) {
        if (answered || socket.destroyed) return;
        bytesSent += chunk.length;
        if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
      }
    });
  });
}

/** `bytes` of body cut into 64 KB chunks, each a fresh buffer. */
export function chunked(bytes: Buffer, size = 65_536): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}
