/**
 * Discord snowflakes: 64-bit ids with the creation time in the top 42 bits. The ids must look real
 * (17-19 digits): discord.js's REST client only recognises major parameters (channel, guild,
 * webhook ids) of that shape when it groups requests into rate-limit buckets.
 */
const DISCORD_EPOCH = 1_420_070_400_000n;
let increment = 0n;

export function snowflake(at = Date.now()): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}

export function snowflakeTime(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
}
