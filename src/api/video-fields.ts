import type { FieldError } from '../errors/user-error.ts';
import type { ApiOrigin } from '../queue/job-data.ts';
import { TEXT2VIDEO_DEFAULT_FRAMES } from '../request/limits.ts';
import { describeValue } from '../request/number-values.ts';
import { isAbsent, type RawField, type RawRequest } from '../request/raw-request.ts';

/** The clip fields of a text2video body, by the names the API uses for each request field. */
const VIDEO_FIELDS: [Extract<RawField, 'video' | 'fps' | 'duration' | 'loop' | 'motion' | 'to'>, string][] = [
  ['video', 'num_frames'],
  ['fps', 'fps'],
  ['duration', 'duration'],
  ['loop', 'loop'],
  ['motion', 'motion'],
  ['to', 'morph_to'],
];

const CLIP_FORMATS = ['mp4', 'gif', 'webp'] as const;

/**
 * Reads a text2video body's clip fields into `raw` (the shared validator checks them, naming the
 * API's fields), a clip of TEXT2VIDEO_DEFAULT_FRAMES frames when `num_frames` is absent, and the
 * `output_type` the answer links.
 */
export function readVideoFields(
  body: Record<string, unknown>,
  raw: RawRequest,
): { clipFormat?: ApiOrigin['clipFormat']; errors: FieldError[] } {
  for (const [field, name] of VIDEO_FIELDS) {
    raw.labels[field] = name;
    if (!isAbsent(body[name])) raw[field] = body[name];
  }
  if (isAbsent(raw.video)) raw.video = TEXT2VIDEO_DEFAULT_FRAMES;
  const type = body.output_type;
  if (isAbsent(type)) return { errors: [] };
  const format = typeof type === 'string' ? type.trim().toLowerCase() : undefined;
  if (format !== undefined && (CLIP_FORMATS as readonly string[]).includes(format)) {
    return { clipFormat: format as ApiOrigin['clipFormat'], errors: [] };
  }
  return {
    errors: [
      {
        field: 'output_type',
        message: `output_type: must be ${CLIP_FORMATS.join(', ')} (got ${describeValue(type)})`,
      },
    ],
  };
}
