import sharp from 'sharp';
import { UserError } from '../errors/user-error.ts';
import type { LargeValue } from './large-body-values.ts';
import { SafeFetchError, type SafeFetchOptions, safeFetch } from './safe-fetch.ts';
import { decodeBase64Slices } from './sliced-base64-decoder.ts';

/**
 * `init_image` and `mask_image` arrive as a public URL, a data URI or bare base64 (the hosted APIs
 * accept all three). Whatever arrives must decode as an image; it is re-encoded as PNG so the worker
 * never sees the client's bytes (no polyglot files, no EXIF surprises, orientation applied).
 *
 * A value comes either as a string or, when the body reader held a long one aside, as its bytes
 * (large-body-values.ts); either way base64 is decoded in ~1 MB slices that yield to the event loop,
 * and a large value is never made into one string.
 */

/** A short value from the parsed body, or the bytes of a long one held aside. */
export type ImageValue = string | LargeValue;

export interface ImageInputOptions {
  fetch: SafeFetchOptions;
  /** Largest encoded image accepted (downloaded or decoded from base64). */
  maxBytes: number;
  /** Largest decoded image accepted (guards against decompression bombs). */
  maxPixels: number;
}

export interface DecodedImage {
  png: Buffer;
  width: number;
  height: number;
}

const ACCEPTED_FORMATS = new Set(['png', 'jpeg', 'jpg', 'webp', 'gif', 'heif', 'avif']);

function invalid(field: string, message: string): UserError {
  return UserError.invalid([{ field, message: `The ${field} ${message}` }]);
}

/** Bytes enough to hold a data URI's header (`data:image/png;base64,`) or a URL's scheme. */
const HEAD_BYTES = 1024;

async function bytesOf(field: string, value: ImageValue, options: ImageInputOptions): Promise<Buffer> {
  const chunks = typeof value === 'string' ? [Buffer.from(value)] : value.chunks;
  const head = headOf(chunks);
  const start = head.length - head.trimStart().length;
  const text = head.slice(start);
  if (/^https?:\/\//i.test(text)) {
    if (typeof value !== 'string') throw invalid(field, 'URL is too long.');
    return fetchImage(field, value.trim(), options);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw invalid(field, 'must be an http(s) URL or a base64-encoded image.');
  }
  let skip = start;
  const dataUri = /^data:([^;,]*)(;base64)?,/i.exec(text);
  if (dataUri) {
    if (!dataUri[2]) throw invalid(field, 'data URI must be base64-encoded.');
    skip += dataUri[0].length;
  }
  const decoded = await decodeBase64Slices(chunks, { skip, maxBytes: options.maxBytes });
  if (decoded.ok) return decoded.bytes;
  if (decoded.problem === 'too-large') {
    throw invalid(field, `is larger than ${Math.round(options.maxBytes / (1024 * 1024))} MB.`);
  }
  throw invalid(field, 'must be an http(s) URL or a base64-encoded image.');
}

/** The value's first bytes as text, one character a byte (the header is ASCII when it is one). */
function headOf(chunks: readonly Buffer[]): string {
  let head = '';
  for (const chunk of chunks) {
    head += chunk.toString('latin1', 0, HEAD_BYTES - head.length);
    if (head.length >= HEAD_BYTES) break;
  }
  return head;
}

async function fetchImage(field: string, url: string, options: ImageInputOptions): Promise<Buffer> {
  try {
    const response = await safeFetch(url, {
      ...options.fetch,
      maxBytes: options.maxBytes,
      headers: { accept: 'image/*' },
    });
    if (response.status !== 200) {
      throw invalid(field, `could not be fetched: the server answered HTTP ${response.status}.`);
    }
    return response.body;
  } catch (error) {
    if (error instanceof SafeFetchError) throw invalid(field, `URL ${error.message}.`);
    throw error;
  }
}

/** Reads one image field; throws a 422-shaped `UserError` naming the field when it is not an image. */
export async function readImageInput(
  field: string,
  value: ImageValue,
  options: ImageInputOptions,
): Promise<DecodedImage> {
  const bytes = await bytesOf(field, value, options);
  // Reads the header only, so the pixel count is known before anything is decoded.
  const header = await sharp(bytes, { limitInputPixels: false })
    .metadata()
    .catch(() => {
      throw invalid(field, 'is not an image (expected PNG, JPEG, WebP, GIF or AVIF).');
    });
  if (!header.format || !ACCEPTED_FORMATS.has(header.format)) {
    throw invalid(field, `is a ${header.format ?? 'unknown'} file; expected PNG, JPEG, WebP, GIF or AVIF.`);
  }
  if ((header.width ?? 0) * (header.height ?? 0) > options.maxPixels) {
    throw invalid(field, `has too many pixels (at most ${options.maxPixels}).`);
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: options.maxPixels, failOn: 'error' })
      .rotate()
      .png()
      .toBuffer({ resolveWithObject: true });
    return { png: data, width: info.width, height: info.height };
  } catch (error) {
    if (/pixel limit/i.test((error as Error).message)) {
      throw invalid(field, `has too many pixels (at most ${options.maxPixels}).`);
    }
    throw invalid(field, 'could not be decoded as an image (the file is damaged or truncated).');
  }
}
