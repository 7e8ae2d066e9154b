import type { AdmissionRefused, RefusalReason } from '../src/admission/types.ts';
import type { Services } from '../src/app/services.ts';
import { isUserError, UserError, type UserErrorIdentifier } from '../src/errors/user-error.ts';
import type { MemberRef } from '../src/members/member-ref.ts';
import type { Origin } from '../src/queue/job-data.ts';
import { defaultModelId } from '../src/request/default-model.ts';
import { type DiscordImagineOptions, fromDiscordOptions } from '../src/request/discord-options.ts';
import { parsePromptFlags } from '../src/request/prompt-flags.ts';
import { promptWarnings } from '../src/request/prompt-warnings.ts';
import type { GenerationRequest } from '../src/request/types.ts';
import { invalidRequestError, validateRequest } from '../src/request/validate-request.ts';

/**
 * `/imagine`, written once for every platform: Discord, Slack and the CLI turn their event into an
 * `ImagineInput`, call `handleImagine`, and draw the `CommandReply` their own way. Validation (every
 * bad field at once) happens before admission, so a bad request costs nothing and queues nothing.
 */

export interface ImagineInput {
  /** The platform's id for this request (interaction id, trigger id): one job per id. */
  requestId: string;
  member: MemberRef;
  origin: Origin;
  /** Prompt text with Midjourney-style flags (Slack, the CLI). */
  text?: string;
  /** Discord's typed options; their `prompt` may carry flags too. Used instead of `text` when given. */
  options?: DiscordImagineOptions;
  /** An attached image, already in the artifact store: the request becomes img2img. */
  initImage?: string;
}

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

/** Only what `/imagine` needs of the services, so tests and the CLI can hand in less. */
export type ImagineServices = Pick<Services, 'admission' | 'registry' | 'config'>;

const IDENTIFIER_FOR: Record<RefusalReason, UserErrorIdentifier> = {
  suspended: 'suspended',
  'rate-limited': 'rate-limited',
  cooldown: 'cooldown',
  'pending-cap': 'pending-cap',
  'scope-budget': 'scope-budget',
  'insufficient-credits': 'insufficient-credits',
  'banned-word': 'banned-word',
  // Above the member's tier (size, steps): a request this member may not make as it stands.
  'over-limits': 'invalid-request',
};

/** Admission's refusal as the `UserError` every frontend already knows how to show. */
export function refusalError(refused: AdmissionRefused): UserError {
  return new UserError(IDENTIFIER_FOR[refused.reason], refused.message, {
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

export async function handleImagine(
  services: ImagineServices,
  input: ImagineInput,
  options: { randomSeed?: () => number } = {},
): Promise<CommandReply> {
  const raw = input.options ? fromDiscordOptions(input.options) : parsePromptFlags(input.text ?? '');
  if (input.initImage) raw.initImage = { artifactId: input.initImage };
  const { config, registry } = services;
  const validated = validateRequest(raw, {
    registry,
    defaultModel: defaultModelId(config.DEFAULT_MODEL, registry, config.MODELS_DIR),
    mode: input.initImage ? 'img2img' : 'txt2img',
    // Tier limits are the admission script's to check (it reads them atomically); this is the deployment's.
    limits: { maxPixels: config.MAX_PIXELS },
    ...(options.randomSeed ? { randomSeed: options.randomSeed } : {}),
  });
  if (!validated.ok) return { status: 'refused', error: invalidRequestError(validated.errors) };
  return admitAndReply(services, {
    requestId: input.requestId,
    member: input.member,
    origin: input.origin,
    request: validated.request,
  });
}
