import { PROMPT_MAX_CHARS } from '../../../request/limits.ts';
import { TEXT_MAX_CHARS } from '../../text-limits.ts';

/**
 * The OpenAI face's bodies and answers as JSON schemas (validation and the OpenAPI document). Types
 * are loose where OpenAI's clients differ (`n` as a number or, in forms, text); the values are checked
 * by the face (enums) and the shared validator (ranges), which word the messages.
 */

type Schema = Record<string, unknown>;

const text = (description: string, maxLength: number = TEXT_MAX_CHARS.model): Schema => ({
  type: 'string',
  maxLength,
  description,
});

const fields: Record<string, Schema> = {
  prompt: text('What to draw.', PROMPT_MAX_CHARS),
  model: text('dall-e-2, dall-e-3, gpt-image-1... (the server’s default model) or an easel model id.'),
  n: { type: ['integer', 'string'], maxLength: TEXT_MAX_CHARS.number, description: 'Images, 1-10.' },
  size: text('WIDTHxHEIGHT (1024x1024, 512x768...) or auto (the model size).', TEXT_MAX_CHARS.aspectRatio),
  response_format: text('url (default; kept IMAGE_RETENTION_HOURS) or b64_json.', 16),
  quality: text('Accepted: standard, hd, auto, low, medium, high.', 16),
  style: text('Accepted: vivid, natural.', 16),
  user: text('Accepted and ignored.', 256),
};

export const generationsBody: Schema = {
  type: 'object',
  required: ['prompt'],
  properties: fields,
};

const file = (description: string): Schema => ({ type: 'string', format: 'binary', description });

export const editsForm: Schema = {
  type: 'object',
  required: ['image', 'prompt'],
  properties: {
    image: file('The image to edit (PNG, JPEG, WebP).'),
    mask: file('A PNG whose fully transparent pixels mark the part to repaint, the size of image.'),
    ...fields,
  },
};

export const variationsForm: Schema = {
  type: 'object',
  required: ['image'],
  properties: {
    image: file('The image to vary.'),
    model: fields.model,
    n: fields.n,
    size: fields.size,
    response_format: fields.response_format,
    user: fields.user,
  },
};

export const imagesAnswer: Schema = {
  type: 'object',
  required: ['created', 'data'],
  properties: {
    created: { type: 'integer', description: 'Unix seconds.' },
    data: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          url: { type: 'string' },
          b64_json: { type: 'string' },
          revised_prompt: { type: 'string' },
        },
      },
    },
    output_format: { const: 'png' },
    size: { type: 'string' },
  },
};

export const errorAnswer: Schema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        message: { type: 'string' },
        type: { type: 'string' },
        param: { type: ['string', 'null'] },
        code: { type: ['string', 'null'] },
      },
    },
  },
};
