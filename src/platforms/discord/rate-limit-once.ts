import { type RateLimitData, type REST, RESTEvents, type ResponseLike } from 'discord.js';

/** Longest 429 `retry_after` worth waiting in place; longer ones fail the attempt (BullMQ retries later). */
const MAX_RATE_LIMIT_WAIT_MS = 30_000;

/**
 * discord.js's REST waits out a 429 and tries again, with no bound: a route that keeps answering
 * 429 would be retried forever, and Discord bans bots that pile up invalid requests. This policy
 * lets the first 429 of a request be waited out (when `retry_after` is reasonable) and turns the
 * second one into a `RateLimitError`, which fails the delivery attempt instead of looping.
 *
 * A request is recognised across its retries by discord.js's per-request data object, which the
 * `response` event carries; `rejectOnRateLimit` only sees the method and URL, so the count of the
 * latest 429 is kept by method and path as well.
 */
export function rateLimitOncePolicy(): {
  rejectOnRateLimit: (data: RateLimitData) => boolean;
  attach(rest: REST): void;
} {
  const perRequest = new WeakMap<object, number>();
  const latestByPath = new Map<string, number>();
  const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;
  return {
    rejectOnRateLimit(data) {
      if (data.retryAfter > MAX_RATE_LIMIT_WAIT_MS) return true;
      const path = new URL(data.url).pathname;
      for (const [k, count] of latestByPath) {
        if (k.startsWith(`${data.method.toUpperCase()} `) && path.endsWith(k.slice(k.indexOf(' ') + 1))) {
          return count > 1;
        }
      }
      return false;
    },
    attach(rest) {
      rest.on(RESTEvents.Response, (request, response: ResponseLike) => {
        const k = key(request.method, request.path);
        if (response.status !== 429) {
          latestByPath.delete(k);
          return;
        }
        const count = (perRequest.get(request.data) ?? 0) + 1;
        perRequest.set(request.data, count);
        latestByPath.set(k, count);
      });
    },
  };
}
