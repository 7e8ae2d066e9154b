import { STATUS_CODES } from 'node:http';
import { ApiError } from './api-error.ts';
import type { RouteDoc } from './openapi.ts';

/**
 * Answers for what Fastify and Node refuse before a route runs (a malformed URL, a path parameter
 * over Fastify's `maxParamLength`, headers over Node's 16 KB, a method a path does not take), in the
 * API's `{status: "error", message, tips}` shape instead of Fastify's `{error, message, statusCode}`.
 */

/** Fastify's `frameworkErrors`: FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH, FST_ERR_ASYNC_CONSTRAINT. */
export function frameworkError(error: { code?: string }): ApiError {
  switch (error.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return ApiError.of(414, 'URI too long', 'A path segment such as a job id is at most 100 characters.');
    case 'FST_ERR_BAD_URL':
      return ApiError.of(400, 'Bad URL', 'The path is not a valid URL (check its %-escapes).');
    default:
      return ApiError.of(500, 'Internal error', 'Something went wrong on our side; nothing was charged.');
  }
}

/**
 * The raw HTTP answer to a Node `clientError`, written straight to the socket (there is no request
 * object yet). A header overflow whose request line takes most of the 16 KB is a URL too long.
 */
const URL_MOSTLY = 8 * 1024;

export function clientErrorAnswer(error: { code?: string; rawPacket?: unknown }): string {
  let answer: ApiError;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    answer = ApiError.of(408, 'Request timeout', 'The request took too long to arrive.');
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket : undefined;
    answer =
      packet && !(packet.indexOf('\r\n') >= 0 && packet.indexOf('\r\n') < URL_MOSTLY)
        ? ApiError.of(414, 'URI too long', 'The URL and headers together may be at most 16 KB.')
        : ApiError.of(431, 'Request headers too large', 'The URL and headers together may be at most 16 KB.');
  } else {
    answer = ApiError.of(400, 'Bad request', 'The request is not valid HTTP.');
  }
  const body = JSON.stringify(answer.body);
  return (
    `HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode]}\r\n` +
    `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
}

/** The methods `path` answers to, when it names a route that takes other methods; else undefined. */
export function methodNotAllowed(
  routes: Pick<RouteDoc, 'method' | 'url'>[],
  path: string,
): string[] | undefined {
  const methods = new Set<string>();
  for (const route of routes) {
    if (routePattern(route.url).test(path)) {
      methods.add(route.method);
      if (route.method === 'GET') methods.add('HEAD');
    }
  }
  return methods.size > 0 ? [...methods] : undefined;
}

function routePattern(url: string): RegExp {
  const escaped = url.split(/:\w+/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('[^/]+')}/?$`);
}
