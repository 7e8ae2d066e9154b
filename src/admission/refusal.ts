import { refusalText } from '../refusals/refusal-text.ts';
import type { AdmissionRefusal, AdmissionRefused, RefusalReason } from './types.ts';

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
): AdmissionRefusal {
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
