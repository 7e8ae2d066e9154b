import { describeValue, scalarText } from './number-values.ts';
import { emptyRawRequest, isAbsent, type RawRequest, type ValueField } from './raw-request.ts';

/**
 * The JSON field names of the hosted Stable Diffusion APIs (ModelsLab / stablediffusionapi.com and
 * the like), which easel's REST API accepts unchanged so existing clients work. Several names may
 * mean one field (`width` / `img_width`); numbers may arrive as text ("512"). Fields easel does not
 * use (`key`, `webhook`, `track_id`, `enhance_prompt`, ...) are the REST layer's business or ignored.
 * Images (`init_image`, `mask_image`) are fetched and stored by the REST layer, which then sets
 * `initImage` / `maskImage` on the result.
 */
const NAMES: [ValueField, string[]][] = [
  ['prompt', ['prompt']],
  ['negativePrompt', ['negative_prompt']],
  ['width', ['width', 'img_width']],
  ['height', ['height', 'img_height']],
  ['count', ['samples']],
  ['steps', ['num_inference_steps']],
  ['guidance', ['guidance_scale']],
  ['seed', ['seed']],
  ['sampler', ['scheduler']],
  ['model', ['model_id', 'model']],
  ['aspect', ['aspect_ratio']],
  ['strength', ['strength']],
  ['loras', ['lora_model']],
  ['loraStrength', ['lora_strength']],
  ['embeddings', ['embeddings_model']],
  ['clipSkip', ['clip_skip']],
];

/** Every body field name `fromHostedApiBody` reads. */
export const HOSTED_FIELD_NAMES: ReadonlySet<string> = new Set(NAMES.flatMap(([, names]) => names));

export function fromHostedApiBody(body: unknown): RawRequest {
  const raw = emptyRawRequest();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    raw.errors.push({
      field: 'body',
      message: `body: must be a JSON object such as {"prompt": "a lighthouse"} (got ${describeValue(body)})`,
    });
    return raw;
  }
  const fields = body as Record<string, unknown>;
  for (const [field, names] of NAMES) {
    const given = names.filter((name) => !isAbsent(fields[name]));
    const [first, ...others] = given;
    if (first === undefined) {
      // Tell the member "prompt: required" rather than "prompt: required" under another name.
      raw.labels[field] = names[0];
      continue;
    }
    const value = fields[first];
    // Lists and objects have no text to compare: two of them disagree unless they are the same value.
    const text = scalarText(value);
    const disagreeing = others.filter((name) => {
      const other = fields[name];
      const otherText = scalarText(other);
      return text === undefined || otherText === undefined ? other !== value : otherText !== text;
    });
    if (disagreeing.length > 0) {
      raw.errors.push({
        field: first,
        message: `${first}: conflicts with ${disagreeing.join(', ')} (${describeValue(value)} vs ${disagreeing
          .map((n) => describeValue(fields[n]))
          .join(', ')}); send one of them`,
      });
    }
    raw[field] = value;
    raw.labels[field] = first;
  }
  return raw;
}
