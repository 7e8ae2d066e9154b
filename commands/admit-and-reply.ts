import type { AdmissionRefused } from '../src/admission/types.ts';
import type { Services } from '../src/app/services.ts';
import { isUserError, UserError } from '../src/errors/user-error.ts';
import type { MemberRef } from '../src/members/member-ref.ts';
import type { Origin } from '../src/queue/job-data.ts';
import { promptWarnings } from '../src/request/prompt-warnings.ts';
import type { GenerationRequest } from '../src/request/types.ts';

/**
 * Admission's answer as a command's reply, shared by `/imagine`, the buttons and confirmed
 * batches: accepted with the job, its cost and place in line, or refused with a `UserError`.
 */

/** What a command hands back for the platform to show. Refusals are values, never throws. */
export type CommandReply =
  | {
      status: 'accepted';
      jobId: string;
      cost: number;
      /** 1-based place among waiting jobs (0 when a repeated request found its job already running or done). */
      position: number;
      etaSeconds?: number;
      /** Credits left after this job's reservation. */
      balance: number;
      /** The request as validated: the seed actually used, sizes from the aspect ratio, defaults. */
      request: GenerationRequest;
      /** What the member should know although it is no reason to refuse (a prompt the model cannot draw). */
      warnings: string[];
    }
  | { status: 'refused'; error: UserError };

/** Admission's refusal as the `UserError` every frontend already knows how to show. */
export function refusalError(refused: AdmissionRefused): UserError {
  return UserError.refused(refused.refusal, {
    reason: refused.reason,
    ...(refused.retryAfter !== undefined ? { retryAfter: refused.retryAfter } : {}),
  });
}

/** Admits a validated request and turns the outcome into a reply; `UserError`s thrown on the way are refusals. */
export async function admitAndReply(
  // Without a registry (button presses repeat a prompt the member was already told about) no warnings.
  services: Pick<Services, 'admission'> & Partial<Pick<Services, 'registry'>>,
  input: {
    requestId: string;
    member: MemberRef;
    origin: Origin;
    request: GenerationRequest;
    allowRepeat?: boolean;
    followUp?: boolean;
  },
): Promise<CommandReply> {
  try {
    const result = await services.admission.admit(input);
    if (!result.accepted) return { status: 'refused', error: refusalError(result) };
    return {
      status: 'accepted',
      jobId: result.jobId,
      cost: result.cost,
      position: result.position,
      ...(result.etaSeconds !== undefined ? { etaSeconds: result.etaSeconds } : {}),
      balance: result.balance,
      request: input.request,
      warnings: services.registry ? promptWarnings(input.request, services.registry) : [],
    };
  } catch (error) {
    if (isUserError(error)) return { status: 'refused', error };
    throw error;
  }
}
