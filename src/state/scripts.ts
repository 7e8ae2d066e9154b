import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { addPrioritizedJob } from 'bullmq/dist/esm/scripts/addPrioritizedJob-9.js';
import type { Redis } from 'ioredis';
import { CodedError } from '../errors/coded-error.ts';

/**
 * easel's Lua scripts (admission, settling and granting credits, quota policies, durations), loaded once per connection through ioredis `defineCommand` (EVALSHA
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
 * Admission writes its BullMQ jobs itself, in the same atomic step as the reservation and batched
 * (admit-batch.lua), exactly as BullMQ's addPrioritizedJob script writes them: running that script
 * once per job cost about as much Redis time as all of admission's own checks and writes. The
 * format is BullMQ's, so admission refuses to start on a BullMQ whose script differs from the one
 * it mirrors; test/admission/job-format.test.ts compares a job added both ways, field by field.
 */
const MIRRORED_ADD_SCRIPT = {
  bullmq: '6.7.0',
  sha256: 'd4652d1be004a3d7bfed76efdc706f2017f8dfd0080c51ab1f05457eeb1c3c77',
};

export function assertJobFormatMirrored(content = addPrioritizedJob.content): void {
  if (createHash('sha256').update(content).digest('hex') !== MIRRORED_ADD_SCRIPT.sha256) {
    throw new CodedError(
      'config-invalid',
      `The installed BullMQ adds jobs differently from BullMQ ${MIRRORED_ADD_SCRIPT.bullmq}, whose addPrioritizedJob script src/state/lua/admit-batch.lua mirrors. Compare the two scripts, update admit-batch.lua, run test/admission/job-format.test.ts, then update the pinned hash in src/state/scripts.ts.`,
    );
  }
}
assertJobFormatMirrored();

const sources = new Map<ScriptName, { lua: string; numberOfKeys?: number }>();
for (const [name, file] of Object.entries(SCRIPTS) as [ScriptName, string][]) {
  const fixed = /-(\d+)\.lua$/.exec(file)?.[1];
  const lua = readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
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
