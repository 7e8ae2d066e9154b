import { describe, expect, it } from 'vitest';
import { requestFingerprint } from '../../src/admission/fingerprint.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { wordsForMatching, wordsForMatchingAnyText } from '../../src/request/words.ts';
import { request } from './support.ts';

describe('words for matching', () => {
  it('pads lower-case words with one space, separators of any kind collapsed', () => {
    expect(wordsForMatching('A Red-Fox,  in the SNOW!')).toBe(' a red fox in the snow ');
    expect(wordsForMatching('')).toBe('  ');
    expect(wordsForMatching('  --  ')).toBe('  ');
    expect(wordsForMatching('ﬁne Ｒｅｄ Straße 東京 ２')).toBe(' fine red straße 東京 2 ');
  });

  it('gives, for ASCII text, exactly what the general rule gives', () => {
    // Seeded, so a failure repeats: every printable and control character, in random strings.
    let seed = 42;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 2000; n++) {
      const length = next() % 40;
      const text = Array.from({ length }, () => String.fromCharCode(next() % 128)).join('');
      expect(wordsForMatching(text), JSON.stringify(text)).toBe(wordsForMatchingAnyText(text));
    }
  });
});

describe('request fingerprint', () => {
  it('ignores case, spacing and the seed; tells other parameters apart', () => {
    const base = request({ prompt: 'a lighthouse on a cliff', seed: 1 });
    const same = requestFingerprint(request({ prompt: '  A LIGHTHOUSE on a cliff ', seed: 2 }));
    expect(requestFingerprint(base)).toBe(same);
    expect(requestFingerprint(request({ prompt: 'a lighthouse on a cliff', steps: 30 }))).not.toBe(same);
    expect(requestFingerprint(base, true)).not.toBe(requestFingerprint(request({ ...base, seed: 2 }), true));
  });

  it('counts every field, including ones added to requests later', () => {
    const full = request({
      mode: 'inpaint',
      strength: 0.5,
      initImage: { artifactId: 'a1' },
      maskImage: { artifactId: 'm1' },
      region: { x: 0, y: 0, w: 50, h: 50 },
      zoomOut: 2,
      upscale: 2,
      source: { jobId: 'gabc', index: 1 },
    });
    const print = requestFingerprint(full);
    const changed: Record<string, unknown> = {
      mode: 'img2img',
      model: 'sd-1.5',
      width: 640,
      height: 640,
      steps: 30,
      guidance: 5,
      sampler: 'euler',
      count: 2,
      strength: 0.6,
      initImage: { artifactId: 'a2' },
      maskImage: { artifactId: 'm2' },
      region: { x: 1, y: 0, w: 50, h: 50 },
      zoomOut: 1.5,
      upscale: 4,
      source: { jobId: 'gabc', index: 2 },
      negativePrompt: 'blurry',
    };
    for (const [field, value] of Object.entries(changed)) {
      expect(requestFingerprint({ ...full, [field]: value } as GenerationRequest), field).not.toBe(print);
    }
    expect(requestFingerprint({ ...full, seed: 7 })).toBe(print);
    const later = { ...full, style: 'watercolor' } as GenerationRequest;
    expect(requestFingerprint(later)).not.toBe(print);
    expect(requestFingerprint({ ...later, seed: 7 } as GenerationRequest)).toBe(requestFingerprint(later));
  });
});
