import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { ApiError } from './api-error.ts';
import { JsonBodyScanner, type ScanProblem } from './json-body-scanner.ts';
import type { LargeValues } from './large-body-values.ts';

/**
 * Reads a JSON request body off its stream with limits, instead of Fastify's parser (which buffers
 * the whole body, then runs a recursive `JSON.parse` over whatever arrived). Each chunk is scanned
 * as it arrives (json-body-scanner.ts); the first chunk past the byte limit, or past the depth or
 * complexity limits, ends the reading with an error at once, and Fastify then answers with
 * `Connection: close`, so the rest of the body is never read.
 *
 * A body whose key is in the body (the hosted APIs' `"key"` field) starts with the small
 * unauthenticated limit; as soon as the top-level `"key"` string has been read, `onKey` checks it
 * (reading pauses meanwhile) and a good key lifts the limit to the full one.
 *
 * No step costs the event loop more than a few milliseconds: strings over `JSON_MAX_STRING_BYTES`
 * are held aside (the image fields, see large-body-values.ts) or refused with 422 (any other field,
 * whose maximum is far lower anyway), so `JSON.parse` sees at most `JSON_MAX_PARSED_BYTES`.
 */

export const JSON_MAX_DEPTH = 64;
/**
 * Bytes allowed outside strings: easel's bodies are a few dozen short fields, their images are
 * strings. Every byte outside a string can be a value for `JSON.parse` to build (`[1,1,1,...`), and
 * 64 KB of them parse in about a millisecond.
 */
export const JSON_MAX_OUTSIDE_BYTES = 64 * 1024;
/** The longest string `JSON.parse` is given; every text field's maximum is far below it. */
export const JSON_MAX_STRING_BYTES = 64 * 1024;
/** What `JSON.parse` is given at most, held values aside: ~7 ms of parsing. */
export const JSON_MAX_PARSED_BYTES = 1024 * 1024;

export interface JsonBodyLimits {
  /** Bytes allowed, until `onKey` accepts a key. */
  maxBytes: number;
  /** Bytes allowed once `onKey` has accepted a key (no `onKey`: never). */
  maxBytesWithKey?: number;
  /** Checks the body's top-level `"key"` before the rest is read; rejects to refuse the request. */
  onKey?: (key: string) => Promise<void>;
  /** The answer when `maxBytes` is passed, beside the usual one. */
  tooLargeTips?: string;
  /** Top-level fields whose long strings are held aside (the route's images); none when absent. */
  largeValueFields?: ReadonlySet<string>;
  /** A field's `maxLength`, for the 422 that refuses a long string in it. */
  maxLengthOf?: (field: string) => number | undefined;
}

export interface JsonBody {
  body: unknown;
  /** The strings held aside, by top-level field (large-body-values.ts). */
  largeValues: LargeValues;
}

const TOO_LARGE_TIPS = 'Send images as URLs, or make them smaller.';

export function bodyTooLarge(tips = TOO_LARGE_TIPS): ApiError {
  return ApiError.of(413, 'Request body too large', tips);
}

const PROBLEMS: Record<Exclude<ScanProblem, 'too-long'>, () => ApiError> = {
  'too-deep': () =>
    ApiError.of(
      400,
      'The body is nested too deeply',
      `JSON bodies may nest at most ${JSON_MAX_DEPTH} levels.`,
    ),
  'too-complex': () =>
    ApiError.of(
      400,
      'The body has too many values',
      `At most ${JSON_MAX_OUTSIDE_BYTES / 1024} KB of a JSON body may lie outside its strings.`,
    ),
  'reserved-name': () =>
    ApiError.of(
      400,
      'The body uses a reserved field name',
      'Fields named __proto__ or constructor are refused.',
    ),
  'too-much-text': () =>
    ApiError.of(
      413,
      'Request body too large',
      `Apart from init_image, mask_image and url, a body may hold ${JSON_MAX_PARSED_BYTES / 1024} KB.`,
    ),
  'bad-string': () =>
    ApiError.of(
      400,
      'The body is not valid JSON',
      'An image field holds a control character or an unknown escape; JSON strings escape them.',
    ),
};

/** A 422 in the API's validation shape, naming the field; its own `maxLength` wording when it has one. */
function tooLong(field: string | undefined, limits: JsonBodyLimits): ApiError {
  const name = field ?? 'body';
  const max = field === undefined ? undefined : limits.maxLengthOf?.(field);
  const images = [...(limits.largeValueFields ?? [])];
  const message =
    max !== undefined
      ? `The ${name} field must be at most ${max} characters.`
      : `The ${name} field is too long: strings over ${JSON_MAX_STRING_BYTES / 1024} KB are refused` +
        (images.length > 0 ? ` outside ${images.join(', ')}.` : '.');
  return ApiError.validation([{ field: name, message }]);
}

export function readJsonBody(
  stream: Readable,
  headers: IncomingHttpHeaders,
  limits: JsonBodyLimits,
): Promise<JsonBody> {
  const declared = Number(headers['content-length']);
  const ceiling = Math.max(limits.maxBytes, limits.onKey ? (limits.maxBytesWithKey ?? 0) : 0);
  if (declared > ceiling) return Promise.reject(bodyTooLarge());

  return new Promise((resolve, reject) => {
    const scanner = new JsonBodyScanner({
      maxDepth: JSON_MAX_DEPTH,
      maxOutsideBytes: JSON_MAX_OUTSIDE_BYTES,
      maxStringBytes: JSON_MAX_STRING_BYTES,
      largeValueFields: limits.largeValueFields ?? new Set(),
      maxParsedBytes: JSON_MAX_PARSED_BYTES,
    });
    let received = 0;
    let limit = limits.maxBytes;
    let settled = false;

    const stop = (error: unknown) => {
      if (settled) return;
      settled = true;
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      // Left flowing with no listener, the rest is discarded until the connection closes.
      stream.resume();
      reject(error);
    };

    // The key check runs while the stream is paused; `end` may still come meanwhile (the key was in
    // the last chunk), and then waits for it.
    let keyCheck: Promise<void> | undefined;

    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      const problem = scanner.write(bytes);
      if (problem === 'too-long') return stop(tooLong(scanner.tooLongField, limits));
      if (problem) return stop(PROBLEMS[problem]());
      if (!keyCheck && scanner.key !== undefined && limits.onKey) {
        stream.pause();
        keyCheck = limits.onKey(scanner.key).then(
          () => {
            if (settled) return;
            limit = limits.maxBytesWithKey ?? limit;
            if (received > limit) return stop(bodyTooLarge());
            stream.resume();
          },
          (error: unknown) => stop(error),
        );
        return;
      }
      if (received > limit) return stop(bodyTooLarge(limit < ceiling ? limits.tooLargeTips : undefined));
    };

    const finish = () => {
      if (settled) return;
      settled = true;
      stream.removeListener('data', onData);
      stream.removeListener('error', onError);
      if (!Number.isNaN(declared) && declared !== received) {
        return reject(ApiError.of(400, 'Invalid Content-Length'));
      }
      let text = scanner.parsedText();
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') {
        return reject(
          ApiError.of(
            400,
            'Empty JSON body',
            'Send a JSON object, or no Content-Type when there is no body.',
          ),
        );
      }
      try {
        resolve({ body: JSON.parse(text), largeValues: scanner.largeValues });
      } catch (error) {
        reject(ApiError.of(400, 'The body is not valid JSON', (error as Error).message));
      }
    };

    const onEnd = () => {
      stream.removeListener('end', onEnd);
      if (keyCheck) keyCheck.then(finish);
      else finish();
    };

    // The client went away or sent a broken chunked body; its error codes (ECONNRESET) must not read
    // as Redis being down.
    const onError = (error: unknown) =>
      stop(Object.assign(ApiError.of(400, 'The body could not be read'), { cause: error }));

    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
