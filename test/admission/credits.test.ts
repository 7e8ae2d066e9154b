import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.ts';
import { UserError } from '../../src/errors/user-error.ts';
import { accepted, admin, admission, member, refused, type TestClock, testServices } from './support.ts';

let services: Services;
let clock: TestClock;

beforeAll(async () => {
  ({ services, clock } = await testServices('credits'));
});
afterAll(async () => {
  await services.close();
});

async function ledgerSum(who: ReturnType<typeof member>): Promise<number> {
  const entries = await services.credits.history(who, 1000);
  return entries.reduce((sum, e) => sum + e.amount, 0);
}

describe('credits', () => {
  it('accepts exactly 10 of 200 concurrent requests when the balance covers 10', async () => {
    const who = member('racer');
    const results = await Promise.all(
      Array.from({ length: 200 }, () => services.admission.admit(admission(who))),
    );
    const ok = results.filter((r) => r.accepted);
    expect(ok).toHaveLength(10);
    expect(results.filter((r) => !r.accepted && r.reason === 'insufficient-credits')).toHaveLength(190);
    for (const r of ok) expect(accepted(r).balance).toBeGreaterThanOrEqual(0);
    const balance = await services.credits.balance(who);
    expect(balance.total).toBe(0);
    expect(balance.reserved).toBe(10);
    expect(await ledgerSum(who)).toBe(0);
    const jobs = await services.queues.generate.getJobs(['prioritized', 'wait']);
    expect(jobs.filter((j) => j.data.member.userId === 'racer')).toHaveLength(10);
  });

  it('spends the daily allowance first, then granted credits, and resets the allowance at 00:00 UTC', async () => {
    const who = member('saver');
    await services.credits.balance(who); // known to the scope, so it can receive grants
    await services.credits.grant(admin(), who, 5, 'contest prize');
    let balance = await services.credits.balance(who);
    expect(balance).toMatchObject({ dailyAllowance: 10, allowanceLeft: 10, granted: 5, total: 15 });

    const big = { width: 1024, height: 1024, count: 3 }; // 12 credits
    const r = accepted(await services.admission.admit(admission(who, big)));
    expect(r.balance).toBe(3);
    balance = await services.credits.balance(who);
    expect(balance).toMatchObject({ allowanceLeft: 0, granted: 3, total: 3 });
    expect(await ledgerSum(who)).toBe(3);

    // Midnight UTC: a fresh allowance; granted credits never expire.
    clock.advance(balance.resetsAt - clock.ms);
    balance = await services.credits.balance(who);
    expect(balance).toMatchObject({ allowanceLeft: 10, granted: 3, total: 13 });
    accepted(await services.admission.admit(admission(who)));
    expect((await services.credits.balance(who)).total).toBe(12);
    expect(await ledgerSum(who)).toBe(12);
    const kinds = (await services.credits.history(who)).map((e) => e.kind);
    expect(kinds).toEqual(['reserve', 'daily-allowance', 'reserve', 'daily-allowance', 'grant']);
  });

  it('lets unused allowance lapse at the reset, recorded in the ledger', async () => {
    const who = member('lapser');
    accepted(await services.admission.admit(admission(who)));
    clock.advance(86_400_000);
    accepted(await services.admission.admit(admission(who)));
    const history = await services.credits.history(who);
    expect(history.map((e) => [e.kind, e.amount])).toEqual([
      ['reserve', -1],
      ['daily-allowance', 10],
      ['allowance-expired', -9],
      ['reserve', -1],
      ['daily-allowance', 10],
    ]);
    expect(history[0]?.balance).toBe(9);
    expect(await ledgerSum(who)).toBe(9);
  });

  it('applies an allowance an admin changes during the day at once, and records it', async () => {
    const scope = { kind: 'discord' as const, id: 'guild-raise' };
    const who = member('raised', 'guild-raise');
    accepted(await services.admission.admit(admission(who)));
    await services.quotas.set(admin('guild-raise'), scope, { dailyAllowance: 25 });
    expect((await services.credits.balance(who)).total).toBe(24);
    expect(accepted(await services.admission.admit(admission(who))).balance).toBe(23);
    await services.quotas.set(admin('guild-raise'), scope, { dailyAllowance: 1 });
    expect(refused(await services.admission.admit(admission(who))).reason).toBe('insufficient-credits');
    await services.credits.grant(admin('guild-raise'), who, 3, 'make up');
    accepted(await services.admission.admit(admission(who)));
    const history = await services.credits.history(who);
    expect(history.map((e) => [e.kind, e.amount])).toEqual([
      ['reserve', -1],
      ['allowance-changed', -23],
      ['grant', 3],
      ['reserve', -1],
      ['allowance-changed', 15],
      ['reserve', -1],
      ['daily-allowance', 10],
    ]);
    expect(await ledgerSum(who)).toBe((await services.credits.balance(who)).total);
    expect((await services.credits.balance(who)).total).toBe(2);
  });

  it('keeps scopes apart: spending in guild A never touches guild B', async () => {
    const inA = member('twin', 'guild-A');
    const inB = member('twin', 'guild-B');
    for (let i = 0; i < 10; i++) accepted(await services.admission.admit(admission(inA)));
    expect(refused(await services.admission.admit(admission(inA))).reason).toBe('insufficient-credits');
    expect((await services.credits.balance(inB)).total).toBe(10);
    accepted(await services.admission.admit(admission(inB)));
    expect((await services.credits.balance(inB)).total).toBe(9);
    expect(await services.credits.history(inB)).toHaveLength(2);
  });

  it('refuses bad grants with a message naming the field, and changes nothing', async () => {
    const who = member('grantee');
    await services.credits.balance(who);
    const before = await services.credits.balance(who);
    const attempt = (amount: number) => services.credits.grant(admin(), who, amount, 'x');
    for (const amount of [-5, 0, 2.5, Number.NaN, 1_000_001]) {
      const error = await attempt(amount).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).identifier).toBe('invalid-request');
      expect((error as UserError).message).toMatch(
        /^amount must be a whole number of credits from 1 to 1000000/,
      );
    }
    const notAdmin = await services.credits
      .grant({ member: member('someone'), isAdmin: false }, who, 5, 'x')
      .catch((e: unknown) => e);
    expect((notAdmin as UserError).identifier).toBe('not-admin');
    const otherGuildAdmin = await services.credits
      .grant(admin('guild-elsewhere'), who, 5, 'x')
      .catch((e: unknown) => e);
    expect((otherGuildAdmin as UserError).identifier).toBe('not-admin');
    const unknown = await services.credits
      .grant(admin(), member('never-seen'), 5, 'x')
      .catch((e: unknown) => e);
    expect((unknown as UserError).identifier).toBe('not-found');
    expect((unknown as UserError).message).toMatch(/never-seen has not used easel in this server/);
    const blank = await services.credits.grant(admin(), member(''), 5, 'x').catch((e: unknown) => e);
    expect((blank as UserError).message).toMatch(/^member must be a user id/);
    expect(await services.credits.balance(who)).toEqual(before);
    expect(await services.credits.history(who)).toEqual([]);
  });

  it('records who granted what and why', async () => {
    const who = member('thanked');
    await services.credits.balance(who);
    const balance = await services.credits.grant(admin(), who, 25, 'helped moderate');
    expect(balance.total).toBe(35);
    const [entry] = await services.credits.history(who);
    expect(entry).toMatchObject({ kind: 'grant', amount: 25, by: 'admin-1', reason: 'helped moderate' });
  });
});
