import type { Services } from '../src/app/services.ts';
import { CodedError } from '../src/errors/coded-error.ts';
import { type FieldError, isUserError, UserError } from '../src/errors/user-error.ts';
import type { MemberRef } from '../src/members/member-ref.ts';
import type { GenerateResult, Origin, RenderedImage } from '../src/queue/job-data.ts';
import type { CancelOutcome, JobView } from '../src/queue/job-view.ts';
import type { Refusal } from '../src/refusals/refusal.ts';
import {
  COUNT_MAX,
  PAN_FACTOR,
  PROMPT_MAX_CHARS,
  SIDE_MAX,
  SIDE_MIN,
  SIDE_STEP,
  UPSCALE_INPUT_MAX,
} from '../src/request/limits.ts';
import { randomSeed } from '../src/request/random-seed.ts';
import { parseRegion, REGION_HELP } from '../src/request/region.ts';
import type { GenerationRequest, PanDirection } from '../src/request/types.ts';
import { codePointCount } from '../src/request/visible-text.ts';
import { admitAndReply, type CommandReply } from './admit-and-reply.ts';
import { type PendingBatch, takeBatch } from './batch.ts';
import { remixOn, SettingsStore } from './settings.ts';

/**
 * The buttons under a result (U1-U4, V1-V4, Reroll, Vary, Inpaint, Zoom Out, Upscale 2x/4x,
 * Cancel) and the requests they make. A button's id carries everything needed to act on it, so
 * buttons keep working after a restart: `e1:<action>:<jobId>[:<image>]`, where `e1` is the
 * format's version, `<image>` is 0-based, and ids stay far below Discord's 100 characters.
 */

export type ButtonAction =
  | { action: 'upscale'; jobId: string; index: number; factor: 2 | 4 }
  | { action: 'variation'; jobId: string; index: number; level: 'subtle' | 'strong' }
  | { action: 'reroll'; jobId: string }
  | { action: 'inpaint'; jobId: string; index: number }
  /** Vary (Region): the press answers with a link to the mask editor; its submission makes the request. */
  | { action: 'vary-region'; jobId: string; index: number }
  | { action: 'zoom-out'; jobId: string; index: number; zoom: 1.5 | 2 }
  | { action: 'pan'; jobId: string; index: number; direction: PanDirection }
  | { action: 'cancel'; jobId: string }
  /** Answers a permutation or --repeat confirmation; `jobId` holds the pending batch's id. */
  | { action: 'batch'; jobId: string; confirm: boolean };

/** Actions that make a new request from a finished job (all but cancel and a batch's answer). */
export type RequestAction = Exclude<ButtonAction, { action: 'cancel' } | { action: 'batch' }>;

export const ACTION_ID_VERSION = 'e1';
const ACTION_ID_MAX = 100;
/** BullMQ job ids as admission makes them (`g` + hex), and room for others without a colon. */
const JOB_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Variation strengths: Midjourney's Vary (Subtle) and Vary (Strong). */
export const VARIATION_STRENGTH = { subtle: 0.35, strong: 0.65 } as const;

function codeOf(action: ButtonAction): string {
  switch (action.action) {
    case 'upscale':
      return `u${action.factor}`;
    case 'variation':
      return action.level === 'subtle' ? 'vs' : 'vv';
    case 'reroll':
      return 'r';
    case 'inpaint':
      return 'i';
    case 'vary-region':
      return 'vr';
    case 'zoom-out':
      return action.zoom === 2 ? 'z2' : 'z15';
    case 'pan':
      return `p${action.direction[0]}`;
    case 'cancel':
      return 'x';
    case 'batch':
      return action.confirm ? 'by' : 'bn';
  }
}

type Decoder = (jobId: string, index: number) => ButtonAction;

const DECODERS: Record<string, { indexed: boolean; make: Decoder }> = {
  u2: { indexed: true, make: (jobId, index) => ({ action: 'upscale', jobId, index, factor: 2 }) },
  u4: { indexed: true, make: (jobId, index) => ({ action: 'upscale', jobId, index, factor: 4 }) },
  vs: { indexed: true, make: (jobId, index) => ({ action: 'variation', jobId, index, level: 'subtle' }) },
  vv: { indexed: true, make: (jobId, index) => ({ action: 'variation', jobId, index, level: 'strong' }) },
  r: { indexed: false, make: (jobId) => ({ action: 'reroll', jobId }) },
  i: { indexed: true, make: (jobId, index) => ({ action: 'inpaint', jobId, index }) },
  vr: { indexed: true, make: (jobId, index) => ({ action: 'vary-region', jobId, index }) },
  z15: { indexed: true, make: (jobId, index) => ({ action: 'zoom-out', jobId, index, zoom: 1.5 }) },
  z2: { indexed: true, make: (jobId, index) => ({ action: 'zoom-out', jobId, index, zoom: 2 }) },
  pl: { indexed: true, make: (jobId, index) => ({ action: 'pan', jobId, index, direction: 'left' }) },
  pr: { indexed: true, make: (jobId, index) => ({ action: 'pan', jobId, index, direction: 'right' }) },
  pu: { indexed: true, make: (jobId, index) => ({ action: 'pan', jobId, index, direction: 'up' }) },
  pd: { indexed: true, make: (jobId, index) => ({ action: 'pan', jobId, index, direction: 'down' }) },
  x: { indexed: false, make: (jobId) => ({ action: 'cancel', jobId }) },
  by: { indexed: false, make: (jobId) => ({ action: 'batch', jobId, confirm: true }) },
  bn: { indexed: false, make: (jobId) => ({ action: 'batch', jobId, confirm: false }) },
};

export function encodeActionId(action: ButtonAction): string {
  // Ids are built by easel from its own job ids: a bad one is a bug to see at once, not a member's mistake.
  if (!JOB_ID.test(action.jobId))
    throw new CodedError('platform-error', `job id unfit for a button: ${action.jobId}`);
  const parts = [ACTION_ID_VERSION, codeOf(action), action.jobId];
  if ('index' in action) {
    if (!Number.isInteger(action.index) || action.index < 0 || action.index >= COUNT_MAX) {
      throw new CodedError('platform-error', `image index out of range for a button: ${action.index}`);
    }
    parts.push(String(action.index));
  }
  const id = parts.join(':');
  if (id.length > ACTION_ID_MAX)
    throw new CodedError('platform-error', `button id over ${ACTION_ID_MAX} characters`);
  return id;
}

/** True for ids this module made (any version), so a frontend can route them here. */
export function isActionId(id: string): boolean {
  return /^e\d+:/.test(id);
}

/**
 * The action a button id stands for. A malformed, unknown or outdated id (a message from an older
 * easel, a hand-made request) is a `UserError` saying the button no longer works, never a crash.
 */
export function decodeActionId(id: unknown): ButtonAction {
  const broken = (refusal: Extract<Refusal, { reason: 'broken-button' }>) =>
    UserError.refused(refusal, { actionId: typeof id === 'string' ? id.slice(0, ACTION_ID_MAX) : undefined });
  if (typeof id !== 'string' || !isActionId(id) || id.length > ACTION_ID_MAX) {
    throw broken({ reason: 'broken-button', problem: 'unknown' });
  }
  const [version = '', code = '', jobId, index, ...rest] = id.split(':');
  if (version !== ACTION_ID_VERSION)
    throw broken({ reason: 'broken-button', problem: 'other-version', version });
  // Own keys only: a code such as "constructor" is no action.
  const decoder = Object.hasOwn(DECODERS, code) ? DECODERS[code] : undefined;
  if (!decoder) throw broken({ reason: 'broken-button', problem: 'unknown-action', code });
  if (jobId === undefined || !JOB_ID.test(jobId))
    throw broken({ reason: 'broken-button', problem: 'names-no-job' });
  if (rest.length > 0 || (decoder.indexed ? index === undefined : index !== undefined)) {
    throw broken({ reason: 'broken-button', problem: 'malformed' });
  }
  if (!decoder.indexed) return decoder.make(jobId, 0);
  const n = Number(index);
  if (!/^\d$/.test(index ?? '') || n >= COUNT_MAX) {
    throw broken({ reason: 'broken-button', problem: 'bad-image', index: index ?? '' });
  }
  return decoder.make(jobId, n);
}

/** How an action is named to members, e.g. in the status line of the job it starts. */
export function describeAction(action: ButtonAction): string {
  switch (action.action) {
    case 'upscale':
      return `Upscale ${action.factor}x of image ${action.index + 1}`;
    case 'variation':
      return `Vary (${action.level === 'subtle' ? 'Subtle' : 'Strong'}) of image ${action.index + 1}`;
    case 'reroll':
      return 'Reroll';
    case 'inpaint':
      return `Inpaint of image ${action.index + 1}`;
    case 'vary-region':
      return `Vary (Region) of image ${action.index + 1}`;
    case 'zoom-out':
      return `Zoom Out ${action.zoom}x of image ${action.index + 1}`;
    case 'pan':
      return `Pan ${PAN_WORDS[action.direction]} of image ${action.index + 1}`;
    case 'cancel':
      return 'Cancel';
    case 'batch':
      return action.confirm ? 'Queue them' : 'Cancel';
  }
}

const PAN_WORDS: Record<PanDirection, string> = { left: 'Left', right: 'Right', up: 'Up', down: 'Down' };
/** The arrows Midjourney draws on its Pan buttons. */
const PAN_ARROWS: Record<PanDirection, string> = { left: '⬅️', right: '➡️', up: '⬆️', down: '⬇️' };
const PAN_DIRECTIONS: PanDirection[] = ['left', 'right', 'up', 'down'];

function varyLabel(strength: number | undefined): string {
  if (strength === VARIATION_STRENGTH.subtle) return 'Vary (Subtle)';
  if (strength === VARIATION_STRENGTH.strong) return 'Vary (Strong)';
  return strength === undefined ? 'Variation' : `Variation (strength ${strength})`;
}

/**
 * One line naming what a job does, for status and result messages: the prompt for `/imagine`, the
 * action and image for a button ("Upscale 2x of image 1 · a red circle"). `prompt` comes already
 * formatted for the platform (escaped, truncated, emphasised).
 */
export function describeJob(request: GenerationRequest, prompt: string): string {
  const image = request.source ? ` of image ${request.source.index + 1}` : '';
  switch (request.mode) {
    case 'upscale':
      return `Upscale ${request.upscale ?? 2}x${image} · ${prompt}`;
    case 'variation':
      return `${varyLabel(request.strength)}${image} · ${prompt}`;
    case 'inpaint':
      return `Inpaint${image} · ${prompt}`;
    case 'outpaint':
      return request.pan !== undefined
        ? `Pan ${PAN_WORDS[request.pan]}${image} · ${prompt}`
        : `Zoom Out ${request.zoomOut ?? 2}x${image} · ${prompt}`;
    default:
      return request.source ? `Reroll · ${prompt}` : prompt;
  }
}

/** A button as both chat platforms draw it (Slack `action_id`, Discord `custom_id`). */
export interface ActionButton {
  label: string;
  actionId: string;
  style?: 'primary' | 'danger';
}

function button(label: string, action: ButtonAction, style?: ActionButton['style']): ActionButton {
  return { label, actionId: encodeActionId(action), ...(style ? { style } : {}) };
}

export function cancelButton(jobId: string): ActionButton {
  return button('Cancel', { action: 'cancel', jobId }, 'danger');
}

/** Under a permutation or --repeat confirmation: queue every job, or none. */
export function batchButtons(batchId: string): ActionButton[][] {
  return [
    [
      button('Queue them', { action: 'batch', jobId: batchId, confirm: true }, 'primary'),
      button('Cancel', { action: 'batch', jobId: batchId, confirm: false }, 'danger'),
    ],
  ];
}

/**
 * The rows of buttons under a finished job. Under a grid or any rendered result: U1-U4 and Reroll,
 * then V1-V4. Under an upscaled image: Vary (Subtle/Strong/Region) and Inpaint, Zoom Out 1.5x/2x, Pan
 * left/right/up/down, then Upscale 2x/4x while the image is still small enough to upscale. At most
 * 5 rows of 5 (Discord).
 */
export function resultButtonRows(job: {
  jobId: string;
  request: GenerationRequest;
  result: GenerateResult;
}): ActionButton[][] {
  const { jobId, request, result } = job;
  const images = result.images.slice(0, COUNT_MAX);
  if (images.length === 0) return [];
  // A clip's only still is its poster: the picture buttons would act on one frame of it.
  if (result.video !== undefined) return [[button('Reroll', { action: 'reroll', jobId })]];
  if (request.mode !== 'upscale') {
    return [
      [
        ...images.map((_, index) => button(`U${index + 1}`, { action: 'upscale', jobId, index, factor: 2 })),
        button('Reroll', { action: 'reroll', jobId }),
      ],
      images.map((_, index) =>
        button(`V${index + 1}`, { action: 'variation', jobId, index, level: 'strong' }),
      ),
    ];
  }
  const image = images[0]!;
  const rows: ActionButton[][] = [
    [
      button('Vary (Subtle)', { action: 'variation', jobId, index: 0, level: 'subtle' }),
      button('Vary (Strong)', { action: 'variation', jobId, index: 0, level: 'strong' }),
      button('Vary (Region)', { action: 'vary-region', jobId, index: 0 }),
      button('Inpaint', { action: 'inpaint', jobId, index: 0 }),
    ],
    [
      button('Zoom Out 1.5x', { action: 'zoom-out', jobId, index: 0, zoom: 1.5 }),
      button('Zoom Out 2x', { action: 'zoom-out', jobId, index: 0, zoom: 2 }),
    ],
    PAN_DIRECTIONS.map((direction) =>
      button(PAN_ARROWS[direction], { action: 'pan', jobId, index: 0, direction }),
    ),
  ];
  if (Math.max(image.width, image.height) <= UPSCALE_INPUT_MAX) {
    rows.push([
      button('Upscale 2x', { action: 'upscale', jobId, index: 0, factor: 2 }),
      button('Upscale 4x', { action: 'upscale', jobId, index: 0, factor: 4 }),
    ]);
  }
  return rows;
}

export interface SourceJob {
  request: GenerationRequest;
  /** Absent while the job has not finished (or when it failed). */
  result?: GenerateResult;
}

export interface ActionExtra {
  /** Inpaint: what to paint in the region. Remix (V1-V4, Vary, Reroll): the edited prompt. */
  prompt?: string;
  /** Inpaint: a region preset or `x,y,w,h` in percent (see src/request/region.ts). */
  region?: string;
  /** Vary (Region): the painted mask (white = change), already in the artifact store. */
  maskImage?: string;
  /** Where new seeds come from; tests pass a fixed one. */
  randomSeed?: () => number;
}

/**
 * A pan's canvas: the picture's size grown PAN_FACTOR times in its direction, on the render grid.
 * A picture already as wide (or tall) as easel renders cannot be panned further that way.
 */
function pannedSize(
  size: { width: number; height: number },
  direction: PanDirection,
): { width: number; height: number } {
  const horizontal = direction === 'left' || direction === 'right';
  const side = horizontal ? size.width : size.height;
  if (side >= SIDE_MAX) {
    throw UserError.invalid([
      {
        field: 'pan',
        message: `pan: this picture is already ${SIDE_MAX} pixels ${horizontal ? 'wide' : 'tall'}, the most easel renders; pan the other way or zoom out`,
      },
    ]);
  }
  const grown = snapSide(side * PAN_FACTOR);
  return horizontal ? { width: grown, height: size.height } : { width: size.width, height: grown };
}

/** The nearest size on the render grid (multiples of 64 in 320..1536), for images of any size. */
function snapSide(side: number): number {
  return Math.min(SIDE_MAX, Math.max(SIDE_MIN, Math.round(side / SIDE_STEP) * SIDE_STEP));
}

function chosenImage(source: SourceJob, index: number): RenderedImage {
  if (!source.result) throw UserError.refused({ reason: 'job-unfinished' });
  const images = source.result.images;
  const image = images[index];
  if (!image) throw UserError.refused({ reason: 'no-such-image', image: index + 1, count: images.length });
  return image;
}

/** A prompt typed in a modal (Inpaint, Remix): 1 to PROMPT_MAX_CHARS characters. */
function modalPromptProblem(prompt: string, what: string): FieldError | undefined {
  if (prompt === '') {
    return { field: 'prompt', message: `prompt: required; ${what} in 1 to ${PROMPT_MAX_CHARS} characters` };
  }
  if (codePointCount(prompt) > PROMPT_MAX_CHARS) {
    return {
      field: 'prompt',
      message: `prompt: must be at most ${PROMPT_MAX_CHARS} characters (got ${codePointCount(prompt)})`,
    };
  }
  return undefined;
}

/** Actions that Remix lets the member re-prompt first (Midjourney: the V buttons, Vary, Reroll). */
export function isRemixable(
  action: ButtonAction,
): action is Extract<RequestAction, { action: 'variation' | 'reroll' }> {
  return action.action === 'variation' || action.action === 'reroll';
}

/** The source request with Remix's edited prompt, when the member edited one. */
function remixedRequest(
  request: GenerationRequest,
  action: RequestAction,
  prompt: string | undefined,
): GenerationRequest {
  if (prompt === undefined || !isRemixable(action)) return request;
  const edited = prompt.trim();
  const problem = modalPromptProblem(edited, 'describe the image');
  if (problem) throw UserError.invalid([problem]);
  return { ...request, prompt: edited };
}

/**
 * The request a button makes from the job it sits under. Rendering actions (variation, inpaint,
 * zoom out) keep the source's prompt, model and settings, start from the chosen image and draw a new
 * seed; an upscale keeps the image's seed and size (its output is `upscale` times that). Throws a
 * `UserError` for a missing image or bad inpaint input (every bad field at once).
 */
export function requestForAction(
  source: SourceJob,
  action: RequestAction,
  extra: ActionExtra = {},
): GenerationRequest {
  const newSeed = extra.randomSeed ?? randomSeed;
  const remixed = remixedRequest(source.request, action, extra.prompt);
  const base = remixed;
  if (action.action === 'reroll') {
    // The same request (image, strength and source included) with only the seed changed.
    return { ...base, seed: newSeed() };
  }
  const image = chosenImage(source, action.index);
  const origin = { jobId: action.jobId, index: action.index };
  const common: GenerationRequest = {
    mode: base.mode,
    prompt: base.prompt,
    negativePrompt: base.negativePrompt,
    model: base.model,
    // An upscale's own size is its input's, which may be off the grid when it came from the API.
    width: base.mode === 'upscale' ? snapSide(base.width) : base.width,
    height: base.mode === 'upscale' ? snapSide(base.height) : base.height,
    steps: base.steps,
    guidance: base.guidance,
    sampler: base.sampler,
    seed: newSeed(),
    // A grid's actions make as many images as it had; an upscaled image's make a new grid of four.
    count: base.mode === 'upscale' ? COUNT_MAX : base.count,
    initImage: { artifactId: image.artifactId },
    source: origin,
  };
  switch (action.action) {
    case 'upscale': {
      if (Math.max(image.width, image.height) > UPSCALE_INPUT_MAX) {
        throw UserError.invalid([
          {
            field: 'scale',
            message: `scale: this image is already ${image.width}x${image.height}; easel upscales images of at most ${UPSCALE_INPUT_MAX} pixels a side`,
          },
        ]);
      }
      return {
        ...common,
        mode: 'upscale',
        width: image.width,
        height: image.height,
        seed: image.seed,
        count: 1,
        upscale: action.factor,
      };
    }
    case 'variation':
      return { ...common, mode: 'variation', strength: VARIATION_STRENGTH[action.level] };
    case 'zoom-out':
      return { ...common, mode: 'outpaint', zoomOut: action.zoom, strength: 1 };
    case 'pan':
      return {
        ...common,
        mode: 'outpaint',
        ...pannedSize(common, action.direction),
        pan: action.direction,
        strength: 1,
      };
    case 'vary-region': {
      const errors: FieldError[] = [];
      const prompt = inpaintPrompt(extra, errors);
      if (!extra.maskImage) {
        errors.push({
          field: 'mask',
          message: 'mask: required; paint the part to change in the Vary (Region) editor',
        });
      }
      if (errors.length > 0 || !extra.maskImage) throw UserError.invalid(errors);
      return { ...common, mode: 'inpaint', prompt, maskImage: { artifactId: extra.maskImage }, strength: 1 };
    }
    case 'inpaint': {
      const errors: FieldError[] = [];
      const prompt = inpaintPrompt(extra, errors);
      const regionText = (extra.region ?? '').trim();
      const region = parseRegion(regionText);
      if (regionText === '')
        errors.push({ field: 'region', message: `region: required; give ${REGION_HELP}` });
      else if (!region.ok) errors.push({ field: 'region', message: `region: ${region.message}` });
      if (errors.length > 0 || !region.ok) throw UserError.invalid(errors);
      return { ...common, mode: 'inpaint', prompt, region: region.region, strength: 1 };
    }
  }
}

/** What to paint, as an inpaint form gave it; a missing or over-long prompt is added to `errors`. */
function inpaintPrompt(extra: ActionExtra, errors: FieldError[]): string {
  const prompt = (extra.prompt ?? '').trim();
  const problem = modalPromptProblem(prompt, 'say what to paint');
  if (problem) errors.push(problem);
  return prompt;
}

export interface ActionInput {
  /** The pressed button's id (Discord `custom_id`, Slack `action_id`), or the inpaint modal's. */
  actionId: string;
  /** The platform's id for this press (interaction id, trigger id): one job per press. */
  requestId: string;
  member: MemberRef;
  origin: Origin;
  /** Inpaint: the modal's prompt and region. */
  extra?: ActionExtra;
  /** Scope admins may cancel others' jobs (the platform checked the permission). */
  isAdmin?: boolean;
}

export type ActionReply =
  | CommandReply
  | { status: 'cancelled'; jobId: string; outcome: CancelOutcome }
  /** A batch's confirmation was answered yes: the platform admits its jobs (commands/batch.ts). */
  | { status: 'batch'; batch: PendingBatch }
  | { status: 'batch-dropped' };

/** Redis holds pending batches; unit tests of the other actions hand in less. */
export type ActionServices = Pick<Services, 'admission' | 'jobs'> &
  Partial<Pick<Services, 'redis' | 'prefix'>>;

function sameScope(a: MemberRef, b: MemberRef): boolean {
  return a.scope.kind === b.scope.kind && a.scope.id === b.scope.id;
}

/**
 * The result a button acts on: a job's buttons work once it finished with images (every platform
 * checks this here, so none queues work on a job still rendering or one that failed).
 */
export function finishedResult(job: Pick<JobView, 'state' | 'result'>): GenerateResult {
  if (job.state !== 'completed' || !job.result) {
    const failed = job.state === 'failed' || job.state === 'cancelled';
    throw UserError.refused({ reason: 'job-unfinished', state: failed ? 'failed' : 'rendering' });
  }
  return job.result;
}

/**
 * How admission treats a button's job, on every platform: a follow-up on a finished result, so the
 * cooldown (which spaces new prompts) does not apply; a reroll repeats its prompt on purpose, so
 * the duplicate filter compares its new seed and never takes it for spam.
 */
export function followUpAdmission(action: RequestAction): { followUp: true; allowRepeat?: true } {
  return action.action === 'reroll' ? { followUp: true, allowRepeat: true } : { followUp: true };
}

/**
 * A button press (or the inpaint modal's submission): decodes the id, loads the job it sits under
 * from Redis, and cancels it or admits the request the action makes. Anyone in the job's scope may
 * use its buttons (and pays for what they start); cancel is for the owner or an admin.
 */
export async function handleAction(services: ActionServices, input: ActionInput): Promise<ActionReply> {
  try {
    const action = decodeActionId(input.actionId);
    if (action.action === 'cancel') {
      const outcome = await services.jobs.cancel(action.jobId, input.member, {
        isAdmin: input.isAdmin === true,
      });
      return { status: 'cancelled', jobId: action.jobId, outcome };
    }
    if (action.action === 'batch') {
      const { redis, prefix } = services;
      if (!redis || prefix === undefined) throw new Error('batches need Redis');
      const batch = await takeBatch({ redis, prefix }, action.jobId, input.member);
      return action.confirm ? { status: 'batch', batch } : { status: 'batch-dropped' };
    }
    const job = await services.jobs.get(action.jobId);
    if (!job || !sameScope(job.data.member, input.member)) throw UserError.refused({ reason: 'job-gone' });
    const request = requestForAction(
      { request: job.data.request, result: finishedResult(job) },
      action,
      input.extra,
    );
    return await admitAndReply(services, {
      requestId: input.requestId,
      member: input.member,
      origin: input.origin,
      request,
      ...followUpAdmission(action),
    });
  } catch (error) {
    if (isUserError(error)) return { status: 'refused', error };
    throw error;
  }
}

/**
 * Remix: with it on (the member's /settings, else the scope's), V1-V4, Vary and Reroll first open
 * a modal holding the job's prompt to edit. Returns that prompt when the press should open the
 * modal; undefined for every other case (Remix off, another action, a job that is gone or not
 * finished: those take the ordinary path, which says why).
 */
export async function remixPrompt(
  services: Pick<Services, 'jobs' | 'redis' | 'prefix'>,
  input: { actionId: string; member: MemberRef },
): Promise<string | undefined> {
  let action: ButtonAction;
  try {
    action = decodeActionId(input.actionId);
  } catch {
    return undefined;
  }
  if (!isRemixable(action)) return undefined;
  const settings = await new SettingsStore(services.redis, services.prefix).both(input.member);
  if (!remixOn(settings)) return undefined;
  const job = await services.jobs.get(action.jobId);
  if (!job || !sameScope(job.data.member, input.member) || job.state !== 'completed') return undefined;
  return job.data.request.prompt;
}
