import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
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
import { registerRegionEditorRoutes } from '../region-editor/region-routes.ts';
import { ApiError, fromUserError, invalidKey, problemOf } from './api-error.ts';
import { AuthFailureLimiter } from './auth-failure-limiter.ts';
import { FACES } from './faces/all-faces.ts';
import { easelFace } from './faces/easel.ts';
import { clientErrorAnswer, frameworkError, methodNotAllowed } from './framework-errors.ts';
import { IdempotencyRecords } from './idempotency-key.ts';
import { registerImageRoutes } from './image-routes.ts';
import { type JsonBodyLimits, readJsonBody } from './json-body-reader.ts';
import { bodyKey, headerKey } from './key-auth.ts';
import { KeyRateLimiter } from './key-rate.ts';
import type { ApiKeyRecord, ApiKeyStore } from './key-store.ts';
import type { LargeValues } from './large-body-values.ts';
import { buildOpenApi, type RouteDoc } from './openapi.ts';
import type { Face, FaceContext } from './operations/face.ts';
import { publicBaseUrl } from './public-base-url.ts';
import { IMAGE_FIELDS } from './route-schemas.ts';
import type { SafeFetchOptions } from './safe-fetch.ts';

/**
 * The REST API: a Fastify server carrying easel's own /v1 and the compatible faces (faces/all-faces.ts),
 * each a thin mapping onto the shared operations (operations/). Every refusal, whatever raised it
 * (the key check, Fastify's body parser, schema validation, the shared validator, admission), leaves
 * the server in the shape of the face whose route it was, with the HTTP code that API uses.
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
  /** The base URL images and fetch links are built on (configuration only, never request headers). */
  baseUrl(): string;
  /** Which body each Idempotency-Key was admitted with. */
  idempotency: IdempotencyRecords;
  /** Each key's own rate limit (`keys create --rate`). */
  keyRates: KeyRateLimiter;
  now(): number;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKeyRecord;
    /** The body's long image strings, held aside by the body reader (large-body-values.ts). */
    largeValues?: LargeValues;
  }
  interface FastifyContextConfig {
    auth?: boolean;
    /** The face the route belongs to: its errors are answered in that face's shape. */
    face?: Face;
  }
}

const VERSION = '1.0.0';

export async function buildApiServer(deps: ApiServerDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const bodyLimit = config.API_BODY_LIMIT_MB * 1024 * 1024;
  const unauthenticatedBodyLimit = Math.min(bodyLimit, config.API_UNAUTHENTICATED_BODY_LIMIT_KB * 1024);
  let closing = false;
  const app = Fastify({
    loggerInstance: roleLogger(logger, 'api') as FastifyBaseLogger,
    // One log line per request would dominate the log at hundreds of requests a second.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    // Fastify's own 503 while closing has Fastify's body shape; the onRequest hook answers instead.
    return503OnClosing: false,
    // Fastify takes a hop count too (proxy-addr does), though its types leave numbers out.
    trustProxy: trustProxyOption(config.API_TRUST_PROXY) as boolean | string,
    // Bad URLs and over-long path parameters (414) bypass the error handler; answer them the same way.
    frameworkErrors: (error, _request, reply) => {
      const answer = frameworkError(error);
      // The reply's types are generic over the route's schema; this one is sent before any route.
      (reply as FastifyReply).code(answer.statusCode).headers(answer.headers).send(answer.body);
    },
    // Errors before a request exists (431 headers too large, 414 request line too long, 400, 408).
    clientErrorHandler: (error: Error, socket: Socket) => {
      if ((error as { code?: string }).code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorAnswer(error as Error & { code?: string }));
      socket.destroy(error);
    },
    // Types in the schemas already allow numbers as text ("512"), as the hosted APIs' clients send;
    // every bad field is reported at once.
    ajv: {
      customOptions: { allErrors: true, coerceTypes: false, removeAdditional: false, allowUnionTypes: true },
    },
  });

  // JSON only: anything else is answered 415 (Fastify parses text/plain by default).
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');

  app.decorateRequest('apiKey', undefined);
  app.decorateRequest('largeValues', undefined);

  const failures = new AuthFailureLimiter({
    redis: deps.services.redis,
    prefix: deps.services.prefix,
    perMinute: config.API_AUTH_FAILURES_PER_MINUTE,
  });
  /** The 401 for a missing or wrong key, counted against the client's address. */
  const refuse = async (request: FastifyRequest): Promise<ApiError> => {
    await failures
      .recordFailure(request.ip)
      .catch((err: unknown) => request.log.warn({ err }, 'could not count a failed authentication'));
    return invalidKey();
  };
  const verify = async (request: FastifyRequest, key: string | undefined): Promise<void> => {
    const record = key ? await deps.keys.verify(key).catch(queueUnreachable) : undefined;
    if (!record) throw await refuse(request);
    request.apiKey = record;
  };

  app.addHook('preClose', async () => {
    closing = true;
  });

  // A key in a header is checked before the body is read: a wrong one costs one Redis lookup, not a
  // 20 MB upload and its parse. An address with too many failures is refused before even that.
  app.addHook('onRequest', async (request) => {
    // Some clients send JSON without saying so (aithriving's own example sets no Content-Type).
    if (request.headers['content-type'] === undefined && hasBody(request)) {
      request.headers['content-type'] = 'application/json';
    }
    if (closing) throw ApiError.of(503, 'Service unavailable', 'This server is shutting down; try again.');
    if (!request.routeOptions.config.auth) return;
    const wait = await failures.retryAfter(request.ip).catch(queueUnreachable);
    if (wait !== undefined) {
      throw ApiError.rateLimited(
        wait,
        'Too many requests with a missing or wrong API key from this address; wait, then send a valid key.',
      );
    }
    const header = headerKey(request.headers);
    if (header.present) await verify(request, header.key);
  });

  const bodyLimits = (request: FastifyRequest): JsonBodyLimits => {
    const fields = bodyFields(request);
    const strings: Pick<JsonBodyLimits, 'largeValueFields' | 'maxLengthOf'> = {
      // Only a route that takes an image holds one aside; elsewhere a 20 MB `init_image` is refused.
      largeValueFields: new Set(IMAGE_FIELDS.filter((name) => fields[name] !== undefined)),
      maxLengthOf: (name) => {
        const max = fields[name]?.maxLength;
        return typeof max === 'number' ? max : undefined;
      },
    };
    if (request.apiKey || !request.routeOptions.config?.auth) {
      return { maxBytes: request.apiKey ? bodyLimit : unauthenticatedBodyLimit, ...strings };
    }
    return {
      ...strings,
      maxBytes: unauthenticatedBodyLimit,
      maxBytesWithKey: bodyLimit,
      tooLargeTips:
        `Until its key is checked, a request may send ${config.API_UNAUTHENTICATED_BODY_LIMIT_KB} KB. ` +
        'Send the key in a header (Authorization: Bearer <key>), or as the first field of the body.',
      onKey: (key) => verify(request, key),
    };
  };
  app.addContentTypeParser('application/json', async (request: FastifyRequest, payload: Readable) => {
    const { body, largeValues } = await readJsonBody(payload, request.headers, bodyLimits(request));
    request.largeValues = largeValues;
    return withoutNulls(body);
  });

  // A key in the body has been checked while the body was read; this catches bodies without one.
  app.addHook('preValidation', async (request) => {
    if (!request.routeOptions.config.auth || request.apiKey) return;
    await verify(request, bodyKey(request));
  });

  app.setErrorHandler((error, request, reply) => {
    const answer = toApiError(error);
    if (answer.statusCode >= 500) request.log.error({ err: error, url: request.url }, 'api request failed');
    // Refused before its body was read: closing the connection is what stops the upload.
    if (!request.raw.complete) reply.header('connection', 'close');
    const face = request.routeOptions.config?.face ?? easelFace;
    const rendered = face.renderError(problemOf(answer), answer);
    return reply
      .code(rendered.statusCode ?? answer.statusCode)
      .headers({ ...answer.headers, ...rendered.headers })
      .send(rendered.body);
  });

  const docs: RouteDoc[] = [];

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = methodNotAllowed(docs, path);
    if (allowed)
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send(ApiError.of(405, 'Method not allowed', `${path} answers ${allowed.join(', ')}.`).body);
    return reply.code(404).send({
      status: 'error',
      message: 'Not found',
      tips: `No route ${request.method} ${path}. GET /v1/openapi.json describes the API.`,
    });
  });

  const addRoute = (
    face: Face,
    doc: RouteDoc,
    handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  ) => {
    docs.push({ ...doc, tag: doc.tag ?? face.title });
    const schema: Record<string, unknown> = {};
    if (doc.body) schema.body = doc.body;
    if (doc.params) schema.params = doc.params;
    app.route({
      method: doc.method,
      url: doc.url,
      schema,
      // Schema violations are merged with the shared validator's findings in the handler.
      attachValidation: doc.body !== undefined,
      config: { auth: doc.auth, face },
      handler,
    });
  };

  const ctx: RouteContext = {
    ...deps,
    app,
    route: (doc, handler) => addRoute(easelFace, doc, handler),
    baseUrl: () => publicBaseUrl(config, app.server.address()),
    idempotency: new IdempotencyRecords(deps.services.redis, deps.services.prefix),
    keyRates: new KeyRateLimiter(deps.services.redis, deps.services.prefix),
    now: deps.clock ?? Date.now,
  };

  for (const face of FACES) {
    const faceContext: FaceContext = { ...ctx, face, route: (doc, handler) => addRoute(face, doc, handler) };
    face.register(faceContext);
  }
  registerImageRoutes(ctx);
  registerRegionEditorRoutes(ctx);

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

/** Whether the request carries a body (a length above 0, or a chunked one). */
function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A top-level `null` means "not given", as the hosted APIs' own example bodies use it. */
function withoutNulls(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const fields = body as Record<string, unknown>;
  if (!Object.values(fields).includes(null)) return fields;
  // A new object rather than `delete`, which would leave V8 a slower dictionary-mode object.
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== null));
}

/** The route's body schema properties, by name (none for a route without a body schema). */
function bodyFields(request: FastifyRequest): Record<string, { maxLength?: unknown } | undefined> {
  const schema = request.routeOptions.schema?.body as {
    properties?: Record<string, { maxLength?: unknown }>;
  };
  return schema?.properties ?? {};
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

/** API_TRUST_PROXY as Fastify's `trustProxy`: off, on, a hop count, or addresses and CIDRs. */
function trustProxyOption(value: string): boolean | number | string {
  const text = value.trim();
  if (text === '' || text === 'false') return false;
  if (text === 'true') return true;
  if (/^\d+$/.test(text)) return Number(text);
  return text;
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
