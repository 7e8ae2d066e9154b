import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INPAINT_BLOCKS,
  INPAINT_CALLBACK_ID,
  INPAINT_INPUT_ACTION,
} from '../../src/platforms/slack/blocks/inpaint-modal.ts';
import { textValue } from '../fakes/slack/payloads.ts';
import { queuedJobs, type SlackHarness, startSlackHarness } from './support/slack-harness.ts';

/**
 * Socket Mode: the app asks the fake's `apps.connections.open` for a WebSocket URL with its app
 * token, receives `hello`, then envelopes; the same handlers answer, acknowledging each envelope.
 */
let h: SlackHarness;

beforeAll(async () => {
  h = await startSlackHarness({ name: 'slack-socket', socketMode: true });
});

afterAll(async () => {
  await h?.close();
});

describe('Slack Socket Mode', () => {
  it('connects through apps.connections.open with the app token', async () => {
    const open = h.fake.calls.filter((c) => c.method === 'apps.connections.open');
    expect(open.length).toBeGreaterThanOrEqual(1);
    expect(open[0]?.token).toBe(h.fake.appToken);
    expect(h.fake.socketMode.connections).toBe(1);
  });

  it('acknowledges a /imagine envelope and posts the parent message', async () => {
    const ack = await h.command({ userId: 'USOCK' }, '/imagine', 'a purple triangle on a white background');
    expect(ack.ms).toBeLessThan(3000);
    const parent = await h.fake.waitFor(() =>
      h.fake.messages.find((m) => m.text.includes('a purple triangle')),
    );
    expect(JSON.stringify(parent.blocks)).toContain('"text":"Cancel"');
    expect(await queuedJobs(h.services)).toBe(1);
  });

  it('answers an unknown button through the same handlers', async () => {
    const posts = h.fake.responseUrlPosts.length;
    await h.press({ userId: 'USOCK', messageTs: '1.000001', actionId: 'e9:zz:nope' });
    await h.fake.waitFor(() => h.fake.responseUrlPosts.length > posts);
    expect(JSON.stringify(h.fake.responseUrlPosts.at(-1)?.body)).toContain('another version of easel');
    expect(await queuedJobs(h.services)).toBe(1);
  });

  it('keeps a modal open with the error next to the field when its form is not its own', async () => {
    const ack = await h.submit({
      userId: 'USOCK',
      callbackId: INPAINT_CALLBACK_ID,
      privateMetadata: 'garbage',
      values: { [INPAINT_BLOCKS.prompt]: { [INPAINT_INPUT_ACTION]: textValue('a dog') } },
    });
    expect(ack.json).toMatchObject({ response_action: 'errors' });
    expect(JSON.stringify(ack.json)).toContain('damaged');
    expect(await queuedJobs(h.services)).toBe(1);
  });
});
