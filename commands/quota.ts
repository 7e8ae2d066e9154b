import type { Services } from '../src/app/services.ts';
import { type FieldError, UserError } from '../src/errors/user-error.ts';
import type { AdminActor, ScopeRef } from '../src/members/member-ref.ts';
import type { QuotaChanges, QuotaView } from '../src/quotas/quota-policy.ts';
import { NSFW_POLICIES } from '../src/quotas/quota-policy.ts';
import { assertScopeAdmin, scopeNoun } from '../src/quotas/scope-admin.ts';

/**
 * `quota`, written once for every platform: show a scope's policy, and change it (admins only).
 * Frontends check platform permissions and pass `isAdmin`; it is checked again here and once more
 * where the change is written, and every value is range-checked there with a message naming it.
 */
export type QuotaServices = Pick<Services, 'quotas'>;

export async function handleQuotaShow(services: QuotaServices, scope: ScopeRef): Promise<QuotaView> {
  return services.quotas.get(scope);
}

export async function handleQuotaSet(
  services: QuotaServices,
  admin: AdminActor,
  scope: ScopeRef,
  changes: QuotaChanges,
): Promise<QuotaView> {
  assertScopeAdmin(admin, scope);
  return services.quotas.set(admin, scope, changes);
}

/**
 * The settings a text command may name (`allowance=20 cooldown=10 nsfw=block`), for the CLI and
 * chat, in the words Discord's `/quota` and Slack's `/imagine-admin set` use: `max-size` is the
 * largest image side, kept as its square in pixels (`max-pixels` sets the pixels themselves).
 */
const NUMERIC: Record<string, { field: keyof QuotaChanges; stored?: (n: number) => number }> = {
  allowance: { field: 'dailyAllowance' },
  cooldown: { field: 'cooldownS' },
  'pending-cap': { field: 'pendingCap' },
  'max-size': { field: 'maxPixels', stored: (side) => side * side },
  'max-pixels': { field: 'maxPixels' },
  'max-steps': { field: 'maxSteps' },
  'daily-cap': { field: 'dailyCap' },
};

/** Short forms admins type for a setting, on every platform. */
export const QUOTA_SETTING_ALIASES: Record<string, string> = {
  pending: 'pending-cap',
  'max-side': 'max-size',
};

/**
 * Reads `name=value` settings typed by an admin into changes. Numbers must be whole; ranges are
 * checked by `quotas.set`. Every bad setting is reported at once.
 */
export function quotaChangesFromText(text: string): QuotaChanges {
  const changes: QuotaChanges = {};
  const errors: FieldError[] = [];
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const [typed = '', value = ''] = token.split('=', 2);
    const name = QUOTA_SETTING_ALIASES[typed] ?? typed;
    const setting = NUMERIC[name];
    if (setting) {
      if (!/^-?\d+$/.test(value)) {
        errors.push({ field: name, message: `${name}: expected a whole number, got "${value}"` });
      } else {
        const n = Number(value);
        (changes as Record<string, number>)[setting.field] = setting.stored ? setting.stored(n) : n;
      }
    } else if (name === 'nsfw') {
      if (!(NSFW_POLICIES as readonly string[]).includes(value)) {
        errors.push({
          field: name,
          message: `nsfw: expected one of ${NSFW_POLICIES.join(', ')}, got "${value}"`,
        });
      } else {
        changes.nsfw = value as QuotaChanges['nsfw'];
      }
    } else {
      errors.push({
        field: name || token,
        message: `unknown setting "${name || token}": use ${[...Object.keys(NUMERIC), 'nsfw'].join(', ')}`,
      });
    }
  }
  if (errors.length > 0) throw UserError.invalid(errors);
  return changes;
}

export function describePolicy(view: QuotaView, scope: ScopeRef): string {
  const noun = scopeNoun(scope);
  const lines = [
    `Quota policy of this ${noun}:`,
    `daily allowance ${view.dailyAllowance} credits · cooldown ${view.cooldownS} s · pending cap ${view.pendingCap}`,
    `largest image ${view.maxPixels.toLocaleString('en-US')} pixels · most steps ${view.maxSteps}`,
    `${noun} budget ${view.dailyCap === 0 ? 'unlimited' : `${view.dailyCap} credits a day`} · NSFW ${view.nsfw}`,
    `banned words: ${view.bannedWords.length ? view.bannedWords.join(', ') : 'none'}`,
    `suspended: ${view.suspended.length ? view.suspended.join(', ') : 'nobody'}`,
  ];
  for (const tier of view.tiers) {
    const parts = Object.entries(tier)
      .filter(([key]) => key !== 'role')
      .map(([key, value]) => `${key} ${value}`);
    lines.push(`tier ${tier.role}: ${parts.join(', ') || 'defaults'}`);
  }
  return lines.join('\n');
}
