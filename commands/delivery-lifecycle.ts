import { UnrecoverableError } from 'bullmq';
import type { Logger } from '../src/log/logger.ts';
import { fitText } from '../src/platforms/fit-text.ts';
import { type ImageTreatment, imageTreatment } from '../src/platforms/image-treatment.ts';
import type { StatusMarks } from '../src/platforms/status-marks.ts';
import type { DeliverJobData, GenerateResult } from '../src/queue/job-data.ts';
import type { NsfwPolicy } from '../src/quotas/quota-policy.ts';
import { finishStatus, refundSentence, type StatusState, type StatusSurface } from './status-lifecycle.ts';

/**
 * Delivering a finished job, the same on every platform. A result: decide which images this
 * channel may show (the safety checker's verdicts, the scope's NSFW policy, the channel and what
 * the platform can do), gather what the member should know about it as notes, upload it under the
 * job's status message, then end the status as done. A failure: end the status as failed, then
 * tell the member privately what failed and what was refunded.
 *
 * The status is marked final before anything is posted: a late progress edit must not land on the
 * result, nor set the status back to rendering after it. Each platform implements the surface
 * below in its adapter and renders the views in its own markup; the mechanics of getting a post
 * there exactly once (`once` keys, nonces, threads, tokens) are the adapter's.
 */
export type ResultNote =
  /** Words past the 77 tokens the text encoder reads. */
  | { kind: 'truncated-words'; words: string[] }
  /** Something the worker said about the result (a LoRA that patched only part of the model). */
  | { kind: 'warning'; text: string }
  /** Images (indexes) flagged by the safety checker that this channel may not show. */
  | { kind: 'blocked'; images: number[]; policy: NsfwPolicy }
  /** Images (indexes) flagged by the safety checker and sent behind a spoiler. */
  | { kind: 'spoilered'; images: number[] };

export interface ResultView {
  /** How this channel shows each image of the result, in order. */
  treatments: ImageTreatment[];
  /** The indexes of the images to upload: all but the blanked ones. */
  shown: number[];
  notes: ResultNote[];
}

/** What a failed job's member is told privately. */
export interface FailureView {
  prompt: string;
  message: string;
  refunded: number;
}

/** How the upload left the status message. */
export type Uploaded =
  /** Discord: whether the images went into a thread or below the status message. */
  | { replacedStatus?: false; where?: 'thread' | 'here' }
  /** The result took the status message's place (Discord, in a thread): there is nothing to end. */
  | { replacedStatus: true };

export type ResultDelivery = DeliverJobData & { result: GenerateResult };

/** What a platform does to deliver a job, besides showing states in its status message. */
export interface DeliverySurface<Where> extends StatusSurface<Where> {
  /** Whether a spoiler can hide an image here (Slack has none). */
  spoilers: boolean;
  nsfwPolicy(data: DeliverJobData): Promise<NsfwPolicy>;
  /** Whether the job's channel may show NSFW images (Discord: age-restricted; Slack: marked by its admins). */
  channelShowsNsfw(data: DeliverJobData): Promise<boolean>;
  /** The status message a result goes under; posted now when the frontend never recorded one. */
  resultHome(jobId: string, data: DeliverJobData): Promise<Where>;
  /** Posts the result: the shown images, the buttons, the notes. Idempotent by job id. */
  upload(where: Where, data: ResultDelivery, view: ResultView): Promise<Uploaded>;
  /** Tells the member alone that the job failed. Idempotent by job id. */
  tellPrivately(where: Where | undefined, data: DeliverJobData, view: FailureView): Promise<void>;
}

interface DeliveryDeps<Where> {
  marks: StatusMarks;
  surface: DeliverySurface<Where>;
  logger: Logger;
}

/** One delivery job: its result, or its failure. */
export async function deliverJob<Where>(deps: DeliveryDeps<Where>, data: DeliverJobData): Promise<void> {
  if (data.kind === 'failure') return deliverFailure(deps, data);
  if (!data.result) throw new UnrecoverableError('result delivery without a result');
  return deliverResult(deps, { ...data, result: data.result });
}

async function deliverResult<Where>(deps: DeliveryDeps<Where>, data: ResultDelivery): Promise<void> {
  const { marks, surface } = deps;
  const { jobId, result } = data;
  await marks.markFinal(jobId);
  const where = await surface.resultHome(jobId, data);
  const view = await resultView(surface, data);
  const uploaded = await surface.upload(where, data, view);
  await endStatus(deps, uploaded.replacedStatus ? undefined : where, data, {
    kind: 'done',
    images: result.images.length,
    seconds: result.timings.totalMs / 1000,
    ...(!uploaded.replacedStatus && uploaded.where ? { where: uploaded.where } : {}),
  });
  deps.logger.info(
    { jobId, shown: view.shown.length, blocked: result.images.length - view.shown.length },
    'result delivered',
  );
}

async function deliverFailure<Where>(deps: DeliveryDeps<Where>, data: DeliverJobData): Promise<void> {
  const { marks, surface } = deps;
  const failure = data.failure ?? { message: 'The render failed.', refunded: 0 };
  await marks.markFinal(data.jobId);
  const where = await surface.locate(data.jobId, data);
  await endStatus(deps, where, data, { kind: 'failed', ...failure });
  await surface.tellPrivately(where, data, { prompt: data.request.prompt, ...failure });
}

/** The images this channel may show, and the notes for the member. */
async function resultView(
  surface: Pick<DeliverySurface<unknown>, 'spoilers' | 'nsfwPolicy' | 'channelShowsNsfw'>,
  data: ResultDelivery,
): Promise<ResultView> {
  const { result } = data;
  const notes: ResultNote[] = [];
  if (result.truncatedWords.length > 0) notes.push({ kind: 'truncated-words', words: result.truncatedWords });
  for (const text of result.warnings ?? []) notes.push({ kind: 'warning', text });
  const flagged = result.images.some((image) => image.nsfw?.nsfw);
  if (!flagged) {
    return { treatments: result.images.map(() => 'show'), shown: result.images.map((_, i) => i), notes };
  }
  const policy = await surface.nsfwPolicy(data);
  // Under `block` no channel may show them: the channel is not asked.
  const channelNsfw = policy !== 'block' && (await surface.channelShowsNsfw(data));
  const treatments = result.images.map((image) =>
    imageTreatment(image.nsfw, policy, channelNsfw, { spoilers: surface.spoilers }),
  );
  const having = (t: ImageTreatment) => treatments.flatMap((x, i) => (x === t ? [i] : []));
  const blocked = having('blank');
  const spoilered = having('spoiler');
  if (blocked.length > 0) notes.push({ kind: 'blocked', images: blocked, policy });
  if (spoilered.length > 0) notes.push({ kind: 'spoilered', images: spoilered });
  return { treatments, shown: treatments.flatMap((t, i) => (t === 'blank' ? [] : [i])), notes };
}

/** A final state shown in the status message: cosmetic, so a failure to show it is logged, not retried. */
async function endStatus<Where>(
  deps: DeliveryDeps<Where>,
  where: Where | undefined,
  data: DeliverJobData,
  state: Extract<StatusState, { kind: 'done' | 'failed' }>,
): Promise<void> {
  // The seed the worker used (a random one is only known from the result).
  const request = data.result ? { ...data.request, seed: data.result.seed } : data.request;
  try {
    await finishStatus(deps.marks, deps.surface, where, data.jobId, { ...data, request }, state);
  } catch (err) {
    deps.logger.warn({ err, jobId: data.jobId }, 'status message not updated');
  }
}

/** How a platform writes the sentences of notes and notices. */
export interface DeliveryWords {
  /** Text from a member or a worker inside easel's sentence, escaped the platform's way. */
  literal(text: string): string;
  /** What the platform calls the scope whose policy applies: "server", "workspace". */
  scope: string;
  /** Where the policy lets flagged images show: "age-restricted channels". */
  nsfwChannels: string;
  /** What became of the blocked images: "replaced by a blank image", "left out". */
  blockedAs(count: number): string;
}

const QUOTED_MAX = 300;

/** A note's sentence, without the mark a platform puts in front of it. */
export function noteSentence(note: ResultNote, words: DeliveryWords): string {
  switch (note.kind) {
    case 'truncated-words':
      return `The model reads only the first 77 tokens; these words were left out: ${words.literal(fitText(note.words.join(' '), QUOTED_MAX))}`;
    case 'warning':
      return words.literal(fitText(note.text, QUOTED_MAX));
    case 'blocked': {
      const why =
        note.policy === 'block'
          ? `this ${words.scope} blocks them`
          : `this ${words.scope} shows such images only in ${words.nsfwChannels}`;
      return `${imagesWere(note.images)} flagged by the safety checker and ${words.blockedAs(note.images.length)} (${why}).`;
    }
    case 'spoilered':
      return `${imagesWere(note.images)} flagged by the safety checker and ${note.images.length === 1 ? 'is' : 'are'} behind a spoiler.`;
  }
}

/** "Image 2 was", "Images 1, 3 were" (numbered from 1, as the buttons are). */
function imagesWere(indexes: number[]): string {
  const numbers = indexes.map((i) => i + 1).join(', ');
  return indexes.length === 1 ? `Image ${numbers} was` : `Images ${numbers} were`;
}

const PROMPT_MAX = 200;
const MESSAGE_MAX = 1500;

/** The private notice of a failure: the prompt, what went wrong, and what was refunded. */
export function failureSentence(view: FailureView, words: Pick<DeliveryWords, 'literal'>): string {
  const prompt = words.literal(fitText(view.prompt || '(no prompt)', PROMPT_MAX));
  const message = words.literal(fitText(view.message, MESSAGE_MAX));
  return `Your request "${prompt}" failed: ${message} ${refundSentence(view.refunded)}`;
}
