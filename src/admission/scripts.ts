import { readFileSync } from 'node:fs';
import { addPrioritizedJob } from 'bullmq/dist/esm/scripts/addPrioritizedJob-9.js';
import type { Redis } from 'ioredis';
import { CodedError } from '../errors/coded-error.ts';

/**
 * The admission Lua scripts, loaded once per connection through ioredis `defineCommand` (EVALSHA
 * with a transparent fallback to EVAL after a Redis restart). File names say how many keys each
 * script takes, as BullMQ's do; a batch script takes a varying number, passed first by the caller.
 */
const SCRIPTS = {
  easelAdmitBatch: 'admit-batch.lua',
  easelSettle: 'settle-7.lua',
  easelGrant: 'grant-3.lua',
  easelRecordDuration: 'record-duration-1.lua',
  easelReplacePolicy: 'replace-policy-1.lua',
} as const;

type ScriptName = keyof typeof SCRIPTS;
export type ScriptedRedis = Redis & Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;

/**
 * Admission creates the BullMQ job in the same atomic step as the reservation by running BullMQ's
 * own addPrioritizedJob script (the installed version's, so its job format is always BullMQ's) as a
 * function inside ours.
 */
function checkedAddScript(): string {
  // The arguments admit-batch.lua builds follow BullMQ 6's layout; refuse to start on another.
  const { content, keys } = addPrioritizedJob;
  const layout = [
    'local args = cmsgpack.unpack(ARGV[1])',
    'local opts = cmsgpack.unpack(ARGV[3])',
    "KEYS[9] 'pc'",
  ];
  if (keys !== 9 || !layout.every((line) => content.includes(line))) {
    throw new CodedError(
      'config-invalid',
      'The installed BullMQ changed its addPrioritizedJob script; admission needs the BullMQ 6 layout (see src/admission/lua/admit-batch.lua).',
    );
  }
  return content;
}

const EMBEDDED: Partial<Record<ScriptName, string>> = {
  easelAdmitBatch: `local function bullmqAddPrioritizedJob()\n${checkedAddScript()}\nend\n`,
};

const sources = new Map<ScriptName, { lua: string; numberOfKeys?: number }>();
for (const [name, file] of Object.entries(SCRIPTS) as [ScriptName, string][]) {
  const fixed = /-(\d+)\.lua$/.exec(file)?.[1];
  const lua = (EMBEDDED[name] ?? '') + readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
  sources.set(name, fixed === undefined ? { lua } : { lua, numberOfKeys: Number(fixed) });
}

const defined = new WeakSet<Redis>();

export function withScripts(redis: Redis): ScriptedRedis {
  if (!defined.has(redis)) {
    for (const [name, source] of sources) redis.defineCommand(name, source);
    defined.add(redis);
  }
  return redis as ScriptedRedis;
}
