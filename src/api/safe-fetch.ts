import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { isPublicAddress } from './public-address.ts';

/**
 * Outbound HTTP for addresses that API clients choose (init_image URLs, webhooks). A client must
 * never make easel reach something only easel can reach: loopback, the private network, link-local
 * cloud metadata (169.254.169.254), unique-local IPv6 or carrier-grade NAT. So the name is resolved
 * here, every address it resolves to is checked, and the connection is pinned to the checked address
 * (no second resolution an attacker could answer differently). Each redirect hop is checked the same
 * way. Bodies and time are bounded.
 */

export type Resolver = (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;

export interface SafeFetchOptions {
  /** API_ALLOW_PRIVATE_FETCH: every address is allowed (tests, trusted networks). */
  allowPrivate?: boolean;
  /** Replaces DNS (tests point names at chosen addresses). */
  resolver?: Resolver;
  /** Replaces the address rule (tests treat their loopback server as "public"). */
  addressAllowed?: (address: string) => boolean;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Largest response body accepted. */
  maxBytes?: number;
  /** Whole exchange, all redirects included. */
  timeoutMs?: number;
  maxRedirects?: number;
}

export interface SafeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered, after redirects. */
  url: string;
}

/** Why a fetch was refused or failed; `message` is written for the API client. */
export class SafeFetchError extends Error {
  override readonly name = 'SafeFetchError';
  constructor(
    readonly code:
      | 'bad-url'
      | 'blocked-address'
      | 'dns'
      | 'too-large'
      | 'timeout'
      | 'too-many-redirects'
      | 'network',
    message: string,
  ) {
    super(message);
  }
}

const DEFAULTS = { maxBytes: 10 * 1024 * 1024, timeoutMs: 10_000, maxRedirects: 5 };

const systemResolver: Resolver = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Parses a client-given URL, refusing anything but http(s) with a host. */
export function parseOutboundUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SafeFetchError('bad-url', 'is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SafeFetchError('bad-url', `must be an http or https URL, not ${url.protocol}`);
  }
  if (!url.hostname) throw new SafeFetchError('bad-url', 'has no host');
  return url;
}

/**
 * Resolves the URL's host and checks every address; returns the one to connect to. Refuses when any
 * answer is not allowed, so a name with one public and one private record cannot be used.
 */
export async function resolveAllowed(
  url: URL,
  options: SafeFetchOptions = {},
): Promise<{ address: string; family: 4 | 6 }> {
  const allowed = options.allowPrivate ? () => true : (options.addressAllowed ?? isPublicAddress);
  // URL keeps IPv6 literals in brackets.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let answers: { address: string; family: 4 | 6 }[];
  if (ipaddr.isValid(host)) {
    answers = [{ address: host, family: host.includes(':') ? 6 : 4 }];
  } else {
    try {
      answers = await (options.resolver ?? systemResolver)(host);
    } catch {
      throw new SafeFetchError('dns', `host ${host} could not be resolved`);
    }
    if (answers.length === 0) throw new SafeFetchError('dns', `host ${host} could not be resolved`);
  }
  const blocked = answers.find((a) => !allowed(a.address));
  if (blocked) {
    const via = blocked.address === host ? '' : ` (${host} resolves to ${blocked.address})`;
    throw new SafeFetchError(
      'blocked-address',
      `points to a private, loopback or link-local address${via}; only public addresses are allowed`,
    );
  }
  return answers[0]!;
}

/** One request to a checked address; no redirects followed here. */
function requestOnce(
  url: URL,
  pinned: { address: string; family: 4 | 6 },
  options: SafeFetchOptions,
  deadline: number,
): Promise<SafeResponse> {
  const maxBytes = options.maxBytes ?? DEFAULTS.maxBytes;
  // The socket connects to the address we checked, whatever DNS says now (no rebinding window).
  const lookup: LookupFunction = (_hostname, opts, callback) => {
    if (opts.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  };
  const transport = url.protocol === 'https:' ? https : http;
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.reject(new SafeFetchError('timeout', 'took too long to answer'));

  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'user-agent': 'easel', ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = transport.request(url, {
      method: options.method ?? 'GET',
      headers,
      lookup,
      agent: false,
      timeout: remaining,
    });
    const timer = setTimeout(
      () => req.destroy(new SafeFetchError('timeout', 'took too long to answer')),
      remaining,
    );
    const fail = (error: unknown) => {
      clearTimeout(timer);
      reject(
        error instanceof SafeFetchError
          ? error
          : new SafeFetchError('network', `could not be fetched (${(error as Error).message})`),
      );
    };
    req.on('timeout', () => req.destroy(new SafeFetchError('timeout', 'took too long to answer')));
    req.on('error', fail);
    req.on('response', (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        req.destroy(new SafeFetchError('too-large', `is larger than ${formatBytes(maxBytes)}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          req.destroy(new SafeFetchError('too-large', `is larger than ${formatBytes(maxBytes)}`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          url: url.href,
        });
      });
    });
    req.end(options.body);
  });
}

/**
 * Fetches a client-given URL safely. Throws `SafeFetchError` (never connects) for a refused address;
 * follows up to `maxRedirects` redirects, checking each target; a 303 (or a 301/302 after POST)
 * continues as GET without a body, as browsers do.
 */
export async function safeFetch(rawUrl: string, options: SafeFetchOptions = {}): Promise<SafeResponse> {
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULTS.timeoutMs);
  const maxRedirects = options.maxRedirects ?? DEFAULTS.maxRedirects;
  let url = parseOutboundUrl(rawUrl);
  let current = options;
  for (let hop = 0; ; hop++) {
    const pinned = await resolveAllowed(url, current).catch((error: unknown) => {
      if (hop > 0 && error instanceof SafeFetchError) {
        throw new SafeFetchError(error.code, `redirected to ${url.host}, which ${error.message}`);
      }
      throw error;
    });
    const response = await requestOnce(url, pinned, current, deadline);
    const location = response.headers.location;
    if (response.status < 300 || response.status >= 400 || response.status === 304 || !location) {
      return response;
    }
    if (hop >= maxRedirects) throw new SafeFetchError('too-many-redirects', 'redirected too many times');
    try {
      url = parseOutboundUrl(new URL(location, url).href);
    } catch (error) {
      if (error instanceof SafeFetchError) {
        throw new SafeFetchError('bad-url', `redirected to a URL that ${error.message}`);
      }
      throw error;
    }
    if (
      response.status === 303 ||
      ((response.status === 301 || response.status === 302) && current.method === 'POST')
    ) {
      const { body: _body, ...rest } = current;
      current = { ...rest, method: 'GET' };
    }
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MB` : `${Math.round(bytes / 1024)} KB`;
}
