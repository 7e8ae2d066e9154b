import { afterAll, describe, expect, it } from 'vitest';
import { handleImagine } from '../../commands/imagine.ts';
import {
  applySettings,
  handleSettings,
  parseSettingsFlags,
  parseSettingsText,
  remixOn,
  validateSettings,
} from '../../commands/settings.ts';
import type { AdmissionInput, AdmissionResult } from '../../src/admission/types.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { loadRegistry } from '../../src/models/registry.ts';
import { parsePromptFlags } from '../../src/request/prompt-flags.ts';
import { testRedis, uniquePrefix } from '../support/redis.ts';

const config = parseConfig({});
const registry = loadRegistry();
const redis = testRedis();
const prefix = uniquePrefix('settings');
afterAll(async () => {
  await redis.quit();
});

const member: MemberRef = { scope: { kind: 'slack', id: 'T1' }, userId: 'U1' };

describe('reading /settings text', () => {
  it("reads /imagine's flags and --remix, in the words members already know", () => {
    expect(parseSettingsText('')).toEqual({ op: 'show' });
    expect(parseSettingsText('show')).toEqual({ op: 'show' });
    expect(parseSettingsText('reset')).toEqual({ op: 'reset', target: 'mine' });
    expect(parseSettingsText('workspace reset')).toEqual({ op: 'reset', target: 'scope' });
    const set = parseSettingsText('set --ar 16:9 --n 4 --remix on --no blurry, text');
    expect(set).toMatchObject({
      op: 'set',
      target: 'mine',
      raw: {
        values: { aspect: '16:9', count: '4', remix: 'on', negativePrompt: 'blurry, text' },
        errors: [],
      },
    });
    expect(parseSettingsText('server --n 4')).toMatchObject({ op: 'set', target: 'scope' });
  });

  it('names what is not a setting: stray words, a seed, a repeat', () => {
    const raw = parseSettingsFlags('blue --seed 4 --repeat 2 --strength 0.5');
    expect(raw.errors.map((e) => e.message)).toEqual([
      '"blue" is not a setting; give flags such as --ar 16:9 --n 4 --remix on',
      '--seed: is not a setting (it changes with every prompt)',
      '--strength: is not a setting (it changes with every prompt)',
      '--repeat: is not a setting (it changes with every prompt)',
    ]);
  });

  it("checks values with /imagine's validator, every bad one at once", () => {
    const checked = validateSettings(parseSettingsFlags('--n 9 --ar wide --cfg 40 --remix maybe'), {
      config,
      registry,
    });
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    const fields = checked.error.context.fields?.map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['--n', '--ar', '--cfg', '--remix']));
    const good = validateSettings(parseSettingsFlags('--n 2 --sampler "Euler a" --remix off'), {
      config,
      registry,
    });
    expect(good).toEqual({ ok: true, values: { count: 2, sampler: 'Euler a', remix: false } });
  });
});

describe('applying settings', () => {
  it("fills what the request left out, the member's before the scope's, labelled by where it came from", () => {
    const raw = parsePromptFlags('a cat --steps 9');
    applySettings(raw, { mine: { count: 2, steps: 4 }, scope: { count: 4, aspect: '16:9' } });
    expect(raw).toMatchObject({ count: 2, steps: '9', aspect: '16:9' });
    expect(raw.labels).toMatchObject({
      count: 'your /settings count',
      steps: '--steps',
      aspect: "this server's /settings aspect",
    });
    expect(remixOn({ mine: {}, scope: { remix: true } })).toBe(true);
    expect(remixOn({ mine: { remix: false }, scope: { remix: true } })).toBe(false);
  });

  it('keeps settings per member and per scope in Redis, and /imagine uses them', async () => {
    const services = { redis, prefix, config, registry };
    const refused = await handleSettings(services, {
      member,
      isAdmin: false,
      operation: parseSettingsText('workspace --n 4'),
    });
    expect(refused).toMatchObject({ status: 'refused', error: { identifier: 'not-admin' } });
    await handleSettings(services, {
      member,
      isAdmin: true,
      operation: parseSettingsText('workspace --n 4'),
    });
    const mine = await handleSettings(services, {
      member,
      isAdmin: false,
      operation: parseSettingsText('--ar 9:16 --steps 5'),
    });
    expect(mine).toMatchObject({
      status: 'shown',
      mine: { aspect: '9:16', steps: 5 },
      scope: { count: 4 },
    });

    const admitted: AdmissionInput[] = [];
    const admission = {
      async admit(input: AdmissionInput): Promise<AdmissionResult> {
        admitted.push(input);
        return { accepted: true, jobId: 'g1', position: 1, cost: 1, balance: 1 };
      },
    };
    await handleImagine(
      { ...services, admission },
      { requestId: 'r1', member, origin: { platform: 'cli' }, text: 'a cat' },
    );
    expect(admitted[0]?.request).toMatchObject({ count: 4, steps: 5 });
    expect(admitted[0]!.request.height).toBeGreaterThan(admitted[0]!.request.width);

    // A stale setting is named as such, not blamed on the prompt; nothing is admitted.
    await redis.hset(`${prefix}:settings:slack:T1:U1`, 'model', JSON.stringify('gone-model'));
    const stale = await handleImagine(
      { ...services, admission },
      { requestId: 'r2', member, origin: { platform: 'cli' }, text: 'a cat' },
    );
    expect(stale.status).toBe('refused');
    if (stale.status === 'refused') expect(stale.error.message).toMatch(/^your \/settings model: /);
    expect(admitted).toHaveLength(1);
  });
});
