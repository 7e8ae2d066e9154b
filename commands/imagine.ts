import type { Services } from '../src/app/services.ts';
import { computeCost, ratesFromConfig } from '../src/credits/cost.ts';
import { type FieldError, UserError } from '../src/errors/user-error.ts';
import type { MemberRef } from '../src/members/member-ref.ts';
import type { Origin } from '../src/queue/job-data.ts';
import { defaultModelId } from '../src/request/default-model.ts';
import { type DiscordImagineOptions, fromDiscordOptions } from '../src/request/discord-options.ts';
import { REPEAT_MAX, SEED_MAX } from '../src/request/limits.ts';
import { BATCH_MAX, expandPermutations } from '../src/request/permutations.ts';
import { parsePromptFlags } from '../src/request/prompt-flags.ts';
import { randomSeed } from '../src/request/random-seed.ts';
import { isAbsent, type RawRequest } from '../src/request/raw-request.ts';
import type { GenerationRequest } from '../src/request/types.ts';
import { invalidRequestError, validateRequest } from '../src/request/validate-request.ts';
import { admitAndReply, type CommandReply } from './admit-and-reply.ts';
import { BatchStore } from './batch.ts';
import type { SettingValues } from './setting-options.ts';
import { applySettings, SettingsStore } from './settings.ts';

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

/**
 * Only what `/imagine` needs of the services, so tests and the CLI can hand in less. Without Redis
 * (unit tests of the mapping) there are no /settings to apply and no batches to hold.
 */
export type ImagineServices = Pick<Services, 'admission' | 'registry' | 'config'> &
  Partial<Pick<Services, 'redis' | 'prefix'>>;

/** `/imagine`'s reply: one job's (accepted or refused), or a batch waiting for its confirmation. */
export type ImagineReply =
  | CommandReply
  | {
      status: 'confirm';
      /** The pending batch (commands/batch.ts), named by the confirmation's buttons. */
      batchId: string;
      /** One line per job, in order. */
      prompts: string[];
      totalCost: number;
    };

/** `--repeat N` (1-4): how many jobs of each prompt. */
function readRepeat(raw: RawRequest, errors: FieldError[]): number {
  if (isAbsent(raw.repeat)) return 1;
  const label = raw.labels.repeat ?? 'repeat';
  const n = typeof raw.repeat === 'number' ? raw.repeat : Number(String(raw.repeat).trim());
  if (!Number.isInteger(n) || n < 1 || n > REPEAT_MAX) {
    errors.push({
      field: label,
      message: `${label}: must be a whole number from 1 to ${REPEAT_MAX} (got ${String(raw.repeat).slice(0, 20)})`,
    });
    return 1;
  }
  return n;
}

/**
 * The seed of the `copy`-th repeat of a request: a repeat with a seed of the member's own steps
 * through the seeds after it (reproducible, and not four identical pictures); without one, each
 * copy draws its own.
 */
function repeatSeed(
  request: GenerationRequest,
  copy: number,
  seedGiven: boolean,
  draw: () => number,
): number {
  if (copy === 0) return request.seed;
  if (!seedGiven) return draw();
  const next = request.seed + copy;
  return next > SEED_MAX ? copy : next;
}

const NO_SETTINGS: { mine: SettingValues; scope: SettingValues } = { mine: {}, scope: {} };

/**
 * `/imagine` on every platform: expands permutations, reads `--repeat`, fills what the member left
 * out from their /settings (then the scope's), and validates every job. One job is admitted at
 * once; several wait for the member's confirmation (commands/batch.ts). Nothing is queued or
 * charged for a refusal.
 */
export async function handleImagine(
  services: ImagineServices,
  input: ImagineInput,
  options: { randomSeed?: () => number } = {},
): Promise<ImagineReply> {
  const refuse = (error: UserError): ImagineReply => ({ status: 'refused', error });
  const text = input.options ? String(input.options.prompt ?? '') : (input.text ?? '');
  const expansion = expandPermutations(text);
  if (!expansion.ok) return refuse(UserError.invalid([{ field: 'prompt', message: expansion.message }]));
  const settings =
    services.redis && services.prefix !== undefined
      ? await new SettingsStore(services.redis, services.prefix).both(input.member)
      : NO_SETTINGS;
  const { config, registry } = services;
  const draw = options.randomSeed ?? randomSeed;
  const errors: FieldError[] = [];
  const requests: GenerationRequest[] = [];
  for (const variant of expansion.texts) {
    const raw = input.options
      ? fromDiscordOptions({ ...input.options, prompt: variant })
      : parsePromptFlags(variant);
    const repeat = readRepeat(raw, errors);
    applySettings(raw, settings);
    if (input.initImage) raw.initImage = { artifactId: input.initImage };
    const validated = validateRequest(raw, {
      registry,
      defaultModel: defaultModelId(config.DEFAULT_MODEL, registry, config.MODELS_DIR),
      mode: input.initImage ? 'img2img' : 'txt2img',
      // Tier limits are the admission script's to check (it reads them atomically); this is the deployment's.
      limits: { maxPixels: config.MAX_PIXELS },
      randomSeed: draw,
    });
    if (!validated.ok) {
      // Permutations usually share their mistake (one bad flag): each message once.
      for (const e of validated.errors) if (!errors.some((x) => x.message === e.message)) errors.push(e);
      continue;
    }
    const seedGiven = !isAbsent(raw.seed) && Number(raw.seed) !== 0;
    for (let copy = 0; copy < repeat; copy++) {
      requests.push({ ...validated.request, seed: repeatSeed(validated.request, copy, seedGiven, draw) });
    }
  }
  if (errors.length > 0) return refuse(invalidRequestError(errors));
  const [only] = requests;
  if (requests.length === 1 && only) {
    return admitAndReply(services, {
      requestId: input.requestId,
      member: input.member,
      origin: input.origin,
      request: only,
    });
  }
  if (requests.length > BATCH_MAX) {
    return refuse(
      UserError.invalid([
        {
          field: 'repeat',
          message: `repeat: these prompts and their repeats make ${requests.length} jobs; at most ${BATCH_MAX} at once`,
        },
      ]),
    );
  }
  if (input.initImage) {
    return refuse(
      UserError.invalid([
        {
          field: 'image',
          message:
            'image: permutations and --repeat work with text prompts; attach an image to one prompt at a time',
        },
      ]),
    );
  }
  if (!services.redis || services.prefix === undefined) {
    throw new Error('a batch needs Redis to wait for its confirmation');
  }
  const rates = ratesFromConfig(config);
  const totalCost = requests.reduce((sum, r) => sum + computeCost(r, rates), 0);
  const batchId = await new BatchStore(services.redis, services.prefix).put({
    v: 1,
    member: input.member,
    requests,
    totalCost,
  });
  return {
    status: 'confirm',
    batchId,
    totalCost,
    prompts: requests.map((r) => `${r.prompt} (seed ${r.seed})`),
  };
}
