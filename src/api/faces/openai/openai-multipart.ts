import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../api-error.ts';

/**
 * OpenAI's edits and variations arrive as multipart/form-data: text fields and the `image` and
 * `mask` files (the `openai` client names a list of images `image[]`; easel takes one). Read in the
 * handler, so the key in the headers has been checked before the first byte of an upload is read
 * (a request without one is refused before its body is read), and bounded: a file over the body
 * limit, too many parts, or a field over 64 KB ends the reading at once.
 */

export interface MultipartBody {
  fields: Record<string, string>;
  files: Record<string, Buffer>;
}

export const MULTIPART_LIMITS = { files: 2, fields: 32, parts: 40, fieldSize: 64 * 1024 };

const FILE_FIELDS = new Set(['image', 'image[]', 'mask']);

export async function readMultipart(request: FastifyRequest, maxFileBytes: number): Promise<MultipartBody> {
  if (!request.isMultipart()) {
    throw ApiError.of(
      415,
      'Unsupported content type',
      'Send the image as multipart/form-data, as OpenAI’s edits and variations take it.',
    );
  }
  const body: MultipartBody = { fields: {}, files: {} };
  for await (const part of request.parts({ limits: { ...MULTIPART_LIMITS, fileSize: maxFileBytes } })) {
    if (part.type === 'file') {
      const name = part.fieldname === 'image[]' ? 'image' : part.fieldname;
      if (!FILE_FIELDS.has(part.fieldname)) {
        // Drain it: the next part is only reached once this one has been read.
        await part.toBuffer();
        continue;
      }
      if (body.files[name]) {
        throw ApiError.validation([{ field: name, message: `${name}: easel takes one ${name} file` }]);
      }
      body.files[name] = await part.toBuffer();
    } else if (typeof part.value === 'string') {
      body.fields[part.fieldname] = part.value;
    }
  }
  return body;
}
