import { readdirSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMember } from '../../src/api/key-admin.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { RegionEditor } from '../../src/region-editor/region-editor.ts';
import { RegionSecret } from '../../src/region-editor/region-secret.ts';
import { checkRegionToken } from '../../src/region-editor/region-token.ts';
import { type ApiHarness, startApiHarness } from '../api/api-harness.ts';

/**
 * The Vary (Region) submission without a browser: every bad mask, a refusal by admission and a race
 * between two submissions of one link, each leaving no trace (no job, no credit spent, no stored
 * mask), and the link still usable after anything that queued nothing.
 */
let api: ApiHarness;

beforeAll(async () => {
  api = await startApiHarness({
    name: 'region-submission',
    workers: true,
    env: { API_SYNC_WAIT_MS: '60000', DUPLICATE_WINDOW_S: '0' },
  });
}, 120_000);

afterAll(async () => {
  await api?.close();
});

/** A finished 512x512 job of a new key with `credits`, and a Vary (Region) link on its image. */
async function linkOnNewJob(credits: number, prompt = 'a red circle on a blue background') {
  const created = await api.newKey({ credits });
  const answer = await api.post('/v1/text2img', {
    key: created.key,
    prompt,
    width: 512,
    height: 512,
    samples: 1,
    num_inference_steps: 2,
  });
  expect(answer.body.status).toBe('success');
  const jobId = String(answer.body.id);
  const member = keyMember(created.record.id, created.record.name);
  const { url } = await new RegionEditor(api.services).offerLink({
    jobId,
    index: 0,
    member,
    origin: { platform: 'api', keyId: created.record.id },
  });
  const token = new URL(url).searchParams.get('t') ?? '';
  return { token, member, jobId };
}

async function maskPng(width: number, height: number, paint: boolean, format: 'png' | 'jpeg' = 'png') {
  const pixels = Buffer.alloc(width * height * 3, 0);
  if (paint) pixels.fill(255, 0, width * 3 * 10);
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  return `data:image/png;base64,${(await (format === 'png' ? image.png() : image.jpeg()).toBuffer()).toString('base64')}`;
}

const submit = (token: string, body: unknown) =>
  api.post(`/region/submit?t=${encodeURIComponent(token)}`, body);

async function generateJobs(): Promise<number> {
  const counts = await api.services.queues.generate.getJobCounts(
    'wait',
    'active',
    'completed',
    'failed',
    'delayed',
    'prioritized',
  );
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

const storedFiles = () =>
  readdirSync(api.artifactsDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).length;
const balance = async (member: MemberRef) => (await api.services.credits.balance(member)).total;

describe('Vary (Region) submissions', () => {
  it('serves the page with the prompt escaped, a strict CSP, and the editor script and stylesheet', async () => {
    const { token } = await linkOnNewJob(10, 'a <b>bold</b> "circle"');
    const response = await fetch(`${api.url}/region?t=${token}`);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('a &#60;b&#62;bold&#60;/b&#62; &#34;circle&#34;</textarea>');
    expect(html).not.toContain('<b>bold');
    expect(html).not.toMatch(/<script>|<style|\sstyle="|\son\w+="/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src http:\/\/[^;]+\/region\/assets\/editor\.js;/);
    expect(csp).toMatch(/style-src http:\/\/[^;]+\/region\/assets\/editor\.css;/);
    expect(csp).toContain("img-src 'self' data: blob:");
    expect(csp).toContain("form-action 'self'");
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const script = await fetch(`${api.url}/region/assets/editor.js`);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(await script.text()).toContain('pointerdown');
    const image = await fetch(`${api.url}/region/image?t=${token}`);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect((await sharp(Buffer.from(await image.arrayBuffer())).metadata()).width).toBe(512);
  });

  it('refuses bad masks and prompts clearly, queues nothing, keeps no mask, and leaves the link usable', async () => {
    const { token, member } = await linkOnNewJob(10);
    const jobs = await generateJobs();
    const files = storedFiles();
    const credits = await balance(member);
    const cases: [unknown, RegExp][] = [
      [
        { prompt: 'a sun', mask: await maskPng(256, 256, true) },
        /mask: it is 256x256 but the image is 512x512/,
      ],
      [{ prompt: 'a sun', mask: await maskPng(512, 512, false) }, /mask: nothing is painted/],
      [{ prompt: 'a sun', mask: await maskPng(512, 512, true, 'jpeg') }, /mask: must be a PNG image/],
      [{ prompt: 'a sun', mask: 'not base64 at all!' }, /mask: must be a PNG image in base64/],
      [{ prompt: 'a sun' }, /mask: required/],
      [{ prompt: '  ', mask: await maskPng(512, 512, true) }, /prompt: required/],
      [{ prompt: 'x'.repeat(2001), mask: await maskPng(512, 512, true) }, /prompt: must be at most 2000/],
    ];
    for (const [body, message] of cases) {
      const answer = await submit(token, body);
      expect(answer.status).toBe(422);
      expect(answer.body.message).toMatch(message);
      expect(answer.body.tips).toBe('Nothing was queued or charged.');
    }
    const notJson = await api.post(`/region/submit?t=${token}`, '{"prompt":', {
      'content-type': 'application/json',
    });
    expect(notJson.status).toBe(400);
    expect(await generateJobs()).toBe(jobs);
    expect(storedFiles()).toBe(files);
    expect(await balance(member)).toBe(credits);
    // Still usable: a good submission queues the job.
    const good = await submit(token, { prompt: 'a sun', mask: await maskPng(512, 512, true) });
    expect(good.status).toBe(200);
    expect(good.body.ok).toBe(true);
    expect(await generateJobs()).toBe(jobs + 1);
  });

  it('shows a refusal by admission (no credits left) and gives the link back for a retry', async () => {
    // One credit: the first image spends it, so the inpaint (one image) is refused.
    const { token, member, jobId } = await linkOnNewJob(1);
    expect(await balance(member)).toBe(0);
    const jobs = await generateJobs();
    const files = storedFiles();
    const mask = await maskPng(512, 512, true);
    const refused = await submit(token, { prompt: 'a sun', mask });
    expect(refused.status).toBe(402);
    expect(refused.body.message).toMatch(/credit/i);
    expect(await generateJobs()).toBe(jobs);
    expect(storedFiles()).toBe(files);
    await api.services.credits.grant({ member, isAdmin: true }, member, 5, 'test top-up');
    const retried = await submit(token, { prompt: 'a sun', mask });
    expect(retried.status).toBe(200);
    const queued = await api.services.jobs.get(retried.body.jobId);
    expect(queued?.data.member.userId).toBe(member.userId);
    expect(queued?.data.request.source).toEqual({ jobId, index: 0 });
  });

  it('queues one job when two submissions of one link race', async () => {
    const { token } = await linkOnNewJob(10);
    const jobs = await generateJobs();
    const mask = await maskPng(512, 512, true);
    const answers = await Promise.all([1, 2, 3].map(() => submit(token, { prompt: 'a sun', mask })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 410, 410]);
    expect(answers.find((a) => a.status === 410)?.body.message).toBe('This link was already used.');
    expect(await generateJobs()).toBe(jobs + 1);
  });
});

describe('offering a link', () => {
  it('refuses when the deployment serves no API (no page to open), and for a job of another scope', async () => {
    const { jobId, member } = await linkOnNewJob(10);
    const origin = { platform: 'api' as const, keyId: 'k' };
    const noApi = new RegionEditor({
      ...api.services,
      config: { ...api.services.config, API_ENABLED: false },
    });
    await expect(noApi.offerLink({ jobId, index: 0, member, origin })).rejects.toMatchObject({
      identifier: 'unavailable',
      message: expect.stringMatching(/API turned off; use Inpaint/),
    });
    const stranger = { scope: { kind: 'api' as const, id: 'someone-else' }, userId: 'x' };
    await expect(
      new RegionEditor(api.services).offerLink({ jobId, index: 0, member: stranger, origin }),
    ).rejects.toMatchObject({ identifier: 'not-found' });
    await expect(
      new RegionEditor(api.services).offerLink({ jobId, index: 3, member, origin }),
    ).rejects.toMatchObject({ message: 'That job has no image 4; it has 1.' });
  });
});

describe('the Vary (Region) signing key', () => {
  it('is one random key every host reads from Redis when REGION_EDITOR_SECRET is unset', async () => {
    const prefix = `${api.prefix}-secret`;
    const [a, b] = await Promise.all([
      new RegionSecret(api.services.redis, prefix, undefined).get(),
      new RegionSecret(api.services.redis, prefix, undefined).get(),
    ]);
    expect(a).toBe(b);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    const configured = 'configured-secret-of-at-least-32-characters';
    expect(await new RegionSecret(api.services.redis, prefix, configured).get()).toBe(configured);
  });

  it('makes links another deployment (another key) calls forged', async () => {
    const { token } = await linkOnNewJob(10);
    expect(checkRegionToken('some-other-key-of-at-least-32-characters', token, Date.now())).toEqual({
      ok: false,
      reason: 'forged',
    });
  });
});
