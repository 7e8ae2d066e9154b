import { describe, expect, it } from 'vitest';
import { parseAdminCommand, readUserId } from '../../src/platforms/slack/admin-command-text.ts';

describe('/imagine-admin text', () => {
  it('reads each operation', () => {
    expect(parseAdminCommand('')).toEqual({ ok: true, operation: { op: 'show' } });
    expect(parseAdminCommand('set allowance 50')).toEqual({
      ok: true,
      operation: { op: 'set', setting: 'allowance', value: 50 },
    });
    expect(parseAdminCommand('nsfw allow-in-nsfw-channels')).toEqual({
      ok: true,
      operation: { op: 'nsfw', policy: 'allow-in-nsfw-channels' },
    });
    expect(parseAdminCommand('nsfw-channel on')).toEqual({
      ok: true,
      operation: { op: 'nsfw-channel', on: true },
    });
    expect(parseAdminCommand('ban  big   red dog')).toEqual({
      ok: true,
      operation: { op: 'ban', words: ['big red dog'] },
    });
    expect(parseAdminCommand('suspend <@U123ABC|bob>')).toEqual({
      ok: true,
      operation: { op: 'suspend', userId: 'U123ABC' },
    });
    expect(parseAdminCommand('grant <@U123ABC> 10')).toEqual({
      ok: true,
      operation: { op: 'grant', userId: 'U123ABC', amount: 10 },
    });
    expect(parseAdminCommand('grant <@U123ABC> 10 for the contest')).toEqual({
      ok: true,
      operation: { op: 'grant', userId: 'U123ABC', amount: 10, reason: 'for the contest' },
    });
    expect(parseAdminCommand('set pending 4')).toEqual({
      ok: true,
      operation: { op: 'set', setting: 'pending-cap', value: 4 },
    });
    expect(parseAdminCommand('set max-size 768')).toEqual({
      ok: true,
      operation: { op: 'set', setting: 'max-size', value: 768 },
    });
    // Both spellings of a setting mean the same: "max-size=1024" as "max-size 1024".
    expect(parseAdminCommand('set max-size=1024 cooldown=10')).toEqual({
      ok: true,
      operation: { op: 'set-many', changes: { maxPixels: 1024 * 1024, cooldownS: 10 } },
    });
  });

  it('names the field and what it takes when the input is bad', () => {
    const cases: [string, RegExp][] = [
      ['set colour 5', /set: the setting must be one of allowance, cooldown/],
      ['set allowance lots', /set allowance: needs one whole number, the daily credits/],
      ['set allowance 1.5', /set allowance: needs one whole number/],
      ['nsfw maybe', /nsfw: the policy must be one of block, spoiler, allow-in-nsfw-channels/],
      ['nsfw-channel yes', /nsfw-channel: must be on or off/],
      ['grant bob 10', /grant: needs a member as @mention/],
      ['grant <@U1AB> ten', /grant: needs a whole number of credits/],
      ['suspend', /suspend: needs one member/],
      ['ban', /ban: needs a word or phrase/],
      ['launch rockets', /Unknown operation "launch"/],
    ];
    for (const [text, message] of cases) {
      const parsed = parseAdminCommand(text);
      expect(parsed.ok, text).toBe(false);
      if (!parsed.ok) {
        expect(parsed.message).toMatch(message);
        expect(parsed.message).toContain('/imagine-admin show');
      }
    }
  });

  it('reads member mentions and bare ids, nothing else', () => {
    expect(readUserId('<@W12AB|ann>')).toBe('W12AB');
    expect(readUserId('U12AB')).toBe('U12AB');
    expect(readUserId('@ann')).toBeUndefined();
    expect(readUserId('<#C123|general>')).toBeUndefined();
  });
});
