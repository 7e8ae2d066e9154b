import { IDENTIFIER_OF, type Refusal } from '../refusals/refusal.ts';
import { refusalText } from '../refusals/refusal-text.ts';

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

/**
 * One bad field of a request: the REST API shows these as `{field: [message]}`, chat frontends as
 * lines. A field refused with a catalogued refusal carries it, so chat renders it in its markup.
 */
export interface FieldError {
  field: string;
  message: string;
  refusal?: Refusal;
}

/** A bad field whose message is a catalogued refusal (its plain sentence, and the value). */
export function refusedField(field: string, refusal: Refusal): FieldError {
  return { field, message: refusalText(refusal), refusal };
}

export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly identifier: UserErrorIdentifier,
    message: string,
    readonly context: {
      fields?: FieldError[];
      retryAfter?: number;
      /** The refusal as a value, for each platform to render in its markup (src/refusals). */
      refusal?: Refusal;
      [key: string]: unknown;
    } = {},
  ) {
    super(message);
  }

  static invalid(fields: FieldError[]): UserError {
    const message = fields.map((f) => f.message).join('\n');
    return new UserError('invalid-request', message, { fields });
  }

  /** A catalogued refusal: its plain sentence as the message (REST API, logs), the value in context. */
  static refused(refusal: Refusal, context: { retryAfter?: number; [key: string]: unknown } = {}): UserError {
    return new UserError(IDENTIFIER_OF[refusal.reason], refusalText(refusal), { ...context, refusal });
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
