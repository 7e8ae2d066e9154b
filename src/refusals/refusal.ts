import type { UserErrorIdentifier } from '../errors/user-error.ts';

/**
 * Every refusal easel says to a member or an admin in chat, as a value: its identifier (`reason`)
 * and the parameters its sentence needs. Each platform renders it with `refusalText` and its own
 * markup (src/refusals/refusal-text.ts), so text someone typed and easel quotes back (a banned word,
 * a setting name typed wrong, a button id) is escaped the platform's way; the REST API, the CLI and
 * the logs show the plain sentence, which a `UserError` keeps as its `message`.
 *
 * The first group are admission's (the admission script's reasons, src/admission/refusal.ts).
 */
export type Refusal =
  | { reason: 'suspended'; scopeNoun: string }
  | { reason: 'rate-limited'; seconds: number }
  | { reason: 'cooldown'; seconds: number }
  | { reason: 'pending-cap'; jobs: number }
  | { reason: 'scope-budget'; scopeNoun: string; seconds: number }
  | { reason: 'banned-word'; scopeNoun: string; word: string }
  | { reason: 'over-limits'; limit: 'steps' | 'size'; max: number }
  | { reason: 'insufficient-credits'; cost: number; have: number; resetSeconds?: number }
  /**
   * Only the scope's admins may: `permission` names what makes one where the platform says
   * (Discord's Manage Server), `task` what was tried (a command, or the scope's own defaults).
   */
  | { reason: 'not-admin'; scopeNoun: string; permission?: string; task?: AdminTask }
  /** A button or form id easel cannot read (an older easel's, or made by hand). */
  | { reason: 'broken-button'; problem: 'unknown' | 'unknown-form' | 'names-no-job' | 'malformed' }
  | { reason: 'broken-button'; problem: 'other-version'; version: string }
  | { reason: 'broken-button'; problem: 'unknown-action'; code: string }
  | { reason: 'broken-button'; problem: 'bad-image'; index: string }
  /** The job a button acts on is no longer kept (`retentionHours` where the platform knows it). */
  | { reason: 'job-gone'; retentionHours?: number }
  | { reason: 'other-scope-job'; scopeNoun: string }
  /** No images to work on: still rendering, failed, or (`state` unknown) one of the two. */
  | { reason: 'job-unfinished'; state?: 'rendering' | 'failed' }
  /** `image` is 1-based, as the buttons number them. */
  | { reason: 'no-such-image'; image: number; count: number }
  /** Vary (Region) needs the web page the REST API serves. */
  | { reason: 'region-editor-off' }
  | { reason: 'confirmation-gone' }
  | { reason: 'not-your-confirmation' }
  | { reason: 'no-such-job'; jobId: string }
  | { reason: 'not-your-job' }
  | { reason: 'job-finished' }
  /** Cancelled already, or failed: nothing was charged. */
  | { reason: 'job-ended' }
  /** An admin's operation or setting typed as text (Slack's `/imagine-admin`, the CLI). */
  | { reason: 'unknown-operation'; typed: string }
  | { reason: 'unknown-setting'; typed: string; known: readonly string[] }
  | { reason: 'not-whole-number'; setting: string; typed: string; meaning?: string }
  | { reason: 'unknown-choice'; setting: string; typed: string; choices: readonly string[] }
  /** `got` is the value as JSON, since a program may send any type. */
  | { reason: 'out-of-range'; setting: string; min: number; max: number; got: string; unit?: string }
  | { reason: 'too-many'; setting: string; max: number; unit: 'tiers' | 'words' }
  | { reason: 'bad-banned-word'; got: string }
  | { reason: 'bad-id'; setting: string; max: number; got: string }
  | { reason: 'missing-argument'; operation: string; expected: ArgumentExpected; typed?: string }
  | { reason: 'nothing-to-set'; operation: string; names: readonly string[] }
  | { reason: 'setting-misplaced'; setting: string; appliesTo: 'scope' | 'tier'; scopeNoun: string }
  | { reason: 'unknown-member'; member: string; scopeNoun: string }
  /** Member settings typed as text: words that are no flag, and flags that change with every prompt. */
  | { reason: 'not-a-setting'; typed: string }
  | { reason: 'per-prompt-flag'; flag: string };

/** What a member tried that only admins may do. */
export type AdminTask = { command: string } | { scopeDefaults: true };

/** What an admin operation typed as text lacks. */
export type ArgumentExpected =
  | 'words'
  | 'words-to-add-or-remove'
  | 'member'
  | 'member-first'
  | 'credits-after-member';

/** How each refusal is classed for the REST API (its HTTP status) and the metrics. */
export const IDENTIFIER_OF: Record<Refusal['reason'], UserErrorIdentifier> = {
  suspended: 'suspended',
  'rate-limited': 'rate-limited',
  cooldown: 'cooldown',
  'pending-cap': 'pending-cap',
  'scope-budget': 'scope-budget',
  'insufficient-credits': 'insufficient-credits',
  'banned-word': 'banned-word',
  // Above the member's tier (size, steps): a request this member may not make as it stands.
  'over-limits': 'invalid-request',
  'not-admin': 'not-admin',
  'broken-button': 'invalid-request',
  'job-gone': 'not-found',
  'other-scope-job': 'forbidden',
  'job-unfinished': 'not-found',
  'no-such-image': 'not-found',
  'region-editor-off': 'unavailable',
  'confirmation-gone': 'not-found',
  'not-your-confirmation': 'forbidden',
  'no-such-job': 'not-found',
  'not-your-job': 'forbidden',
  'job-finished': 'not-found',
  'job-ended': 'not-found',
  'unknown-operation': 'invalid-request',
  'unknown-setting': 'invalid-request',
  'not-whole-number': 'invalid-request',
  'unknown-choice': 'invalid-request',
  'out-of-range': 'invalid-request',
  'too-many': 'invalid-request',
  'bad-banned-word': 'invalid-request',
  'bad-id': 'invalid-request',
  'missing-argument': 'invalid-request',
  'nothing-to-set': 'invalid-request',
  'setting-misplaced': 'invalid-request',
  'unknown-member': 'not-found',
  'not-a-setting': 'invalid-request',
  'per-prompt-flag': 'invalid-request',
};
