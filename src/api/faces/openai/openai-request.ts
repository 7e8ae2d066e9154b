import type { FieldError } from '../../../errors/user-error.ts';
import { describeValue, scalarText } from '../../../request/number-values.ts';
import { emptyRawRequest, isAbsent, type RawRequest } from '../../../request/raw-request.ts';
import type { GenerationMode } from '../../../request/types.ts';

/**
 * OpenAI's Images API bodies read into easel's raw request: `prompt`, `n`, `size` ("1024x1024" or
 * "auto"), `model`, `response_format`. OpenAI's own model names (dall-e-2, dall-e-3, gpt-image-1...)
 * mean "the server's default model", so a client that hard-codes one works unchanged; any other name
 * is an easel model id. `quality`, `style`, `user`, `background` and `moderation` steer nothing in
 * easel and are accepted when they hold one of OpenAI's values. Multipart bodies (edits,
 * variations) arrive as text fields: the validator reads "2" as 2.
 */

export type ResponseFormat = 'url' | 'b64_json';

export interface OpenAiGeneration {
  raw: RawRequest;
  responseFormat: ResponseFormat;
}

type Body = Record<string, unknown>;

const RESPONSE_FORMATS = ['url', 'b64_json'];
const QUALITIES = ['standard', 'hd', 'auto', 'low', 'medium', 'high'];
const STYLES = ['vivid', 'natural'];
const BACKGROUNDS = ['auto', 'opaque', 'transparent'];
const MODERATIONS = ['auto', 'low'];

/** OpenAI's image models: a client naming one gets the server's default model. */
export function isOpenAiModel(name: string): boolean {
  return /^(dall-e-\d|gpt-image-)/i.test(name.trim());
}

/** OpenAI's wording for a value outside an enum: "'x' is not one of ['a', 'b'] - 'field'". */
function notOneOf(field: string, value: unknown, allowed: string[]): FieldError {
  const shown = typeof value === 'string' ? `'${value}'` : describeValue(value);
  return {
    field,
    message: `${shown} is not one of [${allowed.map((a) => `'${a}'`).join(', ')}] - '${field}'`,
  };
}

function checkEnum(body: Body, field: string, allowed: string[], errors: FieldError[]): void {
  const value = body[field];
  if (isAbsent(value)) return;
  const text = scalarText(value)?.toLowerCase();
  if (text === undefined || !allowed.includes(text)) errors.push(notOneOf(field, value, allowed));
}

function readSize(body: Body, raw: RawRequest): void {
  raw.labels.width = 'size';
  raw.labels.height = 'size';
  const size = body.size;
  if (isAbsent(size) || (typeof size === 'string' && size.trim().toLowerCase() === 'auto')) return;
  const match = typeof size === 'string' ? /^\s*(\d+)\s*[xX×]\s*(\d+)\s*$/.exec(size) : null;
  if (!match) {
    raw.errors.push({
      field: 'size',
      message: `size: must be WIDTHxHEIGHT such as 1024x1024, or auto (got ${describeValue(size)})`,
    });
    return;
  }
  raw.width = match[1];
  raw.height = match[2];
}

export function fromOpenAiBody(body: unknown, mode: GenerationMode): OpenAiGeneration {
  const raw = emptyRawRequest();
  const generation: OpenAiGeneration = { raw, responseFormat: 'url' };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    raw.errors.push({ field: 'body', message: `body: must be a JSON object (got ${describeValue(body)})` });
    return generation;
  }
  const fields = body as Body;
  raw.mode = mode;
  raw.labels.prompt = 'prompt';
  if (!isAbsent(fields.prompt)) raw.prompt = fields.prompt;
  raw.labels.count = 'n';
  if (!isAbsent(fields.n)) raw.count = fields.n;
  raw.labels.model = 'model';
  if (typeof fields.model === 'string' && !isAbsent(fields.model) && !isOpenAiModel(fields.model)) {
    raw.model = fields.model;
  } else if (!isAbsent(fields.model) && typeof fields.model !== 'string') {
    raw.model = fields.model;
  }
  readSize(fields, raw);
  raw.labels.initImage = 'image';
  raw.labels.maskImage = 'mask';

  checkEnum(fields, 'response_format', RESPONSE_FORMATS, raw.errors);
  checkEnum(fields, 'quality', QUALITIES, raw.errors);
  checkEnum(fields, 'style', STYLES, raw.errors);
  checkEnum(fields, 'background', BACKGROUNDS, raw.errors);
  checkEnum(fields, 'moderation', MODERATIONS, raw.errors);
  checkEnum(fields, 'output_format', ['png'], raw.errors);
  if (typeof fields.response_format === 'string' && fields.response_format.trim() === 'b64_json') {
    generation.responseFormat = 'b64_json';
  }
  return generation;
}

/** OpenAI's `ImagesResponse`: `created` in Unix seconds, one `data` entry per image. */
export function openAiAnswer(
  createdMs: number,
  images: ({ url: string } | { b64_json: string })[],
  revisedPrompt: string,
  size: { width: number; height: number },
): Record<string, unknown> {
  return {
    created: Math.floor(createdMs / 1000),
    data: images.map((image) => ({ ...image, revised_prompt: revisedPrompt })),
    output_format: 'png',
    size: `${size.width}x${size.height}`,
  };
}
