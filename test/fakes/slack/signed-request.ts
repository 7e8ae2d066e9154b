import { createHmac } from 'node:crypto';

/**
 * Sends a request to the app's HTTP endpoint the way Slack does: a form body signed with the
 * signing secret, `X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{rawBody}")` and
 * `X-Slack-Request-Timestamp` (seconds).
 */
export function signature(secret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

export interface SignedPostOptions {
  /** Seconds since epoch; defaults to now. */
  timestamp?: number;
  /** Overrides the computed signature (to send a bad one). */
  signature?: string;
}

export interface SlackHttpAnswer {
  status: number;
  text: string;
  /** The body parsed as JSON when it is JSON. */
  json?: Record<string, unknown>;
  /** ms from sending to the answer. */
  ms: number;
}

export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** Interactive payloads (buttons, modal submissions) arrive as `payload=<json>`. */
export function interactiveBody(payload: Record<string, unknown>): string {
  return formBody({ payload: JSON.stringify(payload) });
}

export async function postSigned(
  url: string,
  secret: string,
  rawBody: string,
  options: SignedPostOptions = {},
): Promise<SlackHttpAnswer> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': options.signature ?? signature(secret, timestamp, rawBody),
    },
    body: rawBody,
  });
  const text = await res.text();
  const ms = performance.now() - started;
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, ms };
}
