import { describe, expect, it } from 'vitest';
import { refusalError } from '../../commands/admit-and-reply.ts';
import { readRefusal } from '../../src/admission/refusal.ts';
import type { RefusalReason } from '../../src/admission/types.ts';
import { refusalAnswer } from '../../src/platforms/discord/answers.ts';
import { slackRefusalText } from '../../src/platforms/slack/tell-member.ts';
import type { Refusal } from '../../src/refusals/refusal.ts';
import { refusalText } from '../../src/refusals/refusal-text.ts';

/**
 * Refusals are an identifier plus parameters (src/refusals/refusal.ts); each platform renders
 * them in its own markup. Text the member or an admin wrote (a banned word) is escaped the
 * platform's way; everything else reads the same everywhere.
 */
const context = { cost: 2, scopeNoun: 'server' };

describe('refusals as an identifier plus parameters', () => {
  it('reads each reason of the admission script into its parameters and the plain sentence', () => {
    const cases: [RefusalReason, number, string, Refusal, string][] = [
      ['suspended', 0, '', { reason: 'suspended', scopeNoun: 'server' }, 'You are suspended'],
      ['rate-limited', 20_000, '', { reason: 'rate-limited', seconds: 20 }, 'try again in 20 seconds'],
      [
        'cooldown',
        4_200,
        '',
        { reason: 'cooldown', seconds: 5 },
        "You're on cooldown: try again in 5 seconds.",
      ],
      ['pending-cap', 0, '3', { reason: 'pending-cap', jobs: 3 }, 'You already have 3 jobs waiting'],
      [
        'scope-budget',
        90 * 60_000,
        '',
        { reason: 'scope-budget', scopeNoun: 'server', seconds: 5400 },
        'resets in 1 h 30 min',
      ],
      [
        'banned-word',
        0,
        'dragon',
        { reason: 'banned-word', scopeNoun: 'server', word: 'dragon' },
        'not allowed in this server: "dragon"',
      ],
      ['over-limits', 0, 'steps:30', { reason: 'over-limits', limit: 'steps', max: 30 }, 'at most 30 steps'],
      [
        'over-limits',
        0,
        'pixels:262144',
        { reason: 'over-limits', limit: 'size', max: 262144 },
        '262,144 pixels (about 512x512)',
      ],
      [
        'insufficient-credits',
        3_600_000,
        '500',
        { reason: 'insufficient-credits', cost: 2, have: 0.5, resetSeconds: 3600 },
        'this costs 2 credits and you have 0.5 credits. Your daily allowance resets in 1 hour',
      ],
    ];
    for (const [reason, retryAfterMs, detail, refusal, words] of cases) {
      const read = readRefusal(reason, retryAfterMs, detail, context);
      expect(read.refusal, reason).toEqual(refusal);
      expect(read.message, reason).toContain(words);
      expect(read.message, reason).toBe(refusalText(refusal));
    }
  });

  it('escapes a banned word for each platform and leaves the rest of the sentence alone', () => {
    const refused = readRefusal('banned-word', 0, '*<!channel>*', context);
    const error = refusalError(refused);
    expect(error.identifier).toBe('banned-word');
    expect(refused.message).toContain('"*<!channel>*"');
    expect(refusalAnswer(error).content).toBe(
      '⚠️ Your prompt contains a word not allowed in this server: "\\*<!channel\\>\\*".',
    );
    expect(slackRefusalText(error)).toBe(
      'Your prompt contains a word not allowed in this server: "*&lt;!channel&gt;*".',
    );
  });

  it('shows any other refusal by its own sentence', () => {
    const refused = readRefusal('cooldown', 5_000, '', context);
    const error = refusalError(refused);
    expect(refusalAnswer(error).content).toBe("⚠️ You're on cooldown: try again in 5 seconds.");
    expect(slackRefusalText(error)).toBe("You're on cooldown: try again in 5 seconds.");
  });
});
