import type { AdmissionRefused, Refusal, RefusalReason } from './types.ts';

/**
 * Each refusal's sentence, from its identifier and parameters (the `Refusal` values admission
 * returns). Each frontend renders it with its own markup (Discord escapes markdown in the quoted
 * word, Slack its mrkdwn); the REST API shows the plain text.
 */

/** How a platform shows text the member (or an admin) wrote inside a sentence of easel's. */
export interface RefusalMarkup {
  literal(text: string): string;
}

const PLAIN: RefusalMarkup = { literal: (text) => text };

/** The admission script's refusal (reason, wait, detail) as a refusal value. */
export function readRefusal(
  reason: RefusalReason,
  retryAfterMs: number,
  detail: string,
  context: { cost: number; scopeNoun: string },
): AdmissionRefused {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const retryAfter = retryAfterMs > 0 ? seconds : undefined;
  const refusal = refusalOf(reason, seconds, retryAfter, detail, context);
  return {
    accepted: false,
    reason,
    refusal,
    message: refusalText(refusal),
    ...(retryAfter ? { retryAfter } : {}),
  };
}

function refusalOf(
  reason: RefusalReason,
  seconds: number,
  retryAfter: number | undefined,
  detail: string,
  context: { cost: number; scopeNoun: string },
): Refusal {
  const { scopeNoun } = context;
  switch (reason) {
    case 'suspended':
      return { reason, scopeNoun };
    case 'rate-limited':
    case 'cooldown':
      return { reason, seconds };
    case 'pending-cap':
      return { reason, jobs: Number(detail) };
    case 'scope-budget':
      return { reason, scopeNoun, seconds };
    case 'banned-word':
      return { reason, scopeNoun, word: detail };
    case 'over-limits': {
      const [what, limit] = detail.split(':');
      return { reason, limit: what === 'steps' ? 'steps' : 'size', max: Number(limit) };
    }
    case 'insufficient-credits':
      return {
        reason,
        cost: context.cost,
        have: Number(detail) / 1000,
        ...(retryAfter ? { resetSeconds: seconds } : {}),
      };
  }
}

/** The sentence a member reads for a refusal, in the given platform's markup (plain by default). */
export function refusalText(refusal: Refusal, markup: RefusalMarkup = PLAIN): string {
  switch (refusal.reason) {
    case 'suspended':
      return `You are suspended from generating images in this ${refusal.scopeNoun}.`;
    case 'rate-limited':
      // The hosted APIs' spam filter: the same request again within the duplicate window.
      return `Rate limit exceeded: you just sent this same request; try again in ${plural(refusal.seconds, 'second')}, or change the prompt.`;
    case 'cooldown':
      return `You're on cooldown: try again in ${plural(refusal.seconds, 'second')}.`;
    case 'pending-cap':
      return `You already have ${plural(refusal.jobs, 'job')} waiting or rendering, the most allowed; try again when one finishes.`;
    case 'scope-budget':
      return `This ${refusal.scopeNoun} has used its daily image budget; it resets in ${duration(refusal.seconds)} (00:00 UTC).`;
    case 'banned-word':
      return `Your prompt contains a word not allowed in this ${refusal.scopeNoun}: "${markup.literal(refusal.word)}".`;
    case 'over-limits': {
      if (refusal.limit === 'steps') return `steps: your tier allows at most ${refusal.max} steps.`;
      const side = Math.floor(Math.sqrt(refusal.max));
      return `size: your tier allows images of at most ${refusal.max.toLocaleString('en-US')} pixels (about ${side}x${side}).`;
    }
    case 'insufficient-credits': {
      const reset =
        refusal.resetSeconds !== undefined
          ? ` Your daily allowance resets in ${duration(refusal.resetSeconds)} (00:00 UTC).`
          : '';
      return `Not enough credits: this costs ${plural(refusal.cost, 'credit')} and you have ${plural(refusal.have, 'credit')}.${reset}`;
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
