import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import { accepted, admin, admission, member, refused, testServices } from './support.ts';

let services: Services;

beforeAll(async () => {
  ({ services } = await testServices('admission'));
});
afterAll(async () => {
  await services.close();
});

describe('admission', () => {
  it('accepts a request: a queued job, its position, its cost and the balance left', async () => {
    const who = member('alice');
    const result = accepted(await services.admission.admit(admission(who)));
    expect(result.cost).toBe(1);
    expect(result.balance).toBe(9);
    expect(result.position).toBe(1);
    const job = await services.queues.generate.getJob(result.jobId);
    expect(job?.data.member.userId).toBe('alice');
    expect(job?.data.cost).toBe(1);
    const view = await services.jobs.get(result.jobId);
    expect(view?.state).toBe('waiting');
    expect(view?.position).toBe(1);
  });

  it('answers the same request id twice with the same job, and only one job exists', async () => {
    const who = member('bob');
    const input = admission(who);
    const first = accepted(await services.admission.admit(input));
    const second = accepted(await services.admission.admit(input));
    expect(second.jobId).toBe(first.jobId);
    expect((await services.credits.balance(who)).total).toBe(9);
    const jobs = await services.queues.generate.getJobs(['prioritized', 'wait']);
    expect(jobs.filter((j) => j.data.member.userId === 'bob')).toHaveLength(1);
  });

  it('answers the same request id sent concurrently with one job', async () => {
    const who = member('carol');
    const input = admission(who);
    const results = await Promise.all(Array.from({ length: 20 }, () => services.admission.admit(input)));
    const ids = new Set(results.map((r) => accepted(r).jobId));
    expect(ids.size).toBe(1);
    expect((await services.credits.balance(who)).total).toBe(9);
    const jobs = await services.queues.generate.getJobs(['prioritized', 'wait']);
    expect(jobs.filter((j) => j.data.member.userId === 'carol')).toHaveLength(1);
  });

  it('refuses a suspended member, and admits them again once reinstated', async () => {
    const who = member('dave');
    await services.quotas.set(admin(), who.scope, { suspend: ['dave'] });
    const result = refused(await services.admission.admit(admission(who)));
    expect(result.reason).toBe('suspended');
    expect(result.message).toMatch(/suspended/);
    expect((await services.credits.balance(who)).total).toBe(10);
    await services.quotas.set(admin(), who.scope, { unsuspend: ['dave'] });
    accepted(await services.admission.admit(admission(who)));
  });

  it('refuses the same prompt and parameters within the duplicate window as a rate limit', async () => {
    const { services: s, clock: c } = await testServices('duplicate', { DUPLICATE_WINDOW_S: '30' });
    try {
      const who = member('erin');
      const same = { prompt: 'A  Red Fox in the snow' };
      accepted(await s.admission.admit(admission(who, same)));
      c.advance(10_000);
      const again = refused(await s.admission.admit(admission(who, { prompt: 'a red fox in the SNOW' })));
      expect(again.reason).toBe('rate-limited');
      expect(again.retryAfter).toBe(20);
      expect(again.message).toBe(
        'Rate limit exceeded: you just sent this same request; try again in 20 seconds, or change the prompt.',
      );
      // A different seed is the same request too (seeds are drawn at random) ...
      refused(await s.admission.admit(admission(who, { ...same, seed: 7 })));
      // ... unless it is an explicit reroll, and other parameters make another request.
      accepted(await s.admission.admit(admission(who, { ...same, seed: 7 }, { allowRepeat: true })));
      accepted(await s.admission.admit(admission(who, { ...same, steps: 30 })));
      // Another member may ask for the same thing.
      accepted(await s.admission.admit(admission(member('frank'), same)));
      c.advance(20_001);
      accepted(await s.admission.admit(admission(who, same)));
      // 1 + 1 (reroll) + 2 (30 steps) + 1
      expect((await s.credits.balance(who)).total).toBe(10 - 5);
    } finally {
      await s.close();
    }
  });

  it('remembers each of a member’s recent requests within the window, not only the last', async () => {
    const { services: s, clock: c } = await testServices('duplicate-recent', { DUPLICATE_WINDOW_S: '30' });
    try {
      const who = member('quinn');
      for (const prompt of ['a red fox', 'a blue owl', 'a green frog', 'a grey wolf']) {
        accepted(await s.admission.admit(admission(who, { prompt })));
        c.advance(2_000);
      }
      // The first of four, 8 seconds later, behind three others.
      expect(refused(await s.admission.admit(admission(who, { prompt: 'a red fox' }))).retryAfter).toBe(22);
      expect(refused(await s.admission.admit(admission(who, { prompt: 'a green frog' }))).reason).toBe(
        'rate-limited',
      );
      // A refusal is not a request: it does not restart the window.
      c.advance(22_001);
      accepted(await s.admission.admit(admission(who, { prompt: 'a red fox' })));
      refused(await s.admission.admit(admission(who, { prompt: 'a red fox' })));
      // The owl was asked for at 2 s: still inside the window at 30 s, outside it at 32 s.
      refused(await s.admission.admit(admission(who, { prompt: 'a blue owl' })));
      c.advance(2_000);
      accepted(await s.admission.admit(admission(who, { prompt: 'a blue owl' })));
    } finally {
      await s.close();
    }
  });

  it('enforces the cooldown between requests and says how long to wait', async () => {
    const { services: s, clock: c } = await testServices('cooldown', { DEFAULT_COOLDOWN_S: '5' });
    try {
      const who = member('gina');
      accepted(await s.admission.admit(admission(who)));
      c.advance(1500);
      const early = refused(await s.admission.admit(admission(who)));
      expect(early.reason).toBe('cooldown');
      expect(early.retryAfter).toBe(4);
      expect(early.message).toMatch(/4 seconds/);
      c.advance(3500);
      accepted(await s.admission.admit(admission(who)));
    } finally {
      await s.close();
    }
  });

  it('lets follow-ups on finished results past the cooldown without restarting it', async () => {
    const { services: s, clock: c } = await testServices('cooldown-follow-up', {
      DEFAULT_COOLDOWN_S: '5',
      DEFAULT_PENDING_CAP: '3',
    });
    try {
      const who = member('gus');
      accepted(await s.admission.admit(admission(who)));
      c.advance(500);
      accepted(await s.admission.admit(admission(who, {}, { followUp: true })));
      accepted(await s.admission.admit(admission(who, {}, { followUp: true })));
      // The pending cap still bounds them.
      expect(refused(await s.admission.admit(admission(who, {}, { followUp: true }))).reason).toBe(
        'pending-cap',
      );
      // The cooldown still runs from the last new prompt, not from the follow-ups.
      c.advance(1000);
      const prompt = refused(await s.admission.admit(admission(who)));
      expect(prompt.reason).toBe('cooldown');
      expect(prompt.retryAfter).toBe(4);
    } finally {
      await s.close();
    }
  });

  it("gives the operator's CLI scope and API keys no cooldown unless their policy sets one", async () => {
    const { services: s } = await testServices('cooldown-cli', { DEFAULT_COOLDOWN_S: '5' });
    try {
      const operator: MemberRef = { scope: { kind: 'cli', id: 'local' }, userId: 'operator' };
      accepted(await s.admission.admit(admission(operator)));
      accepted(await s.admission.admit(admission(operator)));
      expect((await s.quotas.get(operator.scope)).cooldownS).toBe(0);
      const program: MemberRef = { scope: { kind: 'api', id: 'key-1' }, userId: 'key-1' };
      accepted(await s.admission.admit(admission(program)));
      accepted(await s.admission.admit(admission(program)));
      // A chat member of the same deployment still has the default cooldown.
      const who = member('hugo');
      accepted(await s.admission.admit(admission(who)));
      expect(refused(await s.admission.admit(admission(who))).reason).toBe('cooldown');
      // The operator can still set one on the CLI scope.
      await s.quotas.set({ member: operator, isAdmin: true }, operator.scope, { cooldownS: 60 });
      expect(refused(await s.admission.admit(admission(operator))).reason).toBe('cooldown');
    } finally {
      await s.close();
    }
  });

  it('caps the jobs a member has pending', async () => {
    const { services: s } = await testServices('pending-cap', { DEFAULT_PENDING_CAP: '2' });
    try {
      const who = member('hank');
      accepted(await s.admission.admit(admission(who)));
      accepted(await s.admission.admit(admission(who)));
      const third = refused(await s.admission.admit(admission(who)));
      expect(third.reason).toBe('pending-cap');
      expect(third.message).toMatch(/2 jobs/);
      expect((await s.credits.balance(who)).total).toBe(8);
    } finally {
      await s.close();
    }
  });

  it("stops a scope at its daily budget, without touching another scope's", async () => {
    const who = member('ivy', 'guild-budget');
    await services.quotas.set(admin('guild-budget'), who.scope, { dailyCap: 3 });
    for (let i = 0; i < 3; i++) accepted(await services.admission.admit(admission(who)));
    const over = refused(await services.admission.admit(admission(member('jack', 'guild-budget'))));
    expect(over.reason).toBe('scope-budget');
    expect(over.retryAfter).toBe(12 * 3600);
    accepted(await services.admission.admit(admission(member('jack', 'guild-other'))));
  });

  it("judges each request of a burst from several scopes by its own scope's rules", async () => {
    // Sent together, these are judged in one script run; each scope's settings must still apply
    // to its own members only.
    const capped = { kind: 'discord' as const, id: 'guild-burst-capped' };
    const strict = { kind: 'discord' as const, id: 'guild-burst-strict' };
    await services.quotas.set(admin(capped.id), capped, { dailyCap: 2 });
    await services.quotas.set(admin(strict.id), strict, {
      suspend: ['mallory'],
      bannedWords: { add: ['fox'] },
    });
    const fox = { prompt: 'a fox in the snow' };
    const burst = [
      admission(member('ned', capped.id), fox),
      admission(member('mallory', strict.id)),
      admission(member('olga', 'guild-burst-plain'), fox),
      admission(member('pam', capped.id)),
      admission(member('quinn', strict.id), fox),
      admission(member('rob', strict.id)),
      admission(member('sue', capped.id)),
      admission(member('mallory', 'guild-burst-plain')),
    ];
    const results = await Promise.all(burst.map((input) => services.admission.admit(input)));
    const outcomes = results.map((r) => (r.accepted ? 'accepted' : r.reason));
    expect(outcomes).toEqual([
      'accepted',
      'suspended',
      'accepted',
      'accepted',
      'banned-word',
      'accepted',
      'scope-budget',
      'accepted',
    ]);
    expect((await services.credits.balance(member('sue', capped.id))).total).toBe(10);
    expect((await services.credits.balance(member('quinn', strict.id))).total).toBe(10);
    expect((await services.credits.balance(member('mallory', 'guild-burst-plain'))).total).toBe(9);
  });

  it('refuses banned words as whole words, whatever their case', async () => {
    const scope = { kind: 'discord' as const, id: 'guild-words' };
    await services.quotas.set(admin('guild-words'), scope, { bannedWords: { add: ['Gore', 'blood bath'] } });
    const who = member('kate', 'guild-words');
    const hit = refused(await services.admission.admit(admission(who, { prompt: 'a GORE scene' })));
    expect(hit.reason).toBe('banned-word');
    expect(hit.message).toContain('"gore"');
    refused(await services.admission.admit(admission(who, { prompt: 'a Blood  Bath, at dawn' })));
    accepted(await services.admission.admit(admission(who, { prompt: 'a gorey-free lighthouse' })));
    accepted(await services.admission.admit(admission(who, { prompt: 'a bloodbath of colour' })));
    expect((await services.credits.balance(who)).total).toBe(8);
  });

  it('applies role tiers: size, steps, allowance and cooldown', async () => {
    const scope = { kind: 'discord' as const, id: 'guild-tiers' };
    await services.quotas.set(admin('guild-tiers'), scope, {
      maxPixels: 512 * 512,
      maxSteps: 30,
      tiers: { set: [{ role: 'supporter', maxPixels: 1024 * 1024, maxSteps: 60, dailyAllowance: 100 }] },
    });
    const plain = member('leo', 'guild-tiers');
    const supporter = member('mia', 'guild-tiers', ['supporter']);
    const big = { width: 1024, height: 1024 };
    const tooBig = refused(await services.admission.admit(admission(plain, big)));
    expect(tooBig.reason).toBe('over-limits');
    expect(tooBig.message).toMatch(/262,144 pixels/);
    const tooLong = refused(await services.admission.admit(admission(plain, { steps: 40 })));
    expect(tooLong.message).toMatch(/at most 30 steps/);
    const ok = accepted(await services.admission.admit(admission(supporter, { ...big, steps: 25 })));
    expect(ok.cost).toBe(4);
    expect(ok.balance).toBe(96);
    expect((await services.quotas.limits(supporter)).maxSteps).toBe(60);
  });

  it('refuses when the balance does not cover the cost, and reserves nothing', async () => {
    const who = member('nina');
    const result = refused(
      await services.admission.admit(admission(who, { width: 1024, height: 1024, count: 4 })),
    );
    expect(result.reason).toBe('insufficient-credits');
    expect(result.message).toMatch(/costs 16 credits and you have 10 credits/);
    expect(result.retryAfter).toBeUndefined();
    expect((await services.credits.balance(who)).total).toBe(10);
    expect(await services.credits.history(who)).toEqual([]);
  });

  it('ranks a member second job behind every other member first job', async () => {
    const { services: s } = await testServices('fairness-order');
    try {
      const a = member('anna');
      const b = member('ben');
      const aJobs = [];
      for (let i = 0; i < 5; i++) aJobs.push(accepted(await s.admission.admit(admission(a))).jobId);
      const bJob = accepted(await s.admission.admit(admission(b)));
      expect(bJob.position).toBe(2);
      expect((await s.jobs.get(bJob.jobId))?.position).toBe(2);
      expect((await s.jobs.get(aJobs[1] as string))?.position).toBe(3);
      expect((await s.jobs.get(aJobs[4] as string))?.position).toBe(6);
    } finally {
      await s.close();
    }
  });
});
