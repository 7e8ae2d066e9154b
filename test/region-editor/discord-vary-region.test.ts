import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../src/api/key-store.ts';
import { buildApiServer } from '../../src/api/server.ts';
import { createLogger } from '../../src/log/logger.ts';
import { REGION_LINK_TTL_MS } from '../../src/region-editor/region-token.ts';
import {
  answerOf,
  imagesIn,
  imagine,
  jobCount,
  labels,
  press,
  resultOf,
  statusOf,
} from '../discord/support/discord-steps.ts';
import { type DiscordWorld, discordWorld } from '../discord/support/discord-world.ts';
import type { FakeChannel, FakeMessage } from '../fakes/discord/fake-discord.ts';
import { member } from '../fakes/discord/interactions.ts';
import { launchChromium, screenshotForDocs } from './support/browser.ts';
import {
  differingPixels,
  expectedStrokeMask,
  freePort,
  linkIn,
  mouseDrag,
  paintedPixels,
  queuedMask,
  screenPoints,
} from './support/region-steps.ts';

/**
 * Vary (Region) from Discord, in a real browser: the button under an upscaled image answers with a
 * private link; the page paints a stroke and submits; the inpaint job carries exactly that mask and
 * its result lands in the thread. Expired, replayed and forged links queue nothing.
 */
let world: DiscordWorld;
let api: FastifyInstance;
let browser: Browser;
/** The api role's clock runs this far ahead (the expired case). */
let skewMs = 0;
const PROMPT = 'a red circle on a blue background';

beforeAll(async () => {
  browser = await launchChromium();
  const port = await freePort();
  world = await discordWorld('region-discord', { env: { API_HOST: '127.0.0.1', API_PORT: String(port) } });
  api = await buildApiServer({
    config: world.config,
    logger: createLogger('silent'),
    services: world.services,
    keys: new ApiKeyStore(world.services.redis, world.prefix),
    clock: () => Date.now() + skewMs,
  });
  await api.listen({ host: '127.0.0.1', port });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await world?.close();
});

const alice = member('alice');
const aliceRef = () => ({ scope: { kind: 'discord' as const, id: world.guild.id }, userId: alice.id });

let upscaledOnce: Promise<{ upscaled: FakeMessage; thread: FakeChannel }> | undefined;

/** /imagine, U1, and the upscaled image in its thread (made once; every press gets its own link). */
function upscaledImage(): Promise<{ upscaled: FakeMessage; thread: FakeChannel }> {
  upscaledOnce ??= makeUpscaledImage();
  return upscaledOnce;
}

async function makeUpscaledImage(): Promise<{ upscaled: FakeMessage; thread: FakeChannel }> {
  const sent = await imagine(world, alice, { prompt: PROMPT, count: 1, seed: 11 });
  const status = await statusOf(world, sent, /Queued|Rendering|Done/);
  const grid = await imagesIn(world, status.id);
  const thread = world.fake.channels.get(status.id)!;
  const u1 = await press(world, alice, grid, 'U1', thread);
  return { upscaled: await resultOf(world, u1), thread };
}

async function linkFor(upscaled: FakeMessage, thread: FakeChannel): Promise<string> {
  const pressed = await press(world, alice, upscaled, 'Vary (Region)', thread);
  const answer = await answerOf(world, pressed);
  expect(answer.ephemeral).toBe(true);
  expect(answer.content).toMatch(/works once, for 15 minutes/);
  return linkIn(answer.content);
}

async function openEditor(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  const response = await page.goto(url);
  expect(response?.status()).toBe(200);
  const csp = response?.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  await page.locator('main.ready').waitFor();
  // No CSP violation, no script error: the page ran from its one allowed script.
  expect(errors).toEqual([]);
  return page;
}

describe('Vary (Region) on Discord', () => {
  it('paints a stroke, queues an inpaint job with exactly that mask, and posts the result in the thread', async () => {
    const { upscaled, thread } = await upscaledImage();
    expect(labels(upscaled)).toContain('Vary (Region)');
    const url = await linkFor(upscaled, thread);
    const page = await openEditor(url);

    const picture = await page.locator('#picture').evaluate((img) => {
      const { naturalWidth, naturalHeight } = img as unknown as {
        naturalWidth: number;
        naturalHeight: number;
      };
      return { width: naturalWidth, height: naturalHeight };
    });
    expect(picture).toEqual({ width: 1024, height: 1024 });
    await expect
      .poll(() => page.getByLabel('Prompt: what the painted part should become').inputValue())
      .toBe(PROMPT);
    await page.getByLabel('Brush size').fill('40');
    const stroke = await screenPoints(
      page,
      [
        { x: 0.2, y: 0.3 },
        { x: 0.55, y: 0.45 },
        { x: 0.6, y: 0.8 },
      ],
      picture,
    );
    await mouseDrag(page, stroke);
    await screenshotForDocs(page, 'vary-region-desktop.png');
    await page.getByLabel('Prompt: what the painted part should become').fill('a golden sun');
    const before = await jobCount(world);
    const balanceBefore = (await world.services.credits.balance(aliceRef())).total;
    const submitted = page.waitForResponse((r) => r.url().includes('/region/submit'));
    await page.getByRole('button', { name: 'Submit' }).click();
    const answer = (await (await submitted).json()) as { ok: boolean; jobId: string };
    expect(answer.ok).toBe(true);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/Queued .*posted in the thread/);

    const queued = await queuedMask(world.services, world.artifacts, answer.jobId);
    expect(queued.request.prompt).toBe('a golden sun');
    expect(queued.request.source?.index).toBe(0);
    expect([queued.width, queued.height]).toEqual([1024, 1024]);
    const expected = expectedStrokeMask(
      stroke.map((p) => p.image),
      20,
      1024,
      1024,
    );
    expect(paintedPixels(expected)).toBeGreaterThan(20_000);
    expect(differingPixels(queued.data, expected)).toBe(0);
    expect(await jobCount(world)).toBe(before + 1);
    // Charged to the member who pressed.
    expect((await world.services.credits.balance(aliceRef())).total).toBeLessThan(balanceBefore);

    // The result lands in the thread, with its buttons, posted with the bot token.
    const result = await world.fake.waitUntil(
      () =>
        world.fake
          .messagesIn(thread.id)
          .find((m) => m.attachments.length > 0 && m.content.includes('a golden sun')),
      45_000,
    );
    expect(labels(result)).toContain('U1');

    // Replayed: the same link again, as a page and as a submission, queues nothing.
    const again = await page.goto(url);
    expect(again?.status()).toBe(410);
    expect(await page.locator('h1').textContent()).toBe('This link was already used');
    const replay = await page.evaluate(async (u) => {
      const r = await fetch(u.replace('/region?', '/region/submit?'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'again', mask: 'iVBORw0KGgo=' }),
      });
      return { status: r.status, body: (await r.json()) as { message: string } };
    }, url);
    expect(replay.status).toBe(410);
    expect(replay.body.message).toMatch(/already used/);
    expect(await jobCount(world)).toBe(before + 1);
    await page.close();
  }, 120_000);

  it('answers forged and expired links with a clear page and queues nothing', async () => {
    const { upscaled, thread } = await upscaledImage();
    const url = await linkFor(upscaled, thread);
    const token = new URL(url).searchParams.get('t') ?? '';
    const [claims, signature] = token.split('.') as [string, string];
    const before = await jobCount(world);
    const page = await browser.newPage();

    // A changed signature, and claims naming another job under the old signature.
    const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
    const otherJob = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(claims, 'base64url').toString()), j: 'g0000' }),
    ).toString('base64url');
    for (const forged of [`${claims}.${flipped}`, `${otherJob}.${signature}`, 'nonsense', '']) {
      const response = await page.goto(`${url.split('?')[0]}?t=${encodeURIComponent(forged)}`);
      expect(response?.status()).toBe(403);
      expect(await page.locator('h1').textContent()).toBe('This link is not valid');
      expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    }
    const forgedImage = await page.goto(`${url.replace('/region?', '/region/image?')}x`);
    expect(forgedImage?.status()).toBe(403);

    // Past 15 minutes (the api role's clock moved on): expired, as a page and as a submission.
    skewMs = REGION_LINK_TTL_MS + 1000;
    try {
      const expired = await page.goto(url);
      expect(expired?.status()).toBe(410);
      expect(await page.locator('h1').textContent()).toBe('This link has expired');
      const submit = await page.evaluate(async (u) => {
        const r = await fetch(u.replace('/region?', '/region/submit?'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'late', mask: 'iVBORw0KGgo=' }),
        });
        return r.status;
      }, url);
      expect(submit).toBe(410);
    } finally {
      skewMs = 0;
    }
    expect(await jobCount(world)).toBe(before);
    await page.close();
  }, 90_000);
});
