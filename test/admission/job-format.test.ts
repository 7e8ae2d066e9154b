import { Job, Queue } from 'bullmq';
import { addPrioritizedJob } from 'bullmq/dist/esm/scripts/addPrioritizedJob-9.js';
import { describe, expect, it } from 'vitest';
import { generateJobOptions } from '../../src/queue/queues.ts';
import { createRedis } from '../../src/redis/connections.ts';
import { assertJobFormatMirrored } from '../../src/state/scripts.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { accepted, admission, member, testServices } from './support.ts';

/**
 * Admission writes its BullMQ jobs itself (admit-batch.lua), mirroring BullMQ's addPrioritizedJob.
 * A job admitted here and the same job added through BullMQ's own Queue.add must leave the same
 * traces in Redis: the job hash, the events, the prioritized score and the counters. The one
 * addition is admission's own field on the job's hash, its open reservation.
 */
describe('jobs written by admission', () => {
  it('run on the BullMQ whose add script admission mirrors', () => {
    expect(() => assertJobFormatMirrored()).not.toThrow();
    expect(() => assertJobFormatMirrored(`${addPrioritizedJob.content}\n-- changed`)).toThrow(
      /adds jobs differently from BullMQ 6\.7\.0/,
    );
  });

  it('look exactly like the same job added by Queue.add', async () => {
    const { services, prefix, config } = await testServices('job-format');
    const redis = createRedis(testRedisUrl(), 'producer', 'job-format-test');
    await redis.connect();
    const bullPrefix = uniquePrefix('job-format-bullmq');
    const queue = new Queue('generate', { connection: redis, prefix: bullPrefix });
    try {
      const result = accepted(await services.admission.admit(admission(member('jobformat'))));
      const ours = await Job.fromId(services.queues.generate, result.jobId);
      if (!ours) throw new Error('admitted job not found');
      const priority = Number(ours.opts.priority);
      expect(priority).toBeGreaterThan(0);

      await queue.add('generate', ours.data, {
        ...generateJobOptions(Math.round(config.IMAGE_RETENTION_HOURS * 3600)),
        jobId: result.jobId,
        priority,
      });

      const ourHash = await redis.hgetall(`${prefix}:generate:${result.jobId}`);
      const bullHash = await redis.hgetall(`${bullPrefix}:generate:${result.jobId}`);
      const { easelReservation, ...ourBullFields } = ourHash;
      // "<jobId> <cost> <fromAllowance> <fromGranted> <day> <scope> <userId>", milli-credits.
      expect(easelReservation).toMatch(
        new RegExp(`^${result.jobId} ${result.cost * 1000} \\d+ \\d+ \\d+ \\S+ jobformat$`),
      );
      expect(await redis.zscore(`${prefix}:reservations`, easelReservation as string)).not.toBeNull();
      expect(Object.keys(ourBullFields).sort()).toEqual(Object.keys(bullHash).sort());
      for (const field of Object.keys(bullHash)) {
        if (field === 'timestamp') continue;
        if (field === 'opts' || field === 'data') {
          expect(JSON.parse(ourHash[field] as string), field).toEqual(JSON.parse(bullHash[field] as string));
        } else {
          expect(ourHash[field], field).toBe(bullHash[field]);
        }
      }

      // The prioritized set: score = priority * 2^32 + the queue's counter (1 for a first job).
      const ourScore = await redis.zscore(`${prefix}:generate:prioritized`, result.jobId);
      const bullScore = await redis.zscore(`${bullPrefix}:generate:prioritized`, result.jobId);
      expect(ourScore).toBe(bullScore);
      for (const suffix of ['pc', 'id']) {
        expect(await redis.get(`${prefix}:generate:${suffix}`), suffix).toBe(
          await redis.get(`${bullPrefix}:generate:${suffix}`),
        );
      }
      expect(await redis.zrange(`${prefix}:generate:marker`, '0', '-1', 'WITHSCORES')).toEqual(
        await redis.zrange(`${bullPrefix}:generate:marker`, '0', '-1', 'WITHSCORES'),
      );
      expect(await redis.hget(`${prefix}:generate:meta`, 'opts.maxLenEvents')).toBe(
        await redis.hget(`${bullPrefix}:generate:meta`, 'opts.maxLenEvents'),
      );

      const events = async (p: string) =>
        (await redis.xrange(`${p}:generate:events`, '-', '+')).map(([, fields]) => fields);
      expect(await events(prefix)).toEqual(await events(bullPrefix));

      // And BullMQ reads it back as its own.
      expect(await ours.getState()).toBe('prioritized');
      expect(ours.opts).toMatchObject({ priority, attempts: 3 });
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      await redis.quit();
      await services.close();
    }
  });

  it('queue no marker while the queue is paused, and one once it resumes', async () => {
    const { services, prefix } = await testServices('job-format-paused');
    try {
      await services.queues.generate.pause();
      accepted(await services.admission.admit(admission(member('paused'))));
      expect(await services.redis.zcard(`${prefix}:generate:marker`)).toBe(0);
      await services.queues.generate.resume();
      expect(await services.redis.zcard(`${prefix}:generate:marker`)).toBe(1);
    } finally {
      await services.close();
    }
  });

  it('place each job of a burst after the queued jobs of its priority or better', async () => {
    const { services } = await testServices('job-format-positions');
    try {
      const alice = member('alice-positions');
      const bob = member('bob-positions');
      // One burst: alice 3 jobs (priorities 10, 20, 30), then bob 1 (priority 10).
      const burst = await Promise.all([
        services.admission.admit(admission(alice)),
        services.admission.admit(admission(alice)),
        services.admission.admit(admission(alice)),
        services.admission.admit(admission(bob)),
      ]);
      expect(burst.map((r) => accepted(r).position)).toEqual([1, 2, 3, 2]);
      // The answers agree with BullMQ's own order of the queue.
      const waiting = await services.queues.generate.getJobs(['prioritized'], 0, -1, true);
      expect(waiting.map((job) => job.id)).toEqual(
        [burst[0], burst[3], burst[1], burst[2]].map((r) => accepted(r).jobId),
      );
      // A later job of bob's second rank goes after alice's second job, before her third.
      const later = accepted(await services.admission.admit(admission(bob)));
      expect(later.position).toBe(4);
    } finally {
      await services.close();
    }
  });
});
