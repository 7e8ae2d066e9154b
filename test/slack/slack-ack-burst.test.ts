import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queuedJobs, type SlackHarness, startSlackHarness } from './support/slack-harness.ts';

/** Slack drops a command not acknowledged within 3 seconds; a burst must not push acks past it. */
let h: SlackHarness;
const BURST = 60;

beforeAll(async () => {
  h = await startSlackHarness({ name: 'slack-burst', env: { DEFAULT_PENDING_CAP: '5' } });
});

afterAll(async () => {
  await h?.close();
});

describe('a burst of /imagine', () => {
  it(`acknowledges ${BURST} simultaneous commands inside 3 seconds and queues each once`, async () => {
    const answers = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        h.command({ userId: `UBURST${i}` }, '/imagine', `a burst circle number ${i}`),
      ),
    );
    const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
    const p50 = ms[Math.floor(ms.length * 0.5)] as number;
    const p99 = ms[Math.ceil(ms.length * 0.99) - 1] as number;
    console.log(
      JSON.stringify({ slack_ack_burst: BURST, ack_p50_ms: Math.round(p50), ack_p99_ms: Math.round(p99) }),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(p99).toBeLessThan(3000);
    await h.fake.waitFor(
      () => h.fake.messages.filter((m) => m.text.includes('a burst circle')).length === BURST,
      20_000,
    );
    expect(await queuedJobs(h.services)).toBe(BURST);
  });
});
