import type { RenderedError } from '../operations/face.ts';

/** A face's refusal with status, body and headers all set: what its `renderError` answers. */
export type FaceError = Required<RenderedError> & { body: Record<string, unknown> };
