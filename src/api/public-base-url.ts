import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.ts';

/**
 * The base of every URL the API hands out (image links, `fetch_result`, webhook bodies). Built from
 * configuration only, never from the request's Host or X-Forwarded-* headers: a client that sends
 * `Host: evil.example` must not get links that point at evil.example (nor poison a cache with them).
 * API_PUBLIC_URL when set, else the address the API listens on.
 */
export function publicBaseUrl(
  config: Pick<Config, 'API_PUBLIC_URL' | 'API_HOST' | 'API_PORT'>,
  listening?: AddressInfo | string | null,
): string {
  if (config.API_PUBLIC_URL) return config.API_PUBLIC_URL.replace(/\/+$/, '');
  // The real port when API_PORT is 0 (a free port picked at listen).
  const port = typeof listening === 'object' && listening !== null ? listening.port : config.API_PORT;
  return `http://${hostForUrl(config.API_HOST)}:${port}`;
}

const WILDCARDS = ['0.0.0.0', '::', '[::]', ''];

/** A wildcard listen address reaches this machine as loopback; IPv6 literals take brackets. */
function hostForUrl(host: string): string {
  if (WILDCARDS.includes(host)) return host.includes(':') ? '[::1]' : '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * True when the API listens on every address but has no API_PUBLIC_URL: the links it hands out then
 * say loopback, which works only on this machine (the api role warns at start).
 */
export function needsPublicUrl(config: Pick<Config, 'API_PUBLIC_URL' | 'API_HOST'>): boolean {
  return !config.API_PUBLIC_URL && WILDCARDS.includes(config.API_HOST);
}
