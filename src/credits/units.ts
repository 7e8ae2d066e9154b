/**
 * Credits are kept in Redis as whole milli-credits, so fractional prices (0.5 a variation) add up
 * exactly in Lua, whose numbers are doubles. Members only ever see credits.
 */
export function toMilli(credits: number): number {
  return Math.round(credits * 1000);
}

export function fromMilli(milli: number | string): number {
  return Number(milli) / 1000;
}

const DAY_MS = 86_400_000;

/** Days since the epoch in UTC: the allowance's day, which changes at 00:00 UTC. */
export function utcDay(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

export function nextUtcMidnight(ms: number): number {
  return (utcDay(ms) + 1) * DAY_MS;
}
