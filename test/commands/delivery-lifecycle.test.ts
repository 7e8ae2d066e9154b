import { afterAll, describe, expect, it } from 'vitest';
import {
  type DeliverySurface,
  type DeliveryWords,
  deliverJob,
  failureSentence,
  noteSentence,
  type ResultDelivery,
  type ResultView,
  type Uploaded,
} from '../../commands/delivery-lifecycle.ts';
import type { StatusState } from '../../commands/status-lifecycle.ts';
import { createLogger } from '../../src/log/logger.ts';
import { StatusMarks } from '../../src/platforms/status-marks.ts';
import type { DeliverJobData, RenderedImage } from '../../src/queue/job-data.ts';
import type { NsfwPolicy } from '../../src/quotas/quota-policy.ts';
import { testRedis, uniquePrefix } from '../support/redis.ts';
import { tinyRequest } from '../support/tiny-models.ts';

/**
 * The delivery lifecycle against a surface that records what it was asked to do, in order: the
 * flow every platform shares (which images, which notes, upload before done, failed before the
 * private notice), without any platform's markup.
 */
const redis = testRedis();
const marks = new StatusMarks(redis, `${uniquePrefix('delivery-lifecycle')}:fake`);
afterAll(async () => {
  await redis.quit();
});

type Step =
  | { step: 'upload'; view: ResultView; finalBefore: boolean }
  | { step: 'show'; state: StatusState; seed: number; finalBefore: boolean }
  | { step: 'tell'; text: string; finalBefore: boolean };

const WORDS: DeliveryWords = {
  literal: (text) => `«${text}»`,
  scope: 'place',
  nsfwChannels: 'its grown-up rooms',
  blockedAs: (count) => (count === 1 ? 'left out' : 'all left out'),
};

function fakeSurface(options: {
  policy?: NsfwPolicy;
  channelNsfw?: boolean;
  spoilers?: boolean;
  hasStatus?: boolean;
  uploaded?: Uploaded;
}) {
  const steps: Step[] = [];
  let channelAsked = false;
  const surface: DeliverySurface<string> = {
    platform: 'discord',
    spoilers: options.spoilers ?? false,
    nsfwPolicy: async () => options.policy ?? 'block',
    channelShowsNsfw: async () => {
      channelAsked = true;
      return options.channelNsfw ?? false;
    },
    locate: async (jobId) => (options.hasStatus === false ? undefined : `status-of-${jobId}`),
    resultHome: async (jobId) => `status-of-${jobId}`,
    show: async (_where, jobId, job, state) => {
      steps.push({ step: 'show', state, seed: job.request.seed, finalBefore: await marks.isFinal(jobId) });
    },
    upload: async (_where, data, view) => {
      steps.push({ step: 'upload', view, finalBefore: await marks.isFinal(data.jobId) });
      return options.uploaded ?? { where: 'thread' };
    },
    tellPrivately: async (_where, data, view) => {
      steps.push({
        step: 'tell',
        text: failureSentence(view, WORDS),
        finalBefore: await marks.isFinal(data.jobId),
      });
    },
  };
  return { surface, steps, channelAsked: () => channelAsked };
}

let jobs = 0;

function image(nsfw = false): RenderedImage {
  return {
    artifactId: `a${jobs}`,
    width: 64,
    height: 64,
    bytes: 10,
    seed: 7,
    nsfw: { nsfw, score: nsfw ? 0.9 : 0.1 },
  };
}

function resultJob(images: RenderedImage[], extra: { truncatedWords?: string[]; warnings?: string[] } = {}) {
  jobs += 1;
  const data: ResultDelivery = {
    v: 1,
    kind: 'result',
    jobId: `glife${jobs}-${Date.now()}`,
    member: { scope: { kind: 'discord', id: 'G1' }, userId: 'alice' },
    origin: { platform: 'cli' },
    request: tinyRequest({ prompt: 'a lighthouse', seed: 0, count: images.length }),
    result: {
      v: 1,
      images,
      seed: 4242,
      model: 'tiny',
      provider: 'cpu',
      truncatedWords: extra.truncatedWords ?? [],
      ...(extra.warnings ? { warnings: extra.warnings } : {}),
      timings: { loadMs: 1, renderMs: 2, totalMs: 1500 },
    },
  };
  return data;
}

function failureJob(refunded: number): DeliverJobData {
  const { result: _result, ...data } = resultJob([]);
  return { ...data, kind: 'failure', failure: { message: 'Out of memory.', refunded } };
}

const deps = (surface: DeliverySurface<string>) => ({ marks, surface, logger: createLogger('silent') });

describe('delivering a result', () => {
  it('uploads first and shows done after, with the seed the worker used, marked final before either', async () => {
    const { surface, steps } = fakeSurface({});
    await deliverJob(deps(surface), resultJob([image(), image()]));
    expect(steps.map((s) => s.step)).toEqual(['upload', 'show']);
    expect(steps.every((s) => s.finalBefore)).toBe(true);
    expect(steps[1]).toMatchObject({
      state: { kind: 'done', images: 2, seconds: 1.5, where: 'thread' },
      seed: 4242,
    });
  });

  it('leaves blocked images out of the upload and names them in a note', async () => {
    const { surface, steps } = fakeSurface({ policy: 'block', channelNsfw: true });
    await deliverJob(deps(surface), resultJob([image(), image(true), image(true)]));
    const upload = steps[0] as Extract<Step, { step: 'upload' }>;
    expect(upload.view.shown).toEqual([0]);
    expect(upload.view.treatments).toEqual(['show', 'blank', 'blank']);
    expect(upload.view.notes).toEqual([{ kind: 'blocked', images: [1, 2], policy: 'block' }]);
    expect(noteSentence(upload.view.notes[0]!, WORDS)).toBe(
      'Images 2, 3 were flagged by the safety checker and all left out (this place blocks them).',
    );
  });

  it('asks whether the channel may show NSFW images only when some image is flagged and the policy could allow it', async () => {
    const clean = fakeSurface({ policy: 'allow-in-nsfw-channels' });
    await deliverJob(deps(clean.surface), resultJob([image()]));
    expect(clean.channelAsked()).toBe(false);

    const blocking = fakeSurface({ policy: 'block' });
    await deliverJob(deps(blocking.surface), resultJob([image(true)]));
    expect(blocking.channelAsked()).toBe(false);

    const allowing = fakeSurface({ policy: 'allow-in-nsfw-channels', channelNsfw: true });
    await deliverJob(deps(allowing.surface), resultJob([image(true)]));
    expect(allowing.channelAsked()).toBe(true);
    expect((allowing.steps[0] as Extract<Step, { step: 'upload' }>).view).toMatchObject({
      shown: [0],
      notes: [],
    });
  });

  it('sends a flagged image behind a spoiler where the platform has them, and blanks it where it has none', async () => {
    const withSpoilers = fakeSurface({ policy: 'spoiler', spoilers: true });
    await deliverJob(deps(withSpoilers.surface), resultJob([image(true)]));
    const spoilered = (withSpoilers.steps[0] as Extract<Step, { step: 'upload' }>).view;
    expect(spoilered).toMatchObject({ treatments: ['spoiler'], shown: [0] });
    expect(noteSentence(spoilered.notes[0]!, WORDS)).toBe(
      'Image 1 was flagged by the safety checker and is behind a spoiler.',
    );

    const without = fakeSurface({ policy: 'spoiler', spoilers: false });
    await deliverJob(deps(without.surface), resultJob([image(true)]));
    const blanked = (without.steps[0] as Extract<Step, { step: 'upload' }>).view;
    expect(blanked).toMatchObject({ treatments: ['blank'], shown: [] });
    expect(noteSentence(blanked.notes[0]!, WORDS)).toBe(
      'Image 1 was flagged by the safety checker and left out (this place shows such images only in its grown-up rooms).',
    );
  });

  it('notes the words cut from the prompt and the worker’s warnings, in the platform’s literal markup', async () => {
    const { surface, steps } = fakeSurface({});
    await deliverJob(
      deps(surface),
      resultJob([image()], { truncatedWords: ['very', 'long'], warnings: ['LoRA x patched 3 of 4 layers'] }),
    );
    const { notes } = (steps[0] as Extract<Step, { step: 'upload' }>).view;
    expect(notes.map((note) => noteSentence(note, WORDS))).toEqual([
      'The model reads only the first 77 tokens; these words were left out: «very long»',
      '«LoRA x patched 3 of 4 layers»',
    ]);
  });

  it('only marks the status final when the result took the status message’s place', async () => {
    const { surface, steps } = fakeSurface({ uploaded: { replacedStatus: true } });
    const data = resultJob([image()]);
    await deliverJob(deps(surface), data);
    expect(steps.map((s) => s.step)).toEqual(['upload']);
    expect(await marks.isFinal(data.jobId)).toBe(true);
  });

  it('still finishes when the done state cannot be shown (a status line is cosmetic)', async () => {
    const { surface, steps } = fakeSurface({});
    surface.show = async () => {
      throw new Error('message deleted');
    };
    await expect(deliverJob(deps(surface), resultJob([image()]))).resolves.toBeUndefined();
    expect(steps.map((s) => s.step)).toEqual(['upload']);
  });
});

describe('delivering a failure', () => {
  it('fails for good, posting nothing, when a result delivery carries no result', async () => {
    const { surface, steps } = fakeSurface({});
    const { result: _result, ...data } = resultJob([image()]);
    await expect(deliverJob(deps(surface), data)).rejects.toMatchObject({ name: 'UnrecoverableError' });
    expect(steps).toEqual([]);
  });

  it('shows the failed state, then tells the member privately with the prompt, the message and the refund', async () => {
    const { surface, steps } = fakeSurface({});
    await deliverJob(deps(surface), failureJob(2));
    expect(steps.map((s) => s.step)).toEqual(['show', 'tell']);
    expect(steps[0]).toMatchObject({ state: { kind: 'failed', message: 'Out of memory.', refunded: 2 } });
    expect(steps.every((s) => s.finalBefore)).toBe(true);
    expect(steps[1]).toMatchObject({
      text: 'Your request "«a lighthouse»" failed: «Out of memory.» 2 credits went back to your balance.',
    });
  });

  it('says nothing was charged when nothing was refunded, and tells even without a status message', async () => {
    const { surface, steps } = fakeSurface({ hasStatus: false });
    await deliverJob(deps(surface), failureJob(0));
    expect(steps.map((s) => s.step)).toEqual(['tell']);
    expect((steps[0] as Extract<Step, { step: 'tell' }>).text).toMatch(/Nothing was charged\.$/);
  });
});
