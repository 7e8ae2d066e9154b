import type { AdmissionRefused, RefusalReason } from './types.ts';

/** Turns the admission script's refusal into the sentence a member reads. */
export function refusal(
  reason: RefusalReason,
  retryAfterMs: number,
  detail: string,
  context: { cost: number; scopeNoun: string },
): AdmissionRefused {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const retryAfter = retryAfterMs > 0 ? seconds : undefined;
  const base = { accepted: false as const, reason, ...(retryAfter ? { retryAfter } : {}) };
  switch (reason) {
    case 'suspended':
      return { ...base, message: `You are suspended from generating images in this ${context.scopeNoun}.` };
    case 'rate-limited':
      // The hosted APIs' spam filter: the same request again within the duplicate window.
      return {
        ...base,
        message: `Rate limit exceeded: you just sent this same request; try again in ${plural(seconds, 'second')}, or change the prompt.`,
      };
    case 'cooldown':
      return { ...base, message: `You're on cooldown: try again in ${plural(seconds, 'second')}.` };
    case 'pending-cap':
      return {
        ...base,
        message: `You already have ${plural(Number(detail), 'job')} waiting or rendering, the most allowed; try again when one finishes.`,
      };
    case 'scope-budget':
      return {
        ...base,
        message: `This ${context.scopeNoun} has used its daily image budget; it resets in ${duration(seconds)} (00:00 UTC).`,
      };
    case 'banned-word':
      return {
        ...base,
        message: `Your prompt contains a word not allowed in this ${context.scopeNoun}: "${detail}".`,
      };
    case 'over-limits': {
      const [what, limit] = detail.split(':');
      const n = Number(limit);
      const side = Math.floor(Math.sqrt(n));
      return {
        ...base,
        message:
          what === 'steps'
            ? `steps: your tier allows at most ${n} steps.`
            : `size: your tier allows images of at most ${n.toLocaleString('en-US')} pixels (about ${side}x${side}).`,
      };
    }
    case 'insufficient-credits': {
      const have = Number(detail) / 1000;
      const reset = retryAfter ? ` Your daily allowance resets in ${duration(seconds)} (00:00 UTC).` : '';
      return {
        ...base,
        message: `Not enough credits: this costs ${plural(context.cost, 'credit')} and you have ${plural(have, 'credit')}.${reset}`,
      };
    }
  }
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

function duration(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return plural(m, 'minute');
  return m === 0 ? plural(h, 'hour') : `${h} h ${m} min`;
}
