import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { resultButtonRows } from '../../commands/actions.ts';
import { buttonRows, cancelRow, inpaintModal } from '../../src/platforms/discord/components.ts';
import { fitAttachments } from '../../src/platforms/discord/fit-attachments.ts';
import { discordFailureNotice, discordNote } from '../../src/platforms/discord/result-notes.ts';
import { statusText } from '../../src/platforms/discord/status-text.ts';
import { imageTreatment } from '../../src/platforms/image-treatment.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { checkMessagePayload, checkModal } from '../fakes/discord/wire-checks.ts';

const request: GenerationRequest = {
  mode: 'txt2img',
  prompt: 'a *bold* lighthouse',
  negativePrompt: '',
  model: 'sd-1.5',
  width: 768,
  height: 512,
  steps: 25,
  guidance: 7.5,
  sampler: 'euler_a',
  seed: 42,
  count: 4,
};

describe('status messages', () => {
  it('shows cost, balance, place in line and ETA while queued', () => {
    const text = statusText({
      request,
      userId: '1',
      cost: 4,
      balance: 21,
      state: { kind: 'queued', position: 3, etaSeconds: 95 },
    });
    expect(text).toBe(
      [
        '**a \\*bold\\* lighthouse** — <@1>',
        '⏳ Queued, #3 in line · ready in about 2 min · cost 4 credits, 21 left',
        '-# sd-1.5 · 768x512 · 25 steps · seed 42',
      ].join('\n'),
    );
  });

  it('stays within 2,000 characters whatever the prompt', () => {
    const text = statusText({
      request: { ...request, prompt: 'x'.repeat(5000) },
      userId: '1',
      cost: 1,
      state: { kind: 'failed', message: 'y'.repeat(5000), refunded: 1 },
    });
    expect(text.length).toBeLessThanOrEqual(2000);
    expect(text).toContain('1 credit refunded');
  });
});

describe('components', () => {
  const result = {
    v: 1 as const,
    images: [1, 2, 3, 4].map((i) => ({
      artifactId: `a${i}`,
      width: 768,
      height: 512,
      bytes: 1,
      seed: 41 + i,
      nsfw: null,
    })),
    seed: 42,
    model: 'sd-1.5',
    provider: 'cpu',
    truncatedWords: [],
    timings: { loadMs: 0, renderMs: 0, totalMs: 0 },
  };

  it('draws the result buttons in rows Discord accepts', () => {
    const rows = buttonRows(resultButtonRows({ jobId: 'g0123abc', request, result }));
    expect(rows.map((r) => r.components.map((b) => b.label))).toEqual([
      ['U1', 'U2', 'U3', 'U4', 'Reroll'],
      ['V1', 'V2', 'V3', 'V4'],
    ]);
    expect(() => checkMessagePayload({ content: 'x', components: rows }, [])).not.toThrow();
    expect(() => checkMessagePayload({ content: 'x', components: cancelRow('g0123abc') }, [])).not.toThrow();
  });

  it('splits a row of more than five buttons', () => {
    const many = Array.from({ length: 7 }, (_, i) => ({ label: `B${i}`, actionId: `e1:r:g${i}` }));
    expect(buttonRows([many]).map((r) => r.components.length)).toEqual([5, 2]);
  });

  it('builds an Inpaint modal within Discord’s limits', () => {
    const modal = inpaintModal('e1:i:g0123abc:2', 3);
    expect(() => checkModal(modal as unknown as Record<string, unknown>)).not.toThrow();
    expect(modal.title).toBe('Inpaint image 3');
  });
});

describe('NSFW treatment per image', () => {
  const flagged = { nsfw: true, score: 0.9 };
  it.each([
    ['block', false, 'blank'],
    ['block', true, 'blank'],
    ['spoiler', false, 'spoiler'],
    ['spoiler', true, 'spoiler'],
    ['allow-in-nsfw-channels', false, 'blank'],
    ['allow-in-nsfw-channels', true, 'show'],
  ] as const)('%s in an age-restricted channel: %s → %s', (policy, channelNsfw, expected) => {
    expect(imageTreatment(flagged, policy, channelNsfw)).toBe(expected);
  });

  it('shows images that were not flagged or not screened', () => {
    expect(imageTreatment({ nsfw: false, score: 0.1 }, 'block', false)).toBe('show');
    expect(imageTreatment(null, 'block', false)).toBe('show');
  });
});

describe('fitting files into messages', () => {
  const png = (colour: string) =>
    sharp({ create: { width: 64, height: 64, channels: 3, background: colour } })
      .png()
      .toBuffer();

  it('splits files across messages when one request cannot carry them all', async () => {
    const files = await Promise.all(
      ['#f00', '#0f0', '#00f'].map(async (c, i) => ({ name: `${i}.png`, bytes: await png(c) })),
    );
    const size = files[0]!.bytes.length;
    const { messages, reencoded } = await fitAttachments(files, 10 * 1024 * 1024, size * 2 + 1);
    expect(reencoded).toBe(false);
    expect(messages.map((m) => m.map((f) => f.name))).toEqual([['0.png', '1.png'], ['2.png']]);
  });

  it('never puts more than ten files in a message', async () => {
    const one = await png('#888');
    const files = Array.from({ length: 12 }, (_, i) => ({ name: `${i}.png`, bytes: one }));
    const { messages } = await fitAttachments(files, 10 * 1024 * 1024);
    expect(messages.map((m) => m.length)).toEqual([10, 2]);
  });
});

describe('result notes and the failure notice', () => {
  it('keeps markdown and mentions in what the member wrote from changing the message', () => {
    expect(
      discordFailureNotice({ prompt: 'a *bold* @everyone', message: 'Out of memory.', refunded: 0 }),
    ).toBe('❌ Your request "a \\*bold\\* @\u200beveryone" failed: Out of memory. Nothing was charged.');
    expect(discordNote({ kind: 'warning', text: 'LoRA __x__ patched half' })).toBe(
      '⚠️ LoRA \\_\\_x\\_\\_ patched half',
    );
  });

  it('says blocked images were replaced by blank ones, and spoilered ones are behind a spoiler', () => {
    expect(discordNote({ kind: 'blocked', images: [0, 2], policy: 'block' })).toBe(
      '🔞 Images 1, 3 were flagged by the safety checker and replaced by blank images (this server blocks them).',
    );
    expect(discordNote({ kind: 'spoilered', images: [1] })).toBe(
      '🔞 Image 2 was flagged by the safety checker and is behind a spoiler.',
    );
  });
});
