import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * The admission Lua scripts, loaded once per connection through ioredis `defineCommand` (EVALSHA
 * with a transparent fallback to EVAL after a Redis restart). File names say how many keys each
 * script takes, as BullMQ's do.
 */
const SCRIPTS = {
  easelAdmit: 'admit-13.lua',
  easelSettle: 'settle-8.lua',
  easelGrant: 'grant-3.lua',
  easelRecordDuration: 'record-duration-1.lua',
  easelReplacePolicy: 'replace-policy-1.lua',
} as const;

type ScriptName = keyof typeof SCRIPTS;
export type ScriptedRedis = Redis & Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;

const sources = new Map<ScriptName, { lua: string; numberOfKeys: number }>();
for (const [name, file] of Object.entries(SCRIPTS) as [ScriptName, string][]) {
  const numberOfKeys = Number(/-(\d+)\.lua$/.exec(file)?.[1]);
  const lua = readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
  sources.set(name, { lua, numberOfKeys });
}

const defined = new WeakSet<Redis>();

export function withScripts(redis: Redis): ScriptedRedis {
  if (!defined.has(redis)) {
    for (const [name, source] of sources) redis.defineCommand(name, source);
    defined.add(redis);
  }
  return redis as ScriptedRedis;
}
