import type { MemberRef } from '../members/member-ref.ts';
import type { Origin } from '../queue/job-data.ts';
import type { Refusal } from '../refusals/refusal.ts';
import type { GenerationRequest } from '../request/types.ts';

/** What every frontend hands to admission (`admit`). */
export interface AdmissionInput {
  /** Idempotency key: Discord interaction id, Slack trigger id, API idempotency key. */
  requestId: string;
  member: MemberRef;
  request: GenerationRequest;
  origin: Origin;
  /**
   * An explicit reroll: the same prompt again on purpose, with a new seed. The duplicate filter then
   * compares the seed too, so it does not take the reroll for spam.
   */
  allowRepeat?: boolean;
  /**
   * Acting on a finished result (a button: U, V, Reroll, Vary, Zoom Out, Upscale, Inpaint) rather
   * than a new prompt: the cooldown, which spaces new prompts, does not apply and is not restarted.
   * The pending cap, credits and the scope's budget still do.
   */
  followUp?: boolean;
}

export type RefusalReason =
  | 'suspended'
  | 'rate-limited'
  | 'cooldown'
  | 'pending-cap'
  | 'scope-budget'
  | 'insufficient-credits'
  | 'banned-word'
  | 'over-limits';

/** Admission's refusals: those of the refusal catalogue (src/refusals/refusal.ts) the admission script gives. */
export type AdmissionRefusal = Extract<Refusal, { reason: RefusalReason }>;

export interface AdmissionAccepted {
  accepted: true;
  jobId: string;
  /** 1-based position among waiting jobs. */
  position: number;
  cost: number;
  /** Credits left after the reservation (allowance + granted). */
  balance: number;
  /** Estimated seconds until the result, when known. */
  etaSeconds?: number;
}

export interface AdmissionRefused {
  accepted: false;
  reason: RefusalReason;
  /** The refusal's parameters, for each frontend to render in its own markup (src/refusals/refusal-text.ts). */
  refusal: AdmissionRefusal;
  /** The refusal as plain text, e.g. "Rate limit exceeded: wait 27 seconds." (the REST API, logs). */
  message: string;
  /** Seconds to wait before trying again, for rate limits and cooldowns. */
  retryAfter?: number;
}

export type AdmissionResult = AdmissionAccepted | AdmissionRefused;
