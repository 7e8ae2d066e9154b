import { type Command, InvalidArgumentError } from 'commander';
import { keyMember } from '../../api/key-admin.ts';
import type { ApiKeyStore } from '../../api/key-store.ts';
import type { Services } from '../../app/services.ts';
import type { Balance } from '../../credits/types.ts';
import { CodedError } from '../../errors/coded-error.ts';
import type { MemberRef, ScopeKind } from '../../members/member-ref.ts';
import { cliMember } from '../cli-member.ts';
import { withServices } from '../with-services.ts';
import { wholeNumber } from './keys.ts';

/**
 * `easel credits [show|grant]`: the operator's view of anyone's credits. Without `--scope` it is
 * the `cli` scope that `easel imagine` charges (this machine, this OS user), which has no chat admin
 * to grant credits, so this is the only way to add some.
 */

interface CreditsOptions {
  scope?: string;
  member?: string;
  json?: boolean;
}

const SCOPE_HELP =
  'cli (default: this machine), cli:HOST, api:KEY (id or name), discord:GUILD_ID or slack:TEAM_ID';

function parseScope(value: string): { kind: ScopeKind; id?: string } {
  const [kind, ...rest] = value.split(':');
  const id = rest.join(':').trim();
  if (kind !== 'cli' && kind !== 'api' && kind !== 'discord' && kind !== 'slack') {
    throw new InvalidArgumentError(`expected ${SCOPE_HELP}`);
  }
  if (kind !== 'cli' && id === '') throw new InvalidArgumentError(`${kind} needs an id: ${kind}:ID`);
  return id === '' ? { kind } : { kind, id };
}

/** Who the command is about, and whether a grant may make them a member (chat members must exist). */
async function resolveMember(
  keys: ApiKeyStore,
  options: CreditsOptions,
): Promise<{ member: MemberRef; describe: string; mayCreate: boolean }> {
  const scope = parseScope(options.scope ?? 'cli');
  if (scope.kind === 'cli') {
    const here = cliMember();
    const member: MemberRef = {
      scope: { kind: 'cli', id: scope.id ?? here.scope.id },
      userId: options.member ?? here.userId,
      ...(options.member === undefined ? { displayName: here.displayName ?? here.userId } : {}),
    };
    return { member, describe: `${member.userId} in the cli scope "${member.scope.id}"`, mayCreate: true };
  }
  if (scope.kind === 'api') {
    const record = await keys.find(scope.id!);
    if (!record) throw new CodedError('config-invalid', `No API key with id or name "${scope.id}".`);
    return {
      member: keyMember(record.id, record.name),
      describe: `API key "${record.name}" (id ${record.id})`,
      mayCreate: true,
    };
  }
  if (options.member === undefined) {
    throw new CodedError('config-invalid', `--member USER_ID is needed with --scope ${scope.kind}:ID.`);
  }
  return {
    member: { scope: { kind: scope.kind, id: scope.id! }, userId: options.member },
    describe: `${scope.kind} user ${options.member} in ${scope.kind === 'discord' ? 'server' : 'workspace'} ${scope.id}`,
    mayCreate: false,
  };
}

function untilReset(resetsAt: number, now = Date.now()): string {
  const minutes = Math.max(0, Math.ceil((resetsAt - now) / 60_000));
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

async function report(services: Services, member: MemberRef, describe: string, balance: Balance) {
  const policy = await services.quotas.get(member.scope);
  return {
    member: describe,
    scope: member.scope,
    userId: member.userId,
    balance,
    policy: {
      dailyAllowance: policy.dailyAllowance,
      dailyCap: policy.dailyCap,
      cooldownS: policy.cooldownS,
      pendingCap: policy.pendingCap,
    },
  };
}

function printReport(r: Awaited<ReturnType<typeof report>>): void {
  const b = r.balance;
  console.log(`Credits of ${r.member}:`);
  console.log(`  ${b.total} to spend now`);
  console.log(
    `  ${b.allowanceLeft} of today's allowance of ${b.dailyAllowance} left; it resets at 00:00 UTC (in ${untilReset(b.resetsAt)})`,
  );
  console.log(`  ${b.granted} granted (never expire)`);
  console.log(`  ${b.reserved} held by queued or rendering jobs`);
  const p = r.policy;
  console.log(
    `Scope: allowance ${p.dailyAllowance} a day, daily cap ${p.dailyCap === 0 ? 'none' : p.dailyCap}, ` +
      `cooldown ${p.cooldownS} s, pending cap ${p.pendingCap}.`,
  );
}

export function registerCredits(program: Command): void {
  const credits = program
    .command('credits')
    .description("show or grant a member's credits (default: the cli scope easel imagine charges)");

  const common = (command: Command) =>
    command
      .option('--scope <scope>', SCOPE_HELP)
      .option('--member <id>', 'user id in the scope (default: this OS user for cli; the key itself for api)')
      .option('--json', 'print one JSON object instead of text');

  common(
    credits.command('show', { isDefault: true }).description('balance, allowance and the scope policy'),
  ).action(async (options: CreditsOptions) => {
    await withServices(async (services, keys) => {
      const { member, describe } = await resolveMember(keys, options);
      const r = await report(services, member, describe, await services.credits.balance(member));
      if (options.json === true) console.log(JSON.stringify(r));
      else printReport(r);
    });
  });

  common(
    credits
      .command('grant')
      .description('add credits that never expire (spent after the daily allowance)')
      .argument('<credits>', 'credits to add', wholeNumber(1, 1_000_000))
      .option('--reason <text>', 'kept in the ledger', 'granted by the operator (easel credits grant)'),
  ).action(async (amount: number, options: CreditsOptions & { reason: string }) => {
    await withServices(async (services, keys) => {
      const { member, describe, mayCreate } = await resolveMember(keys, options);
      // The operator acts as the scope's admin. Chat members must have used easel already (a mistyped
      // id gets "no one to grant to"); the cli scope and API keys are the operator's own.
      if (mayCreate) await services.credits.balance(member);
      const operator: MemberRef = { scope: member.scope, userId: 'operator', displayName: 'operator' };
      const balance = await services.credits.grant(
        { member: operator, isAdmin: true },
        member,
        amount,
        options.reason,
      );
      const r = await report(services, member, describe, balance);
      if (options.json === true) console.log(JSON.stringify({ granted: amount, ...r }));
      else {
        console.log(`Granted ${amount} credits.`);
        printReport(r);
      }
    });
  });
}
