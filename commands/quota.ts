import type { Services } from '../src/app/services.ts';
import { type FieldError, refusedField, UserError } from '../src/errors/user-error.ts';
import type { AdminActor, ScopeRef } from '../src/members/member-ref.ts';
import type { QuotaChanges, QuotaView } from '../src/quotas/quota-policy.ts';
import { NSFW_POLICIES } from '../src/quotas/quota-policy.ts';
import { assertScopeAdmin, scopeNoun } from '../src/quotas/scope-admin.ts';
import {
  QUOTA_SETTINGS,
  type QuotaSetting,
  quotaSettingNamed,
  TEXT_QUOTA_SETTINGS,
} from './quota-options.ts';

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

/** One setting's change: the number as the admin typed it, stored as the policy keeps it. */
export function quotaChange(setting: QuotaSetting, typed: number): QuotaChanges {
  return { [setting.field]: setting.stored ? setting.stored(typed) : typed };
}

/**
 * `quota set` from typed options (Discord), by the names QUOTA_SETTINGS gives them: the scope's
 * defaults, or with a role that role's tier. A setting that cannot apply there is refused by name.
 */
export function quotaSetChanges(values: Record<string, unknown>, roleId?: string): QuotaChanges {
  const fields: Record<string, number> = {};
  for (const setting of QUOTA_SETTINGS) {
    const value = values[setting.name];
    if (typeof value !== 'number') continue;
    const misplaced =
      (roleId !== undefined && setting.appliesTo === 'scope') ||
      (roleId === undefined && setting.appliesTo === 'tier');
    if (misplaced) {
      throw UserError.invalid([
        refusedField(setting.name, {
          reason: 'setting-misplaced',
          setting: setting.name,
          appliesTo: setting.appliesTo === 'scope' ? 'scope' : 'tier',
          // Typed options with roles are Discord's /quota set.
          scopeNoun: 'server',
        }),
      ]);
    }
    Object.assign(fields, quotaChange(setting, value));
  }
  if (roleId !== undefined) return { tiers: { set: [{ role: roleId, ...fields }] } };
  if (Object.keys(fields).length === 0) {
    const names = QUOTA_SETTINGS.filter((s) => s.appliesTo !== 'tier' && !s.textOnly).map((s) => s.name);
    throw UserError.invalid([refusedField('set', { reason: 'nothing-to-set', operation: 'set', names })]);
  }
  return fields;
}

/**
 * Reads `name=value` settings typed by an admin (the CLI, chat) into changes, by QUOTA_SETTINGS'
 * names and aliases, plus `nsfw=POLICY`. Numbers must be whole; ranges are checked by
 * `quotas.set`. Every bad setting is reported at once.
 */
export function quotaChangesFromText(text: string): QuotaChanges {
  const changes: QuotaChanges = {};
  const errors: FieldError[] = [];
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const [typed = '', value = ''] = token.split('=', 2);
    const setting = quotaSettingNamed(typed);
    const name = setting?.name ?? typed;
    if (setting) {
      if (!/^-?\d+$/.test(value)) {
        errors.push(refusedField(name, { reason: 'not-whole-number', setting: name, typed: value }));
      } else {
        Object.assign(changes, quotaChange(setting, Number(value)));
      }
    } else if (name === 'nsfw') {
      if (!(NSFW_POLICIES as readonly string[]).includes(value)) {
        errors.push(
          refusedField(name, {
            reason: 'unknown-choice',
            setting: 'nsfw',
            typed: value,
            choices: NSFW_POLICIES,
          }),
        );
      } else {
        changes.nsfw = value as QuotaChanges['nsfw'];
      }
    } else {
      errors.push(
        refusedField(name || token, {
          reason: 'unknown-setting',
          typed: name || token,
          known: [...TEXT_QUOTA_SETTINGS.map((s) => s.name), 'nsfw'],
        }),
      );
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
