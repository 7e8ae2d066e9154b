import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../src/api/key-store.ts';
import { buildApiServer } from '../../src/api/server.ts';
import { DiskArtifactStore } from '../../src/artifacts/disk-artifact-store.ts';
import { createLogger } from '../../src/log/logger.ts';
import { queuedJobs, type SlackHarness, startSlackHarness } from '../slack/support/slack-harness.ts';
import { type Button, buttonsOf, resultInThread } from '../slack/support/thread-results.ts';
import { launchChromium, screenshotForDocs } from './support/browser.ts';
import {
  differingPixels,
  expectedPolygonMask,
  expectedRectangleMask,
  expectedStrokeMask,
  freePort,
  linkIn,
  queuedMask,
  screenPoints,
  touchDrag,
  union,
} from './support/region-steps.ts';

/**
 * Vary (Region) from Slack, on a phone-sized touch screen: the button's ephemeral answer holds the
 * link; a finger draws a rectangle, inverts and undoes, paints a stroke and closes a lasso; a refusal shows on the
 * page; the queued mask is exactly what was drawn and the result lands in the Slack thread.
 */
let h: SlackHarness;
let api: FastifyInstance;
let browser: Browser;
const CHANNEL = 'C0000GENERAL';

beforeAll(async () => {
  browser = await launchChromium();
  const port = await freePort();
  h = await startSlackHarness({
    name: 'region-slack',
    render: true,
    env: { API_HOST: '127.0.0.1', API_PORT: String(port), DEFAULT_DAILY_ALLOWANCE: '50' },
  });
  api = await buildApiServer({
    config: h.config,
    logger: createLogger('silent'),
    services: h.services,
    keys: new ApiKeyStore(h.services.redis, h.prefix),
  });
  await api.listen({ host: '127.0.0.1', port });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await h?.close();
});

describe('Vary (Region) on Slack, on a phone', () => {
  it('draws with a finger, shows a refusal, queues exactly the drawn mask and posts the result in the thread', async () => {
    await h.command(
      { userId: 'UALICE', channelId: CHANNEL },
      '/imagine',
      'a red circle on a blue background --seed 5',
    );
    const parent = await h.fake.waitFor(() =>
      h.fake.messages.find((m) => m.text.includes('a red circle') && !m.threadTs),
    );
    const first = await resultInThread(h, CHANNEL, parent.ts, 1);
    const u1 = buttonsOf(first.buttons).find((b) => b.label === 'U1') as Button;
    await h.press({
      userId: 'UALICE',
      channelId: CHANNEL,
      messageTs: first.buttons.ts,
      threadTs: parent.ts,
      actionId: u1.actionId,
    });
    const upscale = await resultInThread(h, CHANNEL, parent.ts, 2);
    const vary = buttonsOf(upscale.buttons).find((b) => b.label === 'Vary (Region)') as Button;
    expect(vary).toBeDefined();
    const answers = h.fake.responseUrlPosts.length;
    await h.press({
      userId: 'UALICE',
      channelId: CHANNEL,
      messageTs: upscale.buttons.ts,
      threadTs: parent.ts,
      actionId: vary.actionId,
    });
    const post = await h.fake.waitFor(() => h.fake.responseUrlPosts[answers]);
    const body = post.body as { text: string; response_type: string };
    expect(body.response_type).toBe('ephemeral');
    const url = linkIn(body.text);

    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    const page = await context.newPage();
    expect((await page.goto(url))?.status()).toBe(200);
    await page.locator('main.ready').waitFor();
    const image = { width: 1024, height: 1024 };

    await page.getByRole('radio', { name: 'Rectangle' }).check();
    const corners = await screenPoints(
      page,
      [
        { x: 0.1, y: 0.15 },
        { x: 0.3, y: 0.22 },
        { x: 0.45, y: 0.4 },
      ],
      image,
    );
    await touchDrag(page, corners);
    await page.getByRole('button', { name: 'Invert' }).click();
    await expect
      .poll(() => page.locator('#painted').textContent())
      .toMatch(/^9\d\.\d% of the image will change/);
    await page.getByRole('button', { name: 'Undo' }).click();
    await page.getByRole('radio', { name: 'Brush' }).check();
    await page.getByLabel('Brush size').fill('60');
    const stroke = await screenPoints(
      page,
      [
        { x: 0.6, y: 0.6 },
        { x: 0.85, y: 0.75 },
      ],
      image,
    );
    await touchDrag(page, stroke);
    await page.getByRole('radio', { name: 'Lasso' }).check();
    const lasso = await screenPoints(
      page,
      [
        { x: 0.15, y: 0.6 },
        { x: 0.4, y: 0.65 },
        { x: 0.3, y: 0.9 },
        { x: 0.22, y: 0.75 },
        { x: 0.1, y: 0.85 },
      ],
      image,
    );
    await touchDrag(page, lasso);
    await screenshotForDocs(page, 'vary-region-phone.png');

    // A prompt of blanks passes the browser's `required` but not easel's validator: shown, nothing queued.
    const prompt = page.getByLabel('Prompt: what the painted part should become');
    await prompt.fill('   ');
    const jobs = await queuedJobs(h.services);
    await page.getByRole('button', { name: 'Submit' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toMatch(/prompt: required.*Nothing was queued or charged/);
    expect(await queuedJobs(h.services)).toBe(jobs);

    await prompt.fill('a green square');
    const submitted = page.waitForResponse((r) => r.url().includes('/region/submit'));
    await page.getByRole('button', { name: 'Submit' }).click();
    const answer = (await (await submitted).json()) as { ok: boolean; jobId: string };
    expect(answer.ok).toBe(true);
    await expect.poll(() => page.getByRole('status').last().textContent()).toMatch(/Queued/);
    expect(await queuedJobs(h.services)).toBe(jobs + 1);

    const queued = await queuedMask(h.services, new DiskArtifactStore(h.artifactsDir), answer.jobId);
    const expected = union(
      expectedRectangleMask(corners[0]!.image, corners[2]!.image, 1024, 1024),
      union(
        expectedStrokeMask(
          stroke.map((p) => p.image),
          30,
          1024,
          1024,
        ),
        expectedPolygonMask(
          lasso.map((p) => p.image),
          1024,
          1024,
        ),
      ),
    );
    expect(differingPixels(queued.data, expected)).toBe(0);
    expect(queued.request.prompt).toBe('a green square');
    const job = await h.services.jobs.get(answer.jobId);
    expect(job?.data.member).toMatchObject({ scope: { kind: 'slack' }, userId: 'UALICE' });

    const inpainted = await resultInThread(h, CHANNEL, parent.ts, 3);
    expect(inpainted.image.files).toHaveLength(1);
    expect(buttonsOf(inpainted.buttons).map((b) => b.label)).toContain('Reroll');
    await context.close();
  }, 120_000);
});
