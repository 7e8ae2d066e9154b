import { describe, expect, it } from 'vitest';
import { TEXT_QUOTA_SETTINGS } from '../../commands/quota-options.ts';
import { parseAdminCommand, readUserId } from '../../src/platforms/slack/admin-command-text.ts';
import { SLACK_MARKUP } from '../../src/platforms/slack/tell-member.ts';
import type { Refusal } from '../../src/refusals/refusal.ts';
import { refusalText } from '../../src/refusals/refusal-text.ts';

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

  it('refuses bad input with refusal values that name the field and what it takes', () => {
    const cases: [string, Refusal][] = [
      [
        'set colour 5',
        {
          reason: 'unknown-setting',
          typed: 'colour',
          known: expect.arrayContaining(['allowance', 'cooldown']),
        },
      ],
      [
        'set allowance lots',
        {
          reason: 'not-whole-number',
          setting: 'allowance',
          typed: 'lots',
          meaning: expect.stringMatching(/^daily credits/),
        },
      ],
      ['set allowance 1.5', expect.objectContaining({ reason: 'not-whole-number', typed: '1.5' })],
      [
        'nsfw maybe',
        {
          reason: 'unknown-choice',
          setting: 'nsfw',
          typed: 'maybe',
          choices: ['block', 'spoiler', 'allow-in-nsfw-channels'],
        },
      ],
      [
        'nsfw-channel yes',
        { reason: 'unknown-choice', setting: 'nsfw-channel', typed: 'yes', choices: ['on', 'off'] },
      ],
      [
        'grant bob 10',
        { reason: 'missing-argument', operation: 'grant', expected: 'member-first', typed: 'bob' },
      ],
      [
        'grant <@U1AB> ten',
        { reason: 'missing-argument', operation: 'grant', expected: 'credits-after-member', typed: 'ten' },
      ],
      ['suspend', { reason: 'missing-argument', operation: 'suspend', expected: 'member', typed: '' }],
      ['BAN', { reason: 'missing-argument', operation: 'ban', expected: 'words' }],
      ['launch rockets', { reason: 'unknown-operation', typed: 'launch' }],
    ];
    for (const [text, refusal] of cases) {
      expect(parseAdminCommand(text), text).toEqual({ ok: false, refusals: [refusal] });
    }
  });

  it('says each refusal in words that name the setting, the choices and what was typed', () => {
    const said = (text: string) => {
      const parsed = parseAdminCommand(text);
      return parsed.ok ? '' : parsed.refusals.map((r) => refusalText(r)).join('\n');
    };
    expect(said('set colour 5')).toMatch(/^unknown setting "colour": use allowance, cooldown/);
    expect(said('set allowance lots')).toMatch(
      /^allowance: expected a whole number, the daily credits .*, got "lots"$/,
    );
    expect(said('nsfw maybe')).toBe(
      'nsfw: expected one of block, spoiler, allow-in-nsfw-channels, got "maybe"',
    );
    expect(said('grant bob 10')).toBe('grant: needs a member as @mention first (got "bob")');
    expect(said('launch rockets')).toBe('Unknown operation "launch".');
    // Several settings at once: every bad one, as quotaChangesFromText names them.
    expect(said('set allowance=lots colour=5')).toBe(
      'allowance: expected a whole number, got "lots"\nunknown setting "colour": use allowance, cooldown, pending-cap, max-size, max-pixels, max-steps, daily-cap, nsfw',
    );
  });

  it('quotes what the admin typed so that Slack shows it as text, never as a mention or a link', () => {
    const slack = (text: string) => {
      const parsed = parseAdminCommand(text);
      return parsed.ok ? '' : parsed.refusals.map((r) => refusalText(r, SLACK_MARKUP)).join('\n');
    };
    expect(slack('set <@U1> 5')).toBe(
      `unknown setting "&lt;@U1&gt;": use ${TEXT_QUOTA_SETTINGS.map((s) => s.name).join(', ')}`,
    );
    expect(slack('suspend <!channel>')).toBe(
      'suspend: needs one member, as @mention (got "&lt;!channel&gt;")',
    );
    expect(slack('set <!here>=1')).toContain('unknown setting "&lt;!here&gt;"');
    expect(slack('<https://evil.example|click>')).toBe(
      'Unknown operation "&lt;https://evil.example|click&gt;".',
    );
  });

  it('reads member mentions and bare ids, nothing else', () => {
    expect(readUserId('<@W12AB|ann>')).toBe('W12AB');
    expect(readUserId('U12AB')).toBe('U12AB');
    expect(readUserId('@ann')).toBeUndefined();
    expect(readUserId('<#C123|general>')).toBeUndefined();
  });
});
