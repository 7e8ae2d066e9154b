import type { AdmissionInput, AdmissionResult } from '../../src/admission/types.ts';
import type { Services } from '../../src/app/services.ts';
import { createServices } from '../../src/app/services.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { MemberRef } from '../../src/members/member-ref.ts';
import type { Origin } from '../../src/queue/job-data.ts';
import type { GenerationRequest } from '../../src/request/types.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

/** A clock tests move by hand (the daily reset, cooldowns, the duplicate window). */
export class TestClock {
  constructor(public ms = Date.UTC(2025, 0, 15, 12, 0, 0)) {}
  now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Configuration for admission tests: generous by default, each test tightens what it checks. */
export function testConfig(env: Record<string, string> = {}): Config {
  return parseConfig({
    REDIS_URL: testRedisUrl(),
    LOG_LEVEL: 'silent',
    DEFAULT_DAILY_ALLOWANCE: '10',
    DEFAULT_COOLDOWN_S: '0',
    DEFAULT_PENDING_CAP: '1000',
    DUPLICATE_WINDOW_S: '0',
    ARTIFACTS_DIR: '/tmp/easel-admission-test-artifacts',
    ...env,
  });
}

export async function testServices(
  name: string,
  env: Record<string, string> = {},
  clock = new TestClock(),
): Promise<{ services: Services; clock: TestClock; prefix: string; config: Config }> {
  const config = testConfig(env);
  const prefix = uniquePrefix(name);
  const services = await createServices(config, createLogger('silent'), { prefix, clock: clock.now });
  return { services, clock, prefix, config };
}

/** One 512x512 image at 25 steps: costs exactly 1 credit at the default rates. */
export function request(overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    mode: 'txt2img',
    prompt: 'a lighthouse on a cliff',
    negativePrompt: '',
    model: 'easel-mini',
    width: 512,
    height: 512,
    steps: 25,
    guidance: 4,
    sampler: 'ddim',
    seed: 42,
    count: 1,
    ...overrides,
  };
}

export function member(userId: string, scopeId = 'guild-a', roles: string[] = []): MemberRef {
  return { scope: { kind: 'discord', id: scopeId }, userId, roles };
}

const cliOrigin: Origin = { platform: 'cli' };

let requestCounter = 0;

export function admission(
  who: MemberRef,
  overrides: Partial<GenerationRequest> = {},
  extra: Partial<AdmissionInput> = {},
): AdmissionInput {
  requestCounter++;
  return {
    requestId: `req-${requestCounter}-${Math.random().toString(36).slice(2)}`,
    member: who,
    // A distinct prompt per request unless a test wants duplicates.
    request: request({ prompt: `a lighthouse number ${requestCounter}`, ...overrides }),
    origin: cliOrigin,
    ...extra,
  };
}

export function accepted(result: AdmissionResult): Extract<AdmissionResult, { accepted: true }> {
  if (!result.accepted) throw new Error(`expected acceptance, got ${result.reason}: ${result.message}`);
  return result;
}

export function refused(result: AdmissionResult): Extract<AdmissionResult, { accepted: false }> {
  if (result.accepted) throw new Error(`expected a refusal, got job ${result.jobId}`);
  return result;
}

export const admin = (scopeId = 'guild-a') => ({ member: member('admin-1', scopeId), isAdmin: true });
