import { randomInt } from 'node:crypto';

/**
 * A seed for a request that gave none (or 0). Drawn with crypto so seeds cannot be predicted or
 * collide by clock, and kept below 2^32 so the number a member sees is short enough to retype;
 * members may still pass any seed up to 2^53 - 1 themselves.
 */
export function randomSeed(): number {
  return randomInt(1, 2 ** 32);
}
