import { type RefusalMarkup, refusalText } from '../admission/refusal.ts';
import type { Refusal } from '../admission/types.ts';
import type { UserError } from '../errors/user-error.ts';

/**
 * What a member reads for a refusal, in a platform's markup: an admission refusal is rendered
 * from its identifier and parameters (so text the member wrote, such as a banned word, is escaped
 * the platform's way); any other `UserError` already carries its sentence.
 */
export function userErrorText(error: UserError, markup: RefusalMarkup): string {
  const refusal = error.context.refusal as Refusal | undefined;
  return refusal ? refusalText(refusal, markup) : error.message;
}
