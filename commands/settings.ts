import type { Redis } from 'ioredis';
import type { Services } from '../src/app/services.ts';
import { type FieldError, refusedField, UserError } from '../src/errors/user-error.ts';
import type { MemberRef, ScopeRef } from '../src/members/member-ref.ts';
import { scopeNoun } from '../src/quotas/scope-admin.ts';
import { defaultModelId } from '../src/request/default-model.ts';
import { parsePromptFlags } from '../src/request/prompt-flags.ts';
import { emptyRawRequest, isAbsent, type RawRequest } from '../src/request/raw-request.ts';
import { validateRequest } from '../src/request/validate-request.ts';
import { StateKeys } from '../src/state/keys.ts';
import { IMAGINE_FLAG_OPTIONS } from './imagine-options.ts';
import { SETTING_OPTIONS, type SettingKey, type SettingValues } from './setting-options.ts';

/**
 * `/settings`: a member's defaults (Midjourney's `/settings` and `/prefer`), kept in Redis per
 * scope, and the scope's own defaults that its admins set (the default image count among them).
 * Every frontend's `/imagine` fills what the member left out: first the member's settings, then the
 * scope's, then easel's (src/request/validate-request.ts). The options are declared once here;
 * Discord's `/settings` options are generated from them and Slack's text is read with them.
 */

const OPTION_BY_KEY = new Map(SETTING_OPTIONS.map((o) => [o.key, o]));

/** Where settings live: one hash per member per scope, one per scope. */
export class SettingsStore {
  private readonly keys: StateKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new StateKeys(prefix);
  }

  private key(scope: ScopeRef, userId?: string): string {
    return this.keys.settings(scope, userId);
  }

  async get(scope: ScopeRef, userId?: string): Promise<SettingValues> {
    return fromHash(await this.redis.hgetall(this.key(scope, userId)));
  }

  /** The member's and the scope's settings in one round trip. */
  async both(member: MemberRef): Promise<{ mine: SettingValues; scope: SettingValues }> {
    const [mine, scope] = await this.redis
      .multi()
      .hgetall(this.key(member.scope, member.userId))
      .hgetall(this.key(member.scope))
      .exec()
      .then((replies) => (replies ?? []).map(([, value]) => (value ?? {}) as Record<string, string>));
    return { mine: fromHash(mine ?? {}), scope: fromHash(scope ?? {}) };
  }

  async set(scope: ScopeRef, userId: string | undefined, values: SettingValues): Promise<void> {
    const hash = toHash(values);
    if (Object.keys(hash).length > 0) await this.redis.hset(this.key(scope, userId), hash);
  }

  async reset(scope: ScopeRef, userId?: string): Promise<void> {
    await this.redis.del(this.key(scope, userId));
  }
}

function toHash(values: SettingValues): Record<string, string> {
  const hash: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) hash[key] = JSON.stringify(value);
  }
  return hash;
}

function fromHash(hash: Record<string, string>): SettingValues {
  const values: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(hash)) {
    if (!OPTION_BY_KEY.has(key as SettingKey)) continue;
    try {
      values[key] = JSON.parse(text);
    } catch {
      // A value written by hand is ignored rather than breaking every /imagine of the member.
    }
  }
  return values as SettingValues;
}

/** What a frontend read from the member: raw values by setting, with the name each arrived under. */
export interface RawSettings {
  values: Partial<Record<SettingKey, unknown>>;
  labels: Partial<Record<SettingKey, string>>;
  errors: FieldError[];
}

const ON_OFF = ['on', 'off'] as const;
const ON_WORDS = ['on', 'true', 'yes', '1'];
const OFF_WORDS = ['off', 'false', 'no', '0'];
const REMIX_FLAG = /(^|\s)--remix(?:=|\s+|$)(\S*)/i;

/** `/imagine`'s flags that no setting fills (`--seed`, `--strength`, `--repeat`): named when given. */
const NOT_SETTINGS = IMAGINE_FLAG_OPTIONS.filter((o) => !OPTION_BY_KEY.has(o.field as SettingKey));

/**
 * Settings from text with `/imagine`'s flags (`--ar 16:9 --n 4 --no blurry`) and `--remix on|off`.
 * Text before the first flag is not a setting: it is reported, so a typo is never silently lost.
 */
export function parseSettingsFlags(text: string): RawSettings {
  const out: RawSettings = { values: {}, labels: {}, errors: [] };
  let rest = text;
  const remix = REMIX_FLAG.exec(rest);
  if (remix) {
    out.values.remix = remix[2] ?? '';
    out.labels.remix = '--remix';
    rest = `${rest.slice(0, remix.index)}${remix[1]}${rest.slice(remix.index + remix[0].length)}`;
  }
  const raw = parsePromptFlags(rest);
  out.errors.push(...raw.errors);
  if (typeof raw.prompt === 'string' && raw.prompt !== '') {
    out.errors.push(refusedField('settings', { reason: 'not-a-setting', typed: raw.prompt.slice(0, 60) }));
  }
  for (const option of SETTING_OPTIONS) {
    if (option.key === 'remix') continue;
    const value = raw[option.key];
    if (!isAbsent(value)) {
      out.values[option.key] = value;
      out.labels[option.key] = raw.labels[option.key] ?? option.flag;
    }
  }
  for (const option of NOT_SETTINGS) {
    const label = raw.labels[option.field];
    if (label !== undefined) {
      out.errors.push(refusedField(label, { reason: 'per-prompt-flag', flag: label }));
    }
  }
  return out;
}

/**
 * Checks raw settings with `/imagine`'s own validator (the same messages and ranges) and returns
 * them as stored: the model as its registry id, numbers as numbers. Every bad field at once.
 */
export function validateSettings(
  raw: RawSettings,
  services: Pick<Services, 'registry' | 'config'>,
): { ok: true; values: SettingValues } | { ok: false; error: UserError } {
  const errors: FieldError[] = [...raw.errors];
  const values: SettingValues = {};
  const request: RawRequest = emptyRawRequest();
  request.prompt = 'settings';
  for (const option of SETTING_OPTIONS) {
    const value = raw.values[option.key];
    if (value === undefined || option.key === 'remix') continue;
    request[option.key] = value;
    request.labels[option.key] = raw.labels[option.key] ?? option.name;
  }
  if (raw.values.remix !== undefined) {
    const word = String(raw.values.remix).trim().toLowerCase();
    const label = raw.labels.remix ?? 'remix';
    if (typeof raw.values.remix === 'boolean') values.remix = raw.values.remix;
    else if (ON_WORDS.includes(word)) values.remix = true;
    else if (OFF_WORDS.includes(word)) values.remix = false;
    else {
      errors.push(
        refusedField(label, {
          reason: 'unknown-choice',
          setting: label,
          typed: String(raw.values.remix),
          choices: ON_OFF,
        }),
      );
    }
  }
  const { config, registry } = services;
  const checked = validateRequest(request, {
    registry,
    defaultModel: defaultModelId(config.DEFAULT_MODEL, registry, config.MODELS_DIR),
    limits: { maxPixels: config.MAX_PIXELS },
  });
  if (!checked.ok) errors.push(...checked.errors);
  if (errors.length > 0 || !checked.ok) return { ok: false, error: UserError.invalid(errors) };
  const r = checked.request;
  const given = (key: SettingKey) => raw.values[key] !== undefined;
  if (given('model')) values.model = r.model;
  if (given('aspect')) values.aspect = String(raw.values.aspect).trim();
  if (given('count')) values.count = r.count;
  if (given('sampler')) values.sampler = String(raw.values.sampler).trim();
  if (given('steps')) values.steps = r.steps;
  if (given('guidance')) values.guidance = r.guidance;
  if (given('negativePrompt')) values.negativePrompt = r.negativePrompt;
  return { ok: true, values };
}

/**
 * Fills what the member left out of a request: their own setting, else the scope's. Each filled
 * field is labelled by where it came from, so a setting gone stale (a model since removed) is
 * named as such in the refusal, never blamed on the prompt.
 */
export function applySettings(
  raw: RawRequest,
  settings: { mine: SettingValues; scope: SettingValues },
): void {
  for (const option of SETTING_OPTIONS) {
    if (option.key === 'remix') continue;
    if (!isAbsent(raw[option.key])) continue;
    // A saved images-per-prompt is for pictures: a clip is one clip.
    if (option.key === 'count' && !isAbsent(raw.video)) continue;
    const own = settings.mine[option.key];
    const scoped = settings.scope[option.key];
    const value = own ?? scoped;
    if (value === undefined) continue;
    raw[option.key] = value;
    raw.labels[option.key] =
      own !== undefined ? `your /settings ${option.name}` : `this server's /settings ${option.name}`;
  }
}

/** Remix is on for a member when their setting says so, else when the scope's does. */
export function remixOn(settings: { mine: SettingValues; scope: SettingValues }): boolean {
  return settings.mine.remix ?? settings.scope.remix ?? false;
}

export type SettingsOperation =
  | { op: 'show' }
  | { op: 'set'; target: 'mine' | 'scope'; raw: RawSettings }
  | { op: 'reset'; target: 'mine' | 'scope' };

export type SettingsReply =
  | {
      status: 'shown';
      /** What changed (set) or was cleared (reset), for the reply's first line. */
      changed?: { target: 'mine' | 'scope'; op: 'set' | 'reset'; keys: SettingKey[] };
      mine: SettingValues;
      scope: SettingValues;
    }
  | { status: 'refused'; error: UserError };

export type SettingsServices = Pick<Services, 'redis' | 'prefix' | 'registry' | 'config'>;

/** `/settings show|set|reset`, for the member or (admins) the whole scope. */
export async function handleSettings(
  services: SettingsServices,
  input: { member: MemberRef; isAdmin: boolean; operation: SettingsOperation },
): Promise<SettingsReply> {
  const store = new SettingsStore(services.redis, services.prefix);
  const { member, operation } = input;
  if (operation.op !== 'show' && operation.target === 'scope' && !input.isAdmin) {
    return {
      status: 'refused',
      error: UserError.refused({
        reason: 'not-admin',
        scopeNoun: scopeNoun(member.scope),
        task: { scopeDefaults: true },
      }),
    };
  }
  const userId = (target: 'mine' | 'scope') => (target === 'mine' ? member.userId : undefined);
  let changed: Extract<SettingsReply, { status: 'shown' }>['changed'];
  if (operation.op === 'set') {
    const checked = validateSettings(operation.raw, services);
    if (!checked.ok) return { status: 'refused', error: checked.error };
    const keys = Object.keys(checked.values) as SettingKey[];
    if (keys.length === 0) {
      return {
        status: 'refused',
        error: UserError.invalid([
          refusedField('settings', {
            reason: 'nothing-to-set',
            operation: 'settings',
            names: SETTING_OPTIONS.map((o) => o.flag),
          }),
        ]),
      };
    }
    await store.set(member.scope, userId(operation.target), checked.values);
    changed = { target: operation.target, op: 'set', keys };
  } else if (operation.op === 'reset') {
    await store.reset(member.scope, userId(operation.target));
    changed = { target: operation.target, op: 'reset', keys: [] };
  }
  const { mine, scope } = await store.both(member);
  return { status: 'shown', ...(changed ? { changed } : {}), mine, scope };
}

function shown(key: SettingKey, value: SettingValues[SettingKey]): string {
  if (key === 'remix') return value ? 'on' : 'off';
  return String(value);
}

/**
 * The settings as lines of plain text (both platforms show them as is): each setting, whose value
 * applies (yours, the server's, or easel's default), and how to change it.
 */
export function settingsLines(
  reply: Extract<SettingsReply, { status: 'shown' }>,
  scopeWord: string,
): string[] {
  const lines: string[] = [];
  const { changed } = reply;
  if (changed?.op === 'set') {
    const names = changed.keys.map((k) => OPTION_BY_KEY.get(k)?.name ?? k).join(', ');
    lines.push(changed.target === 'mine' ? `Saved your ${names}.` : `Saved this ${scopeWord}'s ${names}.`);
  } else if (changed?.op === 'reset') {
    lines.push(
      changed.target === 'mine'
        ? `Your settings are reset; this ${scopeWord}'s defaults apply.`
        : `This ${scopeWord}'s defaults are reset.`,
    );
  }
  lines.push(`Your /imagine settings (yours, else this ${scopeWord}'s, else easel's):`);
  for (const option of SETTING_OPTIONS) {
    const own = reply.mine[option.key];
    const scoped = reply.scope[option.key];
    const value =
      own !== undefined
        ? `${shown(option.key, own)} (yours)`
        : scoped !== undefined
          ? `${shown(option.key, scoped)} (this ${scopeWord}'s)`
          : option.key === 'remix'
            ? 'off (default)'
            : 'default';
    lines.push(`${option.name}: ${value}`);
  }
  return lines;
}

/**
 * `/settings` as text (Slack's `/imagine-settings`, the CLI's `easel settings`): nothing or `show`;
 * `reset`; `set --ar 16:9 --n 4 --remix on` (or the flags alone); and for admins the same after
 * `server` (or `workspace`): `server --n 4`, `server reset`.
 */
export function parseSettingsText(text: string): SettingsOperation {
  let rest = text.trim();
  let target: 'mine' | 'scope' = 'mine';
  const scopeWord = /^(server|workspace|scope)\b/i.exec(rest);
  if (scopeWord) {
    target = 'scope';
    rest = rest.slice(scopeWord[0].length).trim();
  }
  const word = /^(show|reset|set)\b/i.exec(rest)?.[1]?.toLowerCase();
  if (word === 'reset' && rest.slice(5).trim() === '') return { op: 'reset', target };
  if (word === 'show' && rest.slice(4).trim() === '') return { op: 'show' };
  if (word === 'set') rest = rest.slice(3).trim();
  if (rest === '' && word !== 'set' && target === 'mine') return { op: 'show' };
  return { op: 'set', target, raw: parseSettingsFlags(rest) };
}
