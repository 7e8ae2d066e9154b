/**
 * Refusals a user should read (bad input, out of credits, on cooldown). They are values with an
 * identifier and context; each frontend renders them (ephemeral message, Slack ephemeral, HTTP 4xx).
 * Internal failures are `CodedError`s instead.
 */
export type UserErrorIdentifier =
  | 'invalid-request'
  | 'rate-limited'
  | 'cooldown'
  | 'suspended'
  | 'pending-cap'
  | 'scope-budget'
  | 'insufficient-credits'
  | 'banned-word'
  | 'not-admin'
  | 'model-not-found'
  | 'not-found'
  | 'forbidden'
  | 'unavailable';

/** One bad field of a request: the REST API shows these as `{field: [message]}`, chat frontends as lines. */
export interface FieldError {
  field: string;
  message: string;
}

export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly identifier: UserErrorIdentifier,
    message: string,
    readonly context: {
      fields?: FieldError[];
      retryAfter?: number;
      [key: string]: unknown;
    } = {},
  ) {
    super(message);
  }

  static invalid(fields: FieldError[]): UserError {
    const message = fields.map((f) => f.message).join('\n');
    return new UserError('invalid-request', message, { fields });
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
