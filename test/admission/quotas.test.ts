import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeBalance,
  describeLedgerEntry,
  handleCredits,
  handleGrant,
  parseGrantAmount,
} from '../../commands/credits.ts';
import {
  describePolicy,
  handleQuotaSet,
  handleQuotaShow,
  quotaChangesFromText,
} from '../../commands/quota.ts';
import type { Services } from '../../src/app/services.ts';
import { UserError } from '../../src/errors/user-error.ts';
import { effectiveLimits } from '../../src/quotas/quota-policy.ts';
import { accepted, admin, admission, member, refused, testServices } from './support.ts';

let services: Services;

beforeAll(async () => {
  ({ services } = await testServices('quotas'));
});
afterAll(async () => {
  await services.close();
});

const scope = { kind: 'discord' as const, id: 'guild-q' };
const adminQ = admin('guild-q');

async function failure(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UserError)) throw new Error(`expected a UserError, got ${String(error)}`);
  return error;
}

describe('quota policy', () => {
  it('starts from the configured defaults', async () => {
    const view = await handleQuotaShow(services, scope);
    expect(view).toMatchObject({
      dailyAllowance: 10,
      cooldownS: 0,
      pendingCap: 1000,
      dailyCap: 0,
      nsfw: 'block',
      bannedWords: [],
      tiers: [],
      suspended: [],
    });
  });

  it('lets only admins of the scope change it', async () => {
    const notAdmin = await failure(
      handleQuotaSet(services, { member: member('pleb', 'guild-q'), isAdmin: false }, scope, {
        cooldownS: 1,
      }),
    );
    expect(notAdmin.identifier).toBe('not-admin');
    expect(notAdmin.message).toBe("Only this server's admins can do that.");
    // Checked again below the command handler, for frontends that call the services directly.
    const direct = await failure(services.quotas.set(admin('guild-other'), scope, { cooldownS: 1 }));
    expect(direct.identifier).toBe('not-admin');
    expect((await services.quotas.get(scope)).cooldownS).toBe(0);
  });

  it('refuses values out of range, naming each field and its range, and changes nothing', async () => {
    const error = await failure(
      services.quotas.set(adminQ, scope, {
        dailyAllowance: -1,
        cooldownS: 1.5,
        pendingCap: 0,
        maxSteps: 151,
        maxPixels: 100,
        // @ts-expect-error: an unknown NSFW policy from an untyped caller
        nsfw: 'sometimes',
        tiers: { set: [{ role: '', priority: 10 }] },
        bannedWords: { add: ['!!!'] },
      }),
    );
    expect(error.identifier).toBe('invalid-request');
    expect(error.context.fields?.map((f) => f.message)).toEqual([
      'dailyAllowance must be a whole number from 0 to 1000000 (got -1)',
      'cooldownS must be a whole number from 0 to 86400 (got 1.5)',
      'pendingCap must be a whole number from 1 to 1000 (got 0)',
      'maxPixels must be a whole number from 102400 to 2359296 (got 100)',
      'maxSteps must be a whole number from 1 to 150 (got 151)',
      'nsfw: expected one of block, spoiler, allow-in-nsfw-channels, got "sometimes"',
      'bannedWords: each entry must have 1 to 100 characters with at least one letter or digit (got "!!!")',
      'tiers[0].role must be a role id of 1 to 100 characters',
      'tiers[0].priority must be a whole number from 0 to 9 (got 10)',
    ]);
    expect(await services.quotas.get(scope)).toMatchObject({
      dailyAllowance: 10,
      tiers: [],
      bannedWords: [],
    });
  });

  it('keeps every change, merges tiers by role and removes them again', async () => {
    await services.quotas.set(adminQ, scope, {
      cooldownS: 30,
      nsfw: 'spoiler',
      tiers: { set: [{ role: 'vip', dailyAllowance: 50, priority: 5 }] },
      bannedWords: { add: ['Blood', 'GORE'] },
    });
    await services.quotas.set(adminQ, scope, {
      tiers: {
        set: [
          { role: 'vip', dailyAllowance: 60 },
          { role: 'new', pendingCap: 1 },
        ],
      },
      bannedWords: { remove: ['blood'] },
    });
    const view = await services.quotas.get(scope);
    expect(view).toMatchObject({ cooldownS: 30, nsfw: 'spoiler', bannedWords: ['gore'] });
    expect(view.tiers).toEqual([
      { role: 'vip', dailyAllowance: 60 },
      { role: 'new', pendingCap: 1 },
    ]);
    await services.quotas.set(adminQ, scope, { tiers: { remove: ['new'] }, cooldownS: 0 });
    expect((await services.quotas.get(scope)).tiers.map((t) => t.role)).toEqual(['vip']);
  });

  it('applies two admins changing the policy at the same moment, both', async () => {
    const s = { kind: 'slack' as const, id: 'T-race' };
    const a = { member: { scope: s, userId: 'U1' }, isAdmin: true };
    await Promise.all([
      services.quotas.set(a, s, { tiers: { set: [{ role: 'r1', maxSteps: 60 }] } }),
      services.quotas.set(a, s, { tiers: { set: [{ role: 'r2', maxSteps: 70 }] } }),
      services.quotas.set(a, s, { bannedWords: { add: ['x1'] } }),
      services.quotas.set(a, s, { bannedWords: { add: ['x2'] } }),
    ]);
    const view = await services.quotas.get(s);
    expect(view.tiers.map((t) => t.role).sort()).toEqual(['r1', 'r2']);
    expect(view.bannedWords).toEqual(['x1', 'x2']);
  });

  it('resolves tiers to the most generous value of the matching ones, and the tier can also restrict', () => {
    const policy = {
      dailyAllowance: 10,
      cooldownS: 30,
      pendingCap: 3,
      maxPixels: 512 * 512,
      maxSteps: 30,
      dailyCap: 0,
      nsfw: 'block' as const,
      bannedWords: [],
      tiers: [
        { role: 'a', dailyAllowance: 20, cooldownS: 10 },
        { role: 'b', dailyAllowance: 15, cooldownS: 5, priority: 3 },
        { role: 'newcomer', pendingCap: 1 },
      ],
    };
    expect(effectiveLimits(policy, ['a', 'b'])).toMatchObject({
      dailyAllowance: 20,
      cooldownS: 5,
      priority: 3,
      pendingCap: 3,
    });
    expect(effectiveLimits(policy, ['newcomer'])).toMatchObject({ pendingCap: 1, dailyAllowance: 10 });
    expect(effectiveLimits(policy, [])).toMatchObject({ dailyAllowance: 10, priority: 0 });
  });

  it("a tier's allowance and pending cap reach admission the way the pure resolution says", async () => {
    const s = { kind: 'discord' as const, id: 'guild-tier-admit' };
    const a = admin('guild-tier-admit');
    await services.quotas.set(a, s, {
      tiers: { set: [{ role: 'newcomer', pendingCap: 1, dailyAllowance: 2 }] },
    });
    const newcomer = member('fresh', 'guild-tier-admit', ['newcomer']);
    expect(accepted(await services.admission.admit(admission(newcomer))).balance).toBe(1);
    expect(refused(await services.admission.admit(admission(newcomer))).reason).toBe('pending-cap');
  });
});

describe('credits and quota command handlers', () => {
  it('parse grant amounts strictly', () => {
    expect(parseGrantAmount('25')).toBe(25);
    expect(parseGrantAmount(7)).toBe(7);
    for (const bad of ['-3', '2.5', 'ten', '', 0, 1_000_001, '1e3']) {
      expect(() => parseGrantAmount(bad)).toThrow(
        /^amount must be a whole number of credits from 1 to 1000000/,
      );
    }
  });

  it('grant through the handler, checking the admin first', async () => {
    const who = member('helper', 'guild-q');
    await handleCredits(services, who);
    const error = await failure(handleGrant(services, { member: who, isAdmin: false }, who, '10'));
    expect(error.identifier).toBe('not-admin');
    const balance = await handleGrant(services, adminQ, who, '10', 'thanks');
    expect(balance.granted).toBe(10);
    const view = await handleCredits(services, who, 5);
    expect(view.history[0]?.kind).toBe('grant');
    expect(describeLedgerEntry(view.history[0] as (typeof view.history)[number])).toMatch(
      /\+10 granted \(thanks\) · balance/,
    );
    expect(describeBalance(view.balance, view.balance.resetsAt - 3 * 3600_000 - 60_000)).toBe(
      "You have 20 credits: 10 of today's 10 allowance + 10 granted. The allowance resets in 3 h 1 min (00:00 UTC); granted credits never expire.",
    );
  });

  it('read a setting in the words every platform uses: max-size is a side, max-pixels its square', () => {
    expect(quotaChangesFromText('max-size=1024')).toEqual({ maxPixels: 1024 * 1024 });
    expect(quotaChangesFromText('max-side=768 pending=2')).toEqual({ maxPixels: 768 * 768, pendingCap: 2 });
    expect(quotaChangesFromText('max-pixels=1048576')).toEqual({ maxPixels: 1048576 });
  });

  it('read quota settings typed as text, reporting every bad one', () => {
    expect(quotaChangesFromText('allowance=20 cooldown=10 nsfw=spoiler')).toEqual({
      dailyAllowance: 20,
      cooldownS: 10,
      nsfw: 'spoiler',
    });
    const error = (() => {
      try {
        quotaChangesFromText('allowance=lots colour=red nsfw=maybe');
      } catch (e) {
        return e as UserError;
      }
      return undefined;
    })();
    expect(error?.context.fields?.map((f) => f.message)).toEqual([
      'allowance: expected a whole number, got "lots"',
      'unknown setting "colour": use allowance, cooldown, pending-cap, max-size, max-pixels, max-steps, daily-cap, nsfw',
      'nsfw: expected one of block, spoiler, allow-in-nsfw-channels, got "maybe"',
    ]);
  });

  it('describe a policy in plain text', async () => {
    const text = describePolicy(await services.quotas.get(scope), scope);
    expect(text).toContain('Quota policy of this server:');
    expect(text).toContain('banned words: gore');
    expect(text).toContain('tier vip: dailyAllowance 60');
  });
});
