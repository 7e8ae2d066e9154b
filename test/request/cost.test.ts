import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import {
  type CostedRequest,
  type CreditRates,
  computeCost,
  ratesFromConfig,
} from '../../src/credits/cost.ts';

const rates: CreditRates = { perImage: 1, upscale2x: 1, upscale4x: 2, zoomOut: 1 };

function txt2img(overrides: Partial<CostedRequest> = {}): CostedRequest {
  return { mode: 'txt2img', width: 512, height: 512, steps: 25, count: 1, ...overrides };
}

describe('computeCost', () => {
  it('charges a clip per frame, a drift its later frames at the share they redraw', () => {
    const video = { fps: 8, loop: false } as const;
    expect(computeCost(txt2img({ video: { ...video, frames: 16, mode: 'walk' } }), rates)).toBe(16);
    expect(computeCost(txt2img({ video: { ...video, frames: 48, mode: 'morph', to: 'x' } }), rates)).toBe(48);
    // 1 + 15 x 0.45 = 7.75 pictures' worth.
    expect(computeCost(txt2img({ video: { ...video, frames: 16, mode: 'drift' } }), rates)).toBe(8);
    expect(computeCost(txt2img({ steps: 50, video: { ...video, frames: 8, mode: 'walk' } }), rates)).toBe(16);
  });

  it('charges perImage for a 512x512 image at 25 steps, per image', () => {
    expect(computeCost(txt2img(), rates)).toBe(1);
    expect(computeCost(txt2img({ count: 4 }), rates)).toBe(4);
  });

  it('scales with pixels and steps', () => {
    expect(computeCost(txt2img({ width: 1024, height: 1024 }), rates)).toBe(4);
    expect(computeCost(txt2img({ steps: 50 }), rates)).toBe(2);
    expect(computeCost(txt2img({ width: 1024, height: 1024, steps: 50, count: 4 }), rates)).toBe(32);
  });

  it('rounds up to a whole credit, without charging for float dust', () => {
    // 704x384 is 1.03 times the pixels of 512x512.
    expect(computeCost(txt2img({ width: 704, height: 384 }), rates)).toBe(2);
    expect(computeCost(txt2img({ steps: 26 }), rates)).toBe(2);
    expect(computeCost(txt2img({ steps: 30 }), { ...rates, perImage: 2.5 })).toBe(3);
    expect(computeCost(txt2img({ count: 3 }), { ...rates, perImage: 1.1 })).toBe(4);
    // 0.1 + 0.2 is 0.30000000000000004 in floats; ten images of it are 3 credits, not 4.
    expect(computeCost(txt2img({ count: 10 }), { ...rates, perImage: 0.1 + 0.2 })).toBe(3);
  });

  it('charges at least 1', () => {
    expect(computeCost(txt2img({ width: 320, height: 320, steps: 1 }), rates)).toBe(1);
    expect(computeCost({ ...txt2img(), mode: 'img2img', strength: 0 }, rates)).toBe(1);
  });

  it('scales img2img, variation and inpaint by strength (they run that share of their steps)', () => {
    const base = txt2img({ count: 4, steps: 50 });
    expect(computeCost({ ...base, mode: 'img2img', strength: 0.5 }, rates)).toBe(4);
    expect(computeCost({ ...base, mode: 'variation', strength: 0.35 }, rates)).toBe(3);
    expect(computeCost({ ...base, mode: 'inpaint', strength: 1 }, rates)).toBe(8);
    expect(computeCost({ ...base, mode: 'txt2img', strength: 0.1 }, rates)).toBe(8);
  });

  it('charges upscales and zoom-outs their own flat rates', () => {
    const upscale = { ...txt2img({ width: 1024, height: 1024 }), mode: 'upscale' as const };
    expect(computeCost({ ...upscale, upscale: 2 }, rates)).toBe(1);
    expect(computeCost({ ...upscale, upscale: 4 }, rates)).toBe(2);
    expect(computeCost({ ...txt2img({ count: 4 }), mode: 'outpaint', zoomOut: 2 }, rates)).toBe(4);
    expect(computeCost({ ...txt2img(), mode: 'outpaint', zoomOut: 1.5 }, { ...rates, zoomOut: 3 })).toBe(3);
  });

  it('uses the configured rates, and a rate of 0 makes that kind free', () => {
    const config = parseConfig({
      CREDITS_PER_IMAGE: '2',
      CREDITS_UPSCALE_2X: '0',
      CREDITS_UPSCALE_4X: '5',
      CREDITS_ZOOM_OUT: '1.5',
    });
    const configured = ratesFromConfig(config);
    expect(configured).toEqual({ perImage: 2, upscale2x: 0, upscale4x: 5, zoomOut: 1.5 });
    expect(computeCost(txt2img({ count: 4 }), configured)).toBe(8);
    expect(computeCost({ ...txt2img(), mode: 'upscale', upscale: 2 }, configured)).toBe(0);
    expect(computeCost({ ...txt2img(), mode: 'upscale', upscale: 4 }, configured)).toBe(5);
    expect(computeCost({ ...txt2img({ count: 1 }), mode: 'outpaint', zoomOut: 2 }, configured)).toBe(2);
  });

  it('has the documented defaults', () => {
    expect(ratesFromConfig(parseConfig({}))).toEqual({ perImage: 1, upscale2x: 1, upscale4x: 2, zoomOut: 1 });
  });
});
