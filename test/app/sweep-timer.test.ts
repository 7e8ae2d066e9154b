import { describe, expect, it } from 'vitest';
import { startSweepTimer } from '../../src/app/sweep-timer.ts';
import { createLogger } from '../../src/log/logger.ts';

/** The one periodic-sweep runner every sweep owner uses (artifacts, reservations). */
describe('sweep timer', () => {
  it('runs a round on each tick, never two at once, and stops', async () => {
    let rounds = 0;
    let running = 0;
    let most = 0;
    const timer = startSweepTimer({
      name: 'test sweep',
      everyMs: 20,
      logger: createLogger('silent'),
      async sweep() {
        rounds++;
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 70));
        running--;
        return 1;
      },
    });
    await new Promise((r) => setTimeout(r, 300));
    timer.stop();
    await new Promise((r) => setTimeout(r, 100));
    const after = rounds;
    expect(rounds).toBeGreaterThanOrEqual(2);
    expect(most).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(rounds).toBe(after);
  });

  it('joins a round already running, and reports a failed round as 0 and sweeps again', async () => {
    let calls = 0;
    const timer = startSweepTimer({
      name: 'test sweep',
      everyMs: 60_000,
      logger: createLogger('silent'),
      async sweep() {
        calls++;
        await new Promise((r) => setTimeout(r, 20));
        if (calls === 1) throw new Error('disk went away');
        return 3;
      },
    });
    const [first, joined] = await Promise.all([timer.sweepNow(), timer.sweepNow()]);
    expect([first, joined, calls]).toEqual([0, 0, 1]);
    expect(await timer.sweepNow()).toBe(3);
    timer.stop();
  });
});
