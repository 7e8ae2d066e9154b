import sharp from 'sharp';
import { UserError } from '../errors/user-error.ts';
import { SafeFetchError, type SafeFetchOptions, safeFetch } from './safe-fetch.ts';

/**
 * `init_image` and `mask_image` arrive as a public URL, a data URI or bare base64 (the hosted APIs
 * accept all three). Whatever arrives must decode as an image; it is re-encoded as PNG so the worker
 * never sees the client's bytes (no polyglot files, no EXIF surprises, orientation applied).
 */

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
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

function invalid(field: string, message: string): UserError {
  return UserError.invalid([{ field, message: `The ${field} ${message}` }]);
}

async function bytesOf(field: string, value: string, options: ImageInputOptions): Promise<Buffer> {
  const trimmed = value.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      const response = await safeFetch(trimmed, {
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
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw invalid(field, 'must be an http(s) URL or a base64-encoded image.');
  }
  let encoded = trimmed;
  const dataUri = /^data:([^;,]*)(;base64)?,/i.exec(trimmed);
  if (dataUri) {
    if (!dataUri[2]) throw invalid(field, 'data URI must be base64-encoded.');
    encoded = trimmed.slice(dataUri[0].length);
  }
  encoded = encoded.replace(/\s+/g, '');
  if (encoded.length === 0 || !BASE64.test(encoded)) {
    throw invalid(field, 'must be an http(s) URL or a base64-encoded image.');
  }
  if ((encoded.length * 3) / 4 > options.maxBytes) {
    throw invalid(field, `is larger than ${Math.round(options.maxBytes / (1024 * 1024))} MB.`);
  }
  return Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
}

/** Reads one image field; throws a 422-shaped `UserError` naming the field when it is not an image. */
export async function readImageInput(
  field: string,
  value: string,
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
