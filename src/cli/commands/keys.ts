import { type Command, InvalidArgumentError } from 'commander';
import { createKeyWithCredits, creditKey, keyMember } from '../../api/key-admin.ts';
import { describeKeyRate, parseKeyRate } from '../../api/key-rate.ts';
import type { KeyRate } from '../../api/key-store.ts';
import { CodedError } from '../../errors/coded-error.ts';
import { printTable } from '../print-table.ts';
import { withServices } from '../with-services.ts';

/** `easel keys create|list|set|revoke|credit`: API keys, each its own credit scope. */

/** `--rate 60/min` as a commander option parser; `off` is no limit. */
function rateOption(value: string): KeyRate | 'off' {
  try {
    return parseKeyRate(value) ?? 'off';
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('manage REST API keys (each key has its own credits)');

  keys
    .command('create')
    .description('create a key; it is printed once and stored only as a hash')
    .requiredOption('--name <name>', 'a name to tell keys apart (unique)')
    .requiredOption('--credits <n>', 'credits the key starts with', wholeNumber(0, 1_000_000))
    .option(
      '--allowance <n>',
      'free credits the key gets each UTC day, spent before its granted credits (default 0)',
      wholeNumber(0, 1_000_000),
    )
    .option(
      '--daily <n>',
      'most credits the key may spend per UTC day, allowance included (0: no cap)',
      wholeNumber(0, 1_000_000_000),
    )
    .option('--cooldown <seconds>', 'seconds between two requests (default 0)', wholeNumber(0, 86_400))
    .option('--pending-cap <n>', 'jobs queued at once (default: no cap)', wholeNumber(1, 1000))
    .option(
      '--rate <n/unit>',
      'generation requests per second, min, hour or day: 60/min (default: no limit)',
      rateOption,
    )
    .option('--webhook-secret', 'give the key its own webhook signing secret instead of WEBHOOK_SECRET')
    .option('-q, --quiet', 'print only the key, for scripts: KEY=$(easel keys create ... --quiet)')
    .action(
      async (opts: {
        name: string;
        credits: number;
        allowance?: number;
        daily?: number;
        cooldown?: number;
        pendingCap?: number;
        rate?: KeyRate | 'off';
        webhookSecret?: boolean;
        quiet?: boolean;
      }) => {
        await withServices(async (services, store) => {
          const created = await createKeyWithCredits(services, store, {
            name: opts.name,
            credits: opts.credits,
            ...(opts.daily !== undefined ? { daily: opts.daily } : {}),
            ...(opts.allowance !== undefined ? { allowance: opts.allowance } : {}),
            ...(opts.cooldown !== undefined ? { cooldownS: opts.cooldown } : {}),
            ...(opts.pendingCap !== undefined ? { pendingCap: opts.pendingCap } : {}),
            ...(opts.rate !== undefined && opts.rate !== 'off' ? { rate: opts.rate } : {}),
            webhookSecret: opts.webhookSecret === true,
          });
          if (opts.quiet === true) {
            console.log(created.key);
            return;
          }
          console.log(`Created API key "${created.record.name}" (id ${created.record.id}).`);
          console.log(`\n  ${created.key}\n`);
          console.log('Store it now: it is not shown again and cannot be recovered.');
          const allowance = opts.allowance ? ` (${opts.allowance} of them a daily allowance)` : '';
          const cap = opts.daily ? `; at most ${opts.daily} spent a day` : '';
          console.log(`Credits: ${created.balance.total}${allowance}${cap}.`);
          if (created.record.rate) console.log(`Rate: ${describeKeyRate(created.record.rate)}.`);
          if (created.record.webhookSecret) {
            console.log(`Webhook signing secret: ${created.record.webhookSecret}`);
          }
        });
      },
    );

  keys
    .command('list')
    .description('list keys with their credits')
    .action(async () => {
      await withServices(async (services, store) => {
        const records = await store.list();
        if (records.length === 0) {
          console.log('No API keys. Create one with: easel keys create --name NAME --credits N');
          return;
        }
        const rows = await Promise.all(
          records.map(async (r) => {
            const balance = await services.credits.balance(keyMember(r.id));
            return [
              r.id,
              r.name,
              `${r.hint}…`,
              new Date(r.createdAt).toISOString().slice(0, 16).replace('T', ' '),
              r.revokedAt ? 'revoked' : 'active',
              String(balance.total),
              String(balance.dailyAllowance),
              String(balance.reserved),
              describeKeyRate(r.rate),
            ];
          }),
        );
        printTable(
          ['id', 'name', 'key', 'created (UTC)', 'status', 'credits', 'allowance/day', 'reserved', 'rate'],
          rows,
        );
      });
    });

  keys
    .command('set')
    .description("change an existing key's limits (by id or name)")
    .argument('<key>', 'the key id or name')
    .requiredOption(
      '--rate <n/unit>',
      'generation requests per second, min, hour or day: 60/min; off: no limit',
      rateOption,
    )
    .action(async (idOrName: string, opts: { rate: KeyRate | 'off' }) => {
      await withServices(async (_services, store) => {
        const updated = await store.setRate(idOrName, opts.rate === 'off' ? undefined : opts.rate);
        if (!updated) throw new CodedError('config-invalid', `No API key with id or name "${idOrName}".`);
        console.log(`Rate of "${updated.name}": ${describeKeyRate(updated.rate)}.`);
      });
    });

  keys
    .command('revoke')
    .description('revoke a key at once (by id or name)')
    .argument('<key>', 'the key id or name')
    .action(async (idOrName: string) => {
      await withServices(async (_services, store) => {
        const revoked = await store.revoke(idOrName);
        if (!revoked) throw new CodedError('config-invalid', `No API key with id or name "${idOrName}".`);
        console.log(`Revoked API key "${revoked.name}" (id ${revoked.id}).`);
      });
    });

  keys
    .command('credit')
    .description('add credits to a key (by id or name)')
    .argument('<key>', 'the key id or name')
    .argument('<credits>', 'credits to add', wholeNumber(1, 1_000_000))
    .action(async (idOrName: string, amount: number) => {
      await withServices(async (services, store) => {
        const record = await store.find(idOrName);
        if (!record) throw new CodedError('config-invalid', `No API key with id or name "${idOrName}".`);
        const balance = await creditKey(services, record.id, amount);
        console.log(`Added ${amount} credits to "${record.name}": ${balance.total} now.`);
      });
    });
}
