import { describe, expect, it } from 'vitest';
import type { PendingBatch } from '../../commands/batch.ts';
import { answerConfirmation, type ConfirmationNotice } from '../../commands/batch-answer.ts';
import type { CommandSurface } from '../../commands/command-answer.ts';
import type { AdmissionInput, AdmissionResult } from '../../src/admission/types.ts';
import { UserError } from '../../src/errors/user-error.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { tinyRequest } from '../support/tiny-models.ts';

const member: MemberRef = { scope: { kind: 'slack', id: 'T1' }, userId: 'U1' };
const logger = createLogger('silent');
const batch: PendingBatch = {
  v: 1,
  member,
  requests: ['a red fox', 'a blue fox', 'a green fox'].map((prompt, i) =>
    tinyRequest({ prompt, seed: i + 1 }),
  ),
  totalCost: 3,
};

/** Admission answering each job in turn: `accept` jobs accepted, then the next refused for credits. */
function admissionAccepting(accept: number, failWith?: Error) {
  const admitted: AdmissionInput[] = [];
  return {
    admitted,
    admission: {
      async admit(input: AdmissionInput): Promise<AdmissionResult> {
        admitted.push(input);
        if (admitted.length <= accept) {
          return {
            accepted: true,
            jobId: `g${admitted.length}`,
            position: admitted.length,
            cost: 1,
            balance: 9,
          };
        }
        if (failWith) throw failWith;
        return {
          accepted: false,
          reason: 'insufficient-credits',
          refusal: { reason: 'insufficient-credits', cost: 1, have: 0 },
          message: 'Not enough credits: this costs 1 credit and you have 0 credits.',
        };
      },
    },
  };
}

/** A confirmation surface recording what became of the confirmation, each job's slot and its status. */
function recordingConfirmation() {
  const events: (
    | { did: 'replace'; notice: ConfirmationNotice }
    | { did: 'slot'; index: number }
    | { did: 'discard'; index: number }
    | { did: 'post'; jobId: string }
  )[] = [];
  const answerSurface: CommandSurface<string> = {
    async post(jobId) {
      events.push({ did: 'post', jobId });
      return jobId;
    },
    async tellPrivately() {},
  };
  return {
    events,
    surface: {
      async replaceConfirmation(notice: ConfirmationNotice) {
        events.push({ did: 'replace', notice });
      },
      async jobSlot(_request: unknown, index: number) {
        events.push({ did: 'slot', index });
        return {
          origin: { platform: 'cli' as const },
          answer: {
            surface: answerSurface,
            jobs: { cancel: async () => ({ was: 'waiting' as const, refunded: 0 }) },
            logger,
          },
          async discard() {
            events.push({ did: 'discard', index });
          },
        };
      },
    },
  };
}

const press = { requestId: 'press-1', member };

describe('answering a batch confirmation', () => {
  it('says nothing was queued when the member drops the batch', async () => {
    const world = recordingConfirmation();
    const { admission } = admissionAccepting(3);
    await answerConfirmation(
      { surface: world.surface, services: { admission }, logger },
      { status: 'batch-dropped' },
      press,
    );
    expect(world.events).toEqual([
      { did: 'replace', notice: { kind: 'said', text: 'Cancelled; nothing was queued or charged.' } },
    ]);
  });

  it('replaces the confirmation with the refusal when it can no longer be answered', async () => {
    const world = recordingConfirmation();
    const error = new UserError('not-found', 'This confirmation has expired.');
    const { admission } = admissionAccepting(3);
    await answerConfirmation(
      { surface: world.surface, services: { admission }, logger },
      { status: 'refused', error },
      press,
    );
    expect(world.events).toEqual([{ did: 'replace', notice: { kind: 'refusal', error } }]);
  });

  it('queues each job with its own status until one is refused, discards that one’s slot, and sums up', async () => {
    const world = recordingConfirmation();
    const { admission, admitted } = admissionAccepting(1);
    await answerConfirmation(
      { surface: world.surface, services: { admission }, logger },
      { status: 'batch', batch },
      press,
    );
    expect(world.events).toEqual([
      { did: 'replace', notice: { kind: 'said', text: 'Queuing 3 jobs…' } },
      { did: 'slot', index: 0 },
      { did: 'post', jobId: 'g1' },
      { did: 'slot', index: 1 },
      { did: 'discard', index: 1 },
      {
        did: 'replace',
        notice: {
          kind: 'said',
          text: 'Queued 1 of 3 jobs. The rest were not queued and cost nothing: Not enough credits: this costs 1 credit and you have 0 credits.',
        },
      },
    ]);
    // One job per press and index, however often the press arrives.
    expect(admitted.map((a) => a.requestId)).toEqual(['press-1:0', 'press-1:1']);
  });

  it('says the jobs with a status were queued when something fails part-way', async () => {
    const world = recordingConfirmation();
    const { admission } = admissionAccepting(2, new Error('Redis went away'));
    await answerConfirmation(
      { surface: world.surface, services: { admission }, logger },
      { status: 'batch', batch },
      press,
    );
    expect(world.events.filter((e) => e.did === 'post')).toHaveLength(2);
    expect(world.events.at(-1)).toEqual({ did: 'replace', notice: { kind: 'interrupted' } });
  });
});
