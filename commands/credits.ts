import type { Services } from '../src/app/services.ts';
import { grantAmountRefused, MAX_GRANT } from '../src/credits/credit-store.ts';
import type { Balance, LedgerEntry } from '../src/credits/types.ts';
import { UserError } from '../src/errors/user-error.ts';
import type { AdminActor, MemberRef } from '../src/members/member-ref.ts';
import { assertScopeAdmin } from '../src/quotas/scope-admin.ts';

/**
 * `credits`, written once for every platform: a member's balance and recent ledger, and an admin's
 * grant. Frontends check platform permissions and pass `isAdmin`; it is checked again here and
 * once more where the grant is written. Text helpers give every platform the same wording.
 */
export type CreditsServices = Pick<Services, 'credits'>;

export interface CreditsView {
  balance: Balance;
  history: LedgerEntry[];
}

export async function handleCredits(
  services: CreditsServices,
  member: MemberRef,
  historyCount = 10,
): Promise<CreditsView> {
  const [balance, history] = await Promise.all([
    services.credits.balance(member),
    services.credits.history(member, historyCount),
  ]);
  return { balance, history };
}

/**
 * A grant as typed by an admin (`10`, a number from a typed option, or text from a chat command):
 * a whole number of credits from 1 to MAX_GRANT, or a clear refusal that names `amount`.
 */
export function parseGrantAmount(value: unknown): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const amount = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(amount) || amount < 1 || amount > MAX_GRANT) {
    throw UserError.invalid([grantAmountRefused(value)]);
  }
  return amount;
}

export async function handleGrant(
  services: CreditsServices,
  admin: AdminActor,
  target: MemberRef,
  amount: unknown,
  reason = '',
): Promise<Balance> {
  assertScopeAdmin(admin, target.scope);
  return services.credits.grant(admin, target, parseGrantAmount(amount), reason);
}

export function describeBalance(balance: Balance, now = Date.now()): string {
  const parts = [
    `You have ${credits(balance.total)}: ${fmt(balance.allowanceLeft)} of today's ${fmt(balance.dailyAllowance)} allowance`,
  ];
  if (balance.granted > 0) parts[0] += ` + ${fmt(balance.granted)} granted`;
  parts[0] += '.';
  parts.push(
    `The allowance resets in ${untilText(balance.resetsAt - now)} (00:00 UTC); granted credits never expire.`,
  );
  if (balance.reserved > 0)
    parts.push(`${credits(balance.reserved)} held by jobs still queued or rendering.`);
  return parts.join(' ');
}

const KIND_TEXT: Record<LedgerEntry['kind'], string> = {
  'daily-allowance': 'daily allowance',
  'allowance-expired': 'unused allowance lapsed',
  'allowance-changed': 'allowance changed',
  reserve: 'reserved for a job',
  commit: 'charged',
  refund: 'refunded',
  grant: 'granted',
};

export function describeLedgerEntry(entry: LedgerEntry): string {
  const when = new Date(entry.at).toISOString().slice(0, 16).replace('T', ' ');
  const amount = entry.amount === 0 ? '' : `${entry.amount > 0 ? '+' : ''}${fmt(entry.amount)} `;
  const why = entry.kind === 'grant' && entry.reason ? ` (${entry.reason})` : '';
  const job = entry.jobId ? ` · job ${entry.jobId}` : '';
  return `${when} UTC · ${amount}${KIND_TEXT[entry.kind]}${why}${job} · balance ${fmt(entry.balance)}`;
}

/** An amount of credits in words, the same on every platform: "1 credit", "4 credits". */
export function credits(n: number): string {
  return `${fmt(n)} credit${n === 1 ? '' : 's'}`;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0+$/, '');
}

function untilText(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h === 0 ? `${m} min` : m === 0 ? `${h} h` : `${h} h ${m} min`;
}
