import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Services } from '../app/services.ts';
import type { Config } from '../config/schema.ts';
import { CodedError } from '../errors/coded-error.ts';
import { isUserError } from '../errors/user-error.ts';
import { type Logger, roleLogger } from '../log/logger.ts';
import { ApiError, fromUserError, invalidKey } from './api-error.ts';
import { registerGenerationRoutes } from './generation-routes.ts';
import { registerImageRoutes } from './image-routes.ts';
import { registerJobRoutes } from './job-routes.ts';
import { presentedKey } from './key-auth.ts';
import type { ApiKeyRecord, ApiKeyStore } from './key-store.ts';
import { buildOpenApi, type RouteDoc } from './openapi.ts';
import type { SafeFetchOptions } from './safe-fetch.ts';

/**
 * The REST API: a Fastify server whose answers follow the hosted Stable Diffusion APIs. Every refusal
 * leaves the server as `{status: "error", ...}` with the HTTP code those APIs use, whatever raised it
 * (Fastify's body parser, schema validation, the shared validator, admission).
 */

export interface ApiServerDeps {
  config: Config;
  logger: Logger;
  services: Services;
  keys: ApiKeyStore;
  /** Test hooks for outbound fetches (fake DNS, treating a loopback test server as public). */
  fetch?: Pick<SafeFetchOptions, 'resolver' | 'addressAllowed'>;
  /** ms since epoch (tests move it past the image retention). */
  clock?: () => number;
}

/** What route modules receive: the dependencies plus helpers bound to this server. */
export interface RouteContext extends ApiServerDeps {
  app: FastifyInstance;
  /** Registers a route and its OpenAPI description together. */
  route(doc: RouteDoc, handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void;
  /** The base URL images and fetch links are built on. */
  baseUrl(request: FastifyRequest): string;
  now(): number;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKeyRecord;
  }
  interface FastifyContextConfig {
    auth?: boolean;
  }
}

const VERSION = '1.0.0';

export async function buildApiServer(deps: ApiServerDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const app = Fastify({
    loggerInstance: roleLogger(logger, 'api') as FastifyBaseLogger,
    // One log line per request would dominate the log at hundreds of requests a second.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.API_BODY_LIMIT_MB * 1024 * 1024,
    return503OnClosing: true,
    // Types in the schemas already allow numbers as text ("512"), as the hosted APIs' clients send;
    // every bad field is reported at once.
    ajv: {
      customOptions: { allErrors: true, coerceTypes: false, removeAdditional: false, allowUnionTypes: true },
    },
  });

  // JSON only: anything else is answered 415 (Fastify parses text/plain by default).
  app.removeContentTypeParser('text/plain');

  app.decorateRequest('apiKey', undefined);

  // Auth runs after the body is parsed (the key may be in it) and before anything else looks at it.
  app.addHook('preValidation', async (request) => {
    if (!request.routeOptions.config.auth) return;
    const key = presentedKey(request);
    const record = key ? await deps.keys.verify(key).catch(queueUnreachable) : undefined;
    if (!record) throw invalidKey();
    request.apiKey = record;
  });

  app.setErrorHandler((error, request, reply) => {
    const answer = toApiError(error);
    if (answer.statusCode >= 500) request.log.error({ err: error, url: request.url }, 'api request failed');
    return reply.code(answer.statusCode).headers(answer.headers).send(answer.body);
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      status: 'error',
      message: 'Not found',
      tips: `No route ${request.method} ${request.url.split('?')[0]}. GET /v1/openapi.json describes the API.`,
    }),
  );

  const docs: RouteDoc[] = [];
  const ctx: RouteContext = {
    ...deps,
    app,
    route(doc, handler) {
      docs.push(doc);
      const schema: Record<string, unknown> = {};
      if (doc.body) schema.body = doc.body;
      if (doc.params) schema.params = doc.params;
      app.route({
        method: doc.method,
        url: doc.url,
        schema,
        // Schema violations are merged with the shared validator's findings in the handler.
        attachValidation: doc.body !== undefined,
        config: { auth: doc.auth },
        handler,
      });
    },
    baseUrl(request) {
      if (config.API_PUBLIC_URL) return config.API_PUBLIC_URL.replace(/\/+$/, '');
      return `${request.protocol}://${request.host}`;
    },
    now: deps.clock ?? Date.now,
  };

  registerGenerationRoutes(ctx);
  registerJobRoutes(ctx);
  registerImageRoutes(ctx);

  let openApi: Record<string, unknown> | undefined;
  ctx.route(
    {
      method: 'GET',
      url: '/v1/openapi.json',
      summary: 'This document',
      auth: false,
      responses: { 200: { description: 'The OpenAPI 3.1 document.' } },
    },
    async () => {
      openApi ??= buildOpenApi(docs, {
        version: VERSION,
        ...(config.API_PUBLIC_URL ? { serverUrl: config.API_PUBLIC_URL } : {}),
      });
      return openApi;
    },
  );

  return app;
}

const QUEUE_UNREACHABLE_TIPS = 'The queue is unreachable right now; nothing was charged. Try again shortly.';

function queueUnreachable(cause: unknown): never {
  throw Object.assign(ApiError.of(503, 'Service unavailable', QUEUE_UNREACHABLE_TIPS), { cause });
}

/** ioredis errors that mean "Redis is not there" rather than a bug: the client gets a 503. */
function isRedisDown(error: unknown): boolean {
  const e = error as { name?: string; code?: string; message?: string } | undefined;
  if (!e) return false;
  return (
    e.name === 'MaxRetriesPerRequestError' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e.code ?? '') ||
    /enableOfflineQueue|Connection is closed|Stream isn't writeable/.test(e.message ?? '')
  );
}

/** Whatever was thrown, as the answer a client of the hosted APIs understands. */
function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isUserError(error)) return fromUserError(error);
  if ((error instanceof CodedError && error.code === 'redis-unavailable') || isRedisDown(error)) {
    return ApiError.of(503, 'Service unavailable', QUEUE_UNREACHABLE_TIPS);
  }
  const e = error as { code?: string; statusCode?: number; validation?: unknown; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return ApiError.of(413, 'Request body too large', 'Send images as URLs, or make them smaller.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return ApiError.of(
        415,
        'Unsupported content type',
        'Send the body as JSON with "Content-Type: application/json".',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return ApiError.of(
        400,
        'Empty JSON body',
        'Send a JSON object, or no Content-Type when there is no body.',
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return ApiError.of(400, 'Invalid Content-Length');
  }
  if (e.statusCode === 400 && e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return ApiError.of(400, 'The body is not valid JSON', e.message);
  }
  if (e.statusCode === 400 && error instanceof SyntaxError) {
    return ApiError.of(400, 'The body is not valid JSON', error.message);
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return ApiError.of(e.statusCode, e.message ?? 'Bad request');
  }
  return ApiError.of(500, 'Internal error', 'Something went wrong on our side; nothing was charged.');
}
