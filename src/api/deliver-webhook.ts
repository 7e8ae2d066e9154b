import { UnrecoverableError } from 'bullmq';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { Config } from '../config/schema.ts';
import type { Deliverer, DelivererFactory } from '../delivery/deliverer.ts';
import { createOnce, type Once } from '../delivery/once.ts';
import type { Logger } from '../log/logger.ts';
import type { Registry } from '../models/registry.ts';
import type { ApiOrigin, DeliverJobData } from '../queue/job-data.ts';
import { failedAnswer, successAnswer } from './answers.ts';
import { ApiKeyStore } from './key-store.ts';
import { failureMessage } from './operations/job-outcome.ts';
import { SafeFetchError, type SafeFetchOptions, safeFetch } from './safe-fetch.ts';
import { signWebhook } from './webhook-signature.ts';

/**
 * Delivers a finished API job to the client's `webhook`: a POST of the same JSON `fetch` answers,
 * signed with `X-Easel-Signature` (HMAC-SHA256 with the key's own secret, else WEBHOOK_SECRET).
 * Runs in the deliver worker, so a receiver that is down or answers 5xx is retried with the
 * deliver queue's exponential backoff, without re-rendering. A job without a webhook needs nothing.
 *
 * At least once, like every delivery: a successful call is remembered (`once`, by job id), so a
 * retried delivery job does not call again; `X-Easel-Delivery` lets receivers drop the rare
 * duplicate (a crash between the call and remembering it).
 */

export interface WebhookDeliveryDeps {
  config: Pick<
    Config,
    'WEBHOOK_SECRET' | 'API_PUBLIC_URL' | 'API_HOST' | 'API_PORT' | 'API_ALLOW_PRIVATE_FETCH'
  >;
  artifacts: ArtifactStore;
  /** For the body's `warnings`, so a webhook body equals what `fetch` returns. */
  registry?: Registry;
  keys: ApiKeyStore;
  once: Once;
  logger: Logger;
  /** Test hooks for the outbound call (fake DNS, a loopback receiver treated as public). */
  fetch?: Pick<SafeFetchOptions, 'resolver' | 'addressAllowed'>;
  timeoutMs?: number;
  clock?: () => number;
}

export const DELIVERY_HEADER = 'x-easel-delivery';

/** Where image URLs in webhook bodies point: API_PUBLIC_URL, else the API's own address. */
export function publicBaseUrl(config: WebhookDeliveryDeps['config']): string {
  if (config.API_PUBLIC_URL) return config.API_PUBLIC_URL.replace(/\/+$/, '');
  const host = config.API_HOST === '0.0.0.0' || config.API_HOST === '::' ? '127.0.0.1' : config.API_HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.API_PORT}`;
}

export class WebhookDelivery implements Deliverer {
  constructor(private readonly deps: WebhookDeliveryDeps) {}

  async deliver(data: DeliverJobData): Promise<void> {
    if (data.origin.platform !== 'api') throw new UnrecoverableError('not an API delivery');
    const origin = data.origin;
    if (!origin.webhook) return;
    const body = JSON.stringify(await this.answer(data, origin));
    const secret = await this.secretFor(origin);
    const deliveryId = `${data.jobId}:${data.kind}`;

    await this.deps.once(`${data.jobId}:webhook-${data.kind}`, async () => {
      const now = Math.floor((this.deps.clock ?? Date.now)() / 1000);
      let status: number;
      try {
        const response = await safeFetch(origin.webhook!, {
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/json',
            'x-easel-signature': signWebhook(secret, body, now),
            [DELIVERY_HEADER]: deliveryId,
          },
          // Receivers answer with little; a redirect of a signed POST is not followed.
          maxBytes: 64 * 1024,
          maxRedirects: 0,
          timeoutMs: this.deps.timeoutMs ?? 10_000,
          allowPrivate: this.deps.config.API_ALLOW_PRIVATE_FETCH,
          ...this.deps.fetch,
        });
        status = response.status;
      } catch (error) {
        if (
          error instanceof SafeFetchError &&
          (error.code === 'blocked-address' || error.code === 'bad-url')
        ) {
          // The address was checked at request time; it now points somewhere private (DNS changed).
          throw new UnrecoverableError(`webhook refused: the URL ${error.message}`);
        }
        throw error;
      }
      if (status === 410) throw new UnrecoverableError('webhook receiver answered 410 Gone');
      if (status < 200 || status >= 300) throw new Error(`webhook receiver answered HTTP ${status}`);
      this.deps.logger.info({ jobId: data.jobId, kind: data.kind, status }, 'webhook delivered');
    });
  }

  private async answer(data: DeliverJobData, origin: ApiOrigin): Promise<Record<string, unknown>> {
    if (data.kind === 'result' && data.result) {
      return successAnswer(data.jobId, data, data.result, {
        baseUrl: publicBaseUrl(this.deps.config),
        artifacts: this.deps.artifacts,
        ...(this.deps.registry ? { registry: this.deps.registry } : {}),
      });
    }
    const failure = data.failure ?? { message: 'The render failed.', refunded: 0 };
    const answer = failedAnswer(
      data.jobId,
      { request: data.request, origin },
      failureMessage(failure.message),
    );
    return { ...answer, refunded: failure.refunded };
  }

  private async secretFor(origin: ApiOrigin): Promise<string> {
    const record = await this.deps.keys.get(origin.keyId);
    const secret = record?.webhookSecret ?? this.deps.config.WEBHOOK_SECRET;
    // Requests with a webhook are refused when no secret exists, so this only follows a config change.
    if (!secret) throw new UnrecoverableError('no webhook secret: set WEBHOOK_SECRET');
    return secret;
  }
}

/** The deliver role's factory for origin `api` (wired in src/app/role-starters.ts). */
export const createWebhookDeliverer: DelivererFactory = async ({ config, logger, services }) =>
  new WebhookDelivery({
    config,
    artifacts: services.artifacts,
    registry: services.registry,
    keys: new ApiKeyStore(services.redis, config.QUEUE_PREFIX),
    once: createOnce(services.redis, config.QUEUE_PREFIX),
    logger,
  });
