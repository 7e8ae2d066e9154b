import { describe, expect, it } from 'vitest';
import { fromUserError } from '../../src/api/api-error.ts';
import { refusedField, UserError } from '../../src/errors/user-error.ts';
import { refusalAnswer } from '../../src/platforms/discord/answers.ts';
import { escapeMarkdown } from '../../src/platforms/discord/status-text.ts';
import { escapeMrkdwn } from '../../src/platforms/slack/slack-limits.ts';
import { slackRefusalText } from '../../src/platforms/slack/tell-member.ts';
import { IDENTIFIER_OF, type Refusal } from '../../src/refusals/refusal.ts';
import { refusalText } from '../../src/refusals/refusal-text.ts';

/**
 * Every chat refusal is an identifier plus parameters (src/refusals/refusal.ts), rendered by one
 * `refusalText` in each platform's markup. What someone typed and easel quotes back is escaped
 * the platform's way; the `UserError` keeps the plain sentence for the REST API and the logs.
 */

/** Typed by a member or an admin: Discord markdown, a Slack broadcast, a link, an entity. */
const TYPED = '*_~`<!channel> <@U1> & <https://x.example|y>';

type Examples = { [R in Refusal['reason']]: Extract<Refusal, { reason: R }>[] };

/** One example of each refusal (the compiler checks none is missing); `TYPED` wherever text is typed. */
const EXAMPLES: Examples = {
  suspended: [{ reason: 'suspended', scopeNoun: 'server' }],
  'rate-limited': [{ reason: 'rate-limited', seconds: 20 }],
  cooldown: [{ reason: 'cooldown', seconds: 5 }],
  'pending-cap': [{ reason: 'pending-cap', jobs: 3 }],
  'scope-budget': [{ reason: 'scope-budget', scopeNoun: 'workspace', seconds: 5400 }],
  'banned-word': [{ reason: 'banned-word', scopeNoun: 'server', word: TYPED }],
  'over-limits': [{ reason: 'over-limits', limit: 'steps', max: 30 }],
  'insufficient-credits': [{ reason: 'insufficient-credits', cost: 2, have: 0.5 }],
  'not-admin': [
    { reason: 'not-admin', scopeNoun: 'server' },
    { reason: 'not-admin', scopeNoun: 'server', permission: 'Manage Server', task: { command: '/quota' } },
    { reason: 'not-admin', scopeNoun: 'workspace', task: { scopeDefaults: true } },
  ],
  'broken-button': [
    { reason: 'broken-button', problem: 'unknown' },
    { reason: 'broken-button', problem: 'unknown-form' },
    { reason: 'broken-button', problem: 'names-no-job' },
    { reason: 'broken-button', problem: 'malformed' },
    { reason: 'broken-button', problem: 'other-version', version: TYPED },
    { reason: 'broken-button', problem: 'unknown-action', code: TYPED },
    { reason: 'broken-button', problem: 'bad-image', index: TYPED },
  ],
  'job-gone': [{ reason: 'job-gone' }, { reason: 'job-gone', retentionHours: 24 }],
  'other-scope-job': [{ reason: 'other-scope-job', scopeNoun: 'workspace' }],
  'job-unfinished': [
    { reason: 'job-unfinished', state: 'rendering' },
    { reason: 'job-unfinished', state: 'failed' },
    { reason: 'job-unfinished' },
  ],
  'no-such-image': [{ reason: 'no-such-image', image: 4, count: 2 }],
  'region-editor-off': [{ reason: 'region-editor-off' }],
  'confirmation-gone': [{ reason: 'confirmation-gone' }],
  'not-your-confirmation': [{ reason: 'not-your-confirmation' }],
  'no-such-job': [{ reason: 'no-such-job', jobId: TYPED }],
  'not-your-job': [{ reason: 'not-your-job' }],
  'job-finished': [{ reason: 'job-finished' }],
  'job-ended': [{ reason: 'job-ended' }],
  'unknown-operation': [{ reason: 'unknown-operation', typed: TYPED }],
  'unknown-setting': [
    { reason: 'unknown-setting', typed: TYPED, known: ['allowance', 'cooldown'] },
    { reason: 'unknown-setting', typed: '', known: ['allowance', 'cooldown'] },
  ],
  'not-whole-number': [
    { reason: 'not-whole-number', setting: 'allowance', typed: TYPED },
    {
      reason: 'not-whole-number',
      setting: 'allowance',
      typed: TYPED,
      meaning: 'daily credits each member gets',
    },
  ],
  'unknown-choice': [
    { reason: 'unknown-choice', setting: 'nsfw', typed: TYPED, choices: ['block', 'spoiler'] },
  ],
  'out-of-range': [
    { reason: 'out-of-range', setting: 'cooldownS', min: 0, max: 86400, got: JSON.stringify(TYPED) },
    {
      reason: 'out-of-range',
      setting: 'amount',
      unit: 'credits',
      min: 1,
      max: 1000,
      got: JSON.stringify(TYPED),
    },
  ],
  'too-many': [{ reason: 'too-many', setting: 'tiers', max: 20, unit: 'tiers' }],
  'bad-banned-word': [{ reason: 'bad-banned-word', got: JSON.stringify(TYPED) }],
  'bad-id': [{ reason: 'bad-id', setting: 'suspend', max: 100, got: JSON.stringify(TYPED) }],
  'missing-argument': [
    { reason: 'missing-argument', operation: 'ban', expected: 'words' },
    { reason: 'missing-argument', operation: 'banned-words', expected: 'words-to-add-or-remove' },
    { reason: 'missing-argument', operation: 'suspend', expected: 'member', typed: TYPED },
    { reason: 'missing-argument', operation: 'grant', expected: 'member-first', typed: TYPED },
    { reason: 'missing-argument', operation: 'grant', expected: 'credits-after-member', typed: TYPED },
  ],
  'nothing-to-set': [{ reason: 'nothing-to-set', operation: 'set', names: ['allowance', 'cooldown'] }],
  'setting-misplaced': [
    { reason: 'setting-misplaced', setting: 'daily-cap', appliesTo: 'scope', scopeNoun: 'server' },
    { reason: 'setting-misplaced', setting: 'priority', appliesTo: 'tier', scopeNoun: 'server' },
  ],
  'unknown-member': [{ reason: 'unknown-member', member: TYPED, scopeNoun: 'server' }],
  'not-a-setting': [{ reason: 'not-a-setting', typed: TYPED }],
  'per-prompt-flag': [{ reason: 'per-prompt-flag', flag: TYPED }],
};

const ALL = Object.values(EXAMPLES).flat() as Refusal[];
const name = (refusal: Refusal) => JSON.stringify(refusal);
/** The quoted text as the REST API shows it: as typed, or as the JSON a program sent. */
const typedIn = (plain: string) => [TYPED, JSON.stringify(TYPED)].find((typed) => plain.includes(typed));

describe('the refusal catalogue', () => {
  it('keeps the plain sentence as the UserError message and the value in its context', () => {
    for (const refusal of ALL) {
      const error = UserError.refused(refusal);
      expect(error.identifier, name(refusal)).toBe(IDENTIFIER_OF[refusal.reason]);
      expect(error.message, name(refusal)).toBe(refusalText(refusal));
      expect(error.message, name(refusal)).toMatch(/\S/);
      expect(error.context.refusal, name(refusal)).toEqual(refusal);
    }
  });

  it('says each refusal the same on Discord and Slack when nothing typed is quoted', () => {
    for (const refusal of ALL.filter((r) => typedIn(refusalText(r)) === undefined)) {
      const plain = refusalText(refusal);
      const error = UserError.refused(refusal);
      expect(refusalAnswer(error).content, name(refusal)).toBe(`⚠️ ${plain}`);
      expect(slackRefusalText(error), name(refusal)).toBe(plain);
    }
  });

  it('escapes what was typed, on Discord as markdown and on Slack as mrkdwn, and nothing else', () => {
    const quoting = ALL.filter((r) => typedIn(refusalText(r)) !== undefined);
    // Every refusal with a text parameter someone typed is among these.
    expect(new Set(quoting.map((r) => r.reason))).toEqual(
      new Set([
        'banned-word',
        'broken-button',
        'no-such-job',
        'unknown-operation',
        'unknown-setting',
        'not-whole-number',
        'unknown-choice',
        'out-of-range',
        'bad-banned-word',
        'bad-id',
        'missing-argument',
        'unknown-member',
        'not-a-setting',
        'per-prompt-flag',
      ]),
    );
    for (const refusal of quoting) {
      const plain = refusalText(refusal);
      const typed = typedIn(plain)!;
      const error = UserError.refused(refusal);
      expect(refusalAnswer(error).content, name(refusal)).toBe(
        `⚠️ ${plain.replace(typed, escapeMarkdown(typed))}`,
      );
      const slack = slackRefusalText(error);
      expect(slack, name(refusal)).toBe(plain.replace(typed, escapeMrkdwn(typed)));
      expect(slack, name(refusal)).not.toMatch(/<[!@h]/);
    }
  });

  it('renders field refusals in the platform markup beside plain field messages, and keeps the API plain', () => {
    const error = UserError.invalid([
      refusedField('settings', { reason: 'not-a-setting', typed: '<!channel>' }),
      { field: '--steps', message: '--steps: must be a whole number from 1 to 150' },
    ]);
    expect(error.message).toBe(
      '"<!channel>" is not a setting; give flags such as --ar 16:9 --n 4 --remix on\n--steps: must be a whole number from 1 to 150',
    );
    expect(slackRefusalText(error)).toBe(
      '"&lt;!channel&gt;" is not a setting; give flags such as --ar 16:9 --n 4 --remix on\n--steps: must be a whole number from 1 to 150',
    );
    expect(refusalAnswer(error).content).toBe(
      '⚠️ Please fix:\n• "<!channel\\>" is not a setting; give flags such as --ar 16:9 --n 4 --remix on\n• --steps: must be a whole number from 1 to 150',
    );
    expect(fromUserError(error).body).toEqual({
      status: 'error',
      message: {
        settings: ['"<!channel>" is not a setting; give flags such as --ar 16:9 --n 4 --remix on'],
        '--steps': ['--steps: must be a whole number from 1 to 150'],
      },
    });
  });

  it('answers the REST API by the refusal class: admins only 403, a gone job 404', () => {
    expect(fromUserError(UserError.refused({ reason: 'not-admin', scopeNoun: 'API key' })).statusCode).toBe(
      403,
    );
    expect(fromUserError(UserError.refused({ reason: 'job-gone' })).statusCode).toBe(404);
    expect(fromUserError(UserError.refused({ reason: 'region-editor-off' })).statusCode).toBe(503);
  });
});
