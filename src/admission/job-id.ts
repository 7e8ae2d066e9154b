import { hash } from 'node:crypto';
import type { ScopeRef } from '../members/member-ref.ts';

/**
 * A generate job's id, derived from the platform's request id within its scope: the same request
 * (a retried interaction, an API call repeated with its idempotency key) always names the same
 * job, which is what makes admission idempotent. Short, since buttons carry it (custom_id ≤ 100),
 * and never all digits or with a colon (BullMQ refuses such custom ids).
 */
export function jobIdFor(scope: ScopeRef, requestId: string): string {
  // crypto.hash: the one-shot sha256, cheaper than createHash for a short text.
  const digest = hash('sha256', `${scope.kind}\n${scope.id}\n${requestId}`, 'hex');
  return `g${digest.slice(0, 24)}`;
}
