/** Internal failures with a stable code, for logs and for operators (never shown raw to members). */
export type ErrorCode =
  | 'config-invalid'
  | 'redis-unavailable'
  | 'model-missing'
  | 'model-invalid'
  | 'engine-failed'
  | 'image-invalid'
  | 'platform-error';

export class CodedError extends Error {
  override readonly name = 'CodedError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
