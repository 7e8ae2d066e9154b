import { quotaChangesFromText } from '../../../commands/quota.ts';
import { quotaSettingNamed, TEXT_QUOTA_SETTINGS } from '../../../commands/quota-options.ts';
import { isUserError } from '../../errors/user-error.ts';
import { NSFW_POLICIES, type NsfwPolicy, type QuotaChanges } from '../../quotas/quota-policy.ts';
import type { Refusal } from '../../refusals/refusal.ts';

/**
 * `/imagine-admin` takes its operation as text (Slack slash commands have no typed options), the
 * same operations as Discord's `/quota`. With `should_escape` on in the manifest, Slack sends a
 * mention as `<@U123|name>`; a bare user id works too. Numbers are checked for shape here and for
 * range by `commands/quota.ts`, which every platform shares. The settings and their names come
 * from commands/quota-options.ts, as Discord's `/quota set` options do.
 */
export type AdminOperation =
  | { op: 'show' }
  | { op: 'help' }
  /** `set allowance 20`: one setting by its name in QUOTA_SETTINGS. */
  | { op: 'set'; setting: string; value: number }
  /** `set allowance=20 cooldown=10 nsfw=block`: several at once, in the shared text form. */
  | { op: 'set-many'; changes: QuotaChanges }
  | { op: 'nsfw'; policy: NsfwPolicy }
  | { op: 'nsfw-channel'; on: boolean }
  | { op: 'ban'; words: string[] }
  | { op: 'unban'; words: string[] }
  | { op: 'suspend'; userId: string }
  | { op: 'unsuspend'; userId: string }
  | { op: 'grant'; userId: string; amount: number; reason?: string };

/** The operation, or why not: refusals the handler renders in Slack's markup, above ADMIN_USAGE. */
export type AdminParse = { ok: true; operation: AdminOperation } | { ok: false; refusals: Refusal[] };

const SETTING_NAMES = TEXT_QUOTA_SETTINGS.map((s) => s.name);
const ON_OFF = ['on', 'off'] as const;

export const ADMIN_USAGE = [
  '`/imagine-admin show` the workspace quota policy',
  `\`/imagine-admin set <${SETTING_NAMES.join('|')}> <number>\` (or several: \`set allowance=20 cooldown=10\`)`,
  `\`/imagine-admin nsfw <${NSFW_POLICIES.join('|')}>\``,
  '`/imagine-admin nsfw-channel <on|off>` mark this channel as one where NSFW images may be shown',
  '`/imagine-admin ban <word or phrase>` / `unban <word or phrase>`',
  '`/imagine-admin suspend @member` / `unsuspend @member`',
  '`/imagine-admin grant @member <credits> [reason]`',
].join('\n');

/** `<@U123|name>`, `<@U123>` or `U123`; undefined for anything else. */
export function readUserId(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const mention = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(text.trim());
  if (mention) return mention[1];
  return /^[UW][A-Z0-9]{2,}$/.test(text.trim()) ? text.trim() : undefined;
}

function readInteger(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function parseAdminCommand(text: string): AdminParse {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const [verb = 'show', ...rest] = words;
  const fail = (refusal: Refusal): AdminParse => ({ ok: false, refusals: [refusal] });
  switch (verb.toLowerCase()) {
    case 'show':
      return { ok: true, operation: { op: 'show' } };
    case 'help':
      return { ok: true, operation: { op: 'help' } };
    case 'set': {
      if (rest.some((token) => token.includes('='))) {
        try {
          return { ok: true, operation: { op: 'set-many', changes: quotaChangesFromText(rest.join(' ')) } };
        } catch (error) {
          // quotaChangesFromText names every bad setting, each as a refusal.
          if (isUserError(error)) {
            return { ok: false, refusals: (error.context.fields ?? []).flatMap((f) => f.refusal ?? []) };
          }
          throw error;
        }
      }
      const [name, value] = rest;
      const setting = name === undefined ? undefined : quotaSettingNamed(name);
      if (!setting) {
        return fail({ reason: 'unknown-setting', typed: name ?? '', known: SETTING_NAMES });
      }
      const n = readInteger(value);
      if (n === undefined || rest.length !== 2) {
        return fail({
          reason: 'not-whole-number',
          setting: setting.name,
          typed: rest.slice(1).join(' '),
          meaning: setting.description.charAt(0).toLowerCase() + setting.description.slice(1),
        });
      }
      return { ok: true, operation: { op: 'set', setting: setting.name, value: n } };
    }
    case 'nsfw': {
      const policy = rest[0]?.toLowerCase();
      if (!policy || !(NSFW_POLICIES as readonly string[]).includes(policy) || rest.length !== 1) {
        return fail({
          reason: 'unknown-choice',
          setting: 'nsfw',
          typed: rest.join(' '),
          choices: NSFW_POLICIES,
        });
      }
      return { ok: true, operation: { op: 'nsfw', policy: policy as NsfwPolicy } };
    }
    case 'nsfw-channel': {
      const value = rest[0]?.toLowerCase();
      if ((value !== 'on' && value !== 'off') || rest.length !== 1) {
        return fail({
          reason: 'unknown-choice',
          setting: 'nsfw-channel',
          typed: rest.join(' '),
          choices: ON_OFF,
        });
      }
      return { ok: true, operation: { op: 'nsfw-channel', on: value === 'on' } };
    }
    case 'ban':
    case 'unban': {
      const phrase = rest.join(' ').trim();
      if (!phrase)
        return fail({ reason: 'missing-argument', operation: verb.toLowerCase(), expected: 'words' });
      return { ok: true, operation: { op: verb.toLowerCase() as 'ban' | 'unban', words: [phrase] } };
    }
    case 'suspend':
    case 'unsuspend': {
      const userId = readUserId(rest[0]);
      if (!userId || rest.length !== 1) {
        return fail({
          reason: 'missing-argument',
          operation: verb.toLowerCase(),
          expected: 'member',
          typed: rest.join(' '),
        });
      }
      return { ok: true, operation: { op: verb.toLowerCase() as 'suspend' | 'unsuspend', userId } };
    }
    case 'grant': {
      const userId = readUserId(rest[0]);
      if (!userId) {
        return fail({
          reason: 'missing-argument',
          operation: 'grant',
          expected: 'member-first',
          typed: rest[0] ?? '',
        });
      }
      const amount = readInteger(rest[1]);
      if (amount === undefined) {
        return fail({
          reason: 'missing-argument',
          operation: 'grant',
          expected: 'credits-after-member',
          typed: rest[1] ?? '',
        });
      }
      const reason = rest.slice(2).join(' ').trim();
      return { ok: true, operation: { op: 'grant', userId, amount, ...(reason ? { reason } : {}) } };
    }
    default:
      return fail({ reason: 'unknown-operation', typed: verb });
  }
}
