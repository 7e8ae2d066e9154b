import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors/user-error.ts';
import { member } from '../fakes/discord/interactions.ts';
import { until } from '../support/until.ts';
import { answerOf, imagine, statusOf } from './support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from './support/discord-world.ts';

/**
 * The first answer of `/imagine` goes through the command surface: the status itself when
 * admission is done within the budget, else a defer at the budget's end and the status edited in
 * (a refusal then replaces "thinking…" with a private message). Either way the status is recorded.
 */
const BUDGET_MS = 100;
const SLOW_ADMISSION_MS = 600;

let world: DiscordWorld;
let admit: DiscordWorld['services']['admission']['admit'];
beforeAll(async () => {
  world = await discordWorld('discord-first-answer', { answerBudgetMs: BUDGET_MS, generate: false });
  admit = world.services.admission.admit;
});
afterEach(() => {
  world.services.admission.admit = admit;
});
afterAll(async () => {
  await world?.close();
});

/** Admission as a far-away Redis would make it: slower than the budget. */
function slowAdmission(): void {
  world.services.admission.admit = async (input) => {
    await new Promise((resolve) => setTimeout(resolve, SLOW_ADMISSION_MS));
    return admit.call(world.services.admission, input);
  };
}

function callbackType(sentId: string): number | undefined {
  const callback = world.fake.calls.find(
    (c) => c.route === 'POST /interactions/:id/:token/callback' && c.path.split('/')[2] === sentId,
  );
  return (callback?.json as { type?: number } | undefined)?.type;
}

/** Edits of the interaction's original message through its webhook. */
function originalEdits(token: string): number {
  return world.fake.calls.filter((c) => c.route.startsWith('PATCH /webhooks/') && c.path.includes(token))
    .length;
}

/** Resolves once the status message is recorded as its job's (the record follows the answer). */
async function recorded(messageId: string): Promise<void> {
  const jobId = /e1:x:(\w+)/.exec(JSON.stringify(world.fake.messages.get(messageId)?.components))?.[1];
  expect(jobId).toBeDefined();
  await until(async () => (await world.replies.get(jobId!))?.messageId === messageId, 5000);
}

describe('the first answer to /imagine', () => {
  it('is the queued status itself when admission is quick, recorded for delivery', async () => {
    const sent = await imagine(world, member('ada'), { prompt: 'a red circle', seed: 5 });
    expect(callbackType(sent.id)).toBe(4);
    const status = await statusOf(world, sent, /Queued/);
    expect(originalEdits(sent.token)).toBe(0);
    await recorded(status.id);
  });

  it('defers at the budget’s end when admission is slow, then edits the status in', async () => {
    slowAdmission();
    const sent = await imagine(world, member('bea'), { prompt: 'a blue square', seed: 6 });
    const first = await world.fake.firstCallback(sent.id);
    expect(callbackType(sent.id)).toBe(5);
    expect(first.at - sent.dispatchedAt).toBeLessThan(SLOW_ADMISSION_MS);
    const status = await statusOf(world, sent, /Queued/);
    expect(originalEdits(sent.token)).toBe(1);
    await recorded(status.id);
  });

  it('replaces "thinking…" with a private refusal when a slow admission refuses', async () => {
    world.services.admission.admit = async () => {
      await new Promise((resolve) => setTimeout(resolve, SLOW_ADMISSION_MS));
      throw new UserError('invalid-request', 'That model is resting; try another.');
    };
    const sent = await imagine(world, member('cleo'), { prompt: 'a red square', seed: 7 });
    const answer = await answerOf(world, sent);
    expect(callbackType(sent.id)).toBe(5);
    expect(answer).toMatchObject({ ephemeral: true });
    expect(answer.content).toContain('That model is resting');
    await world.fake.waitUntil(() => world.fake.originalOf(sent.id)?.deleted || undefined, 5000);
  });
});
