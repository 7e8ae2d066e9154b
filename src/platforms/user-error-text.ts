import type { UserError } from '../errors/user-error.ts';
import { type RefusalMarkup, refusalText } from '../refusals/refusal-text.ts';

/**
 * What a member reads for a refusal, in a platform's markup: a catalogued refusal (the whole
 * error's, or each bad field's) is rendered from its identifier and parameters, so text someone
 * typed is escaped the platform's way; any other `UserError` already carries its sentence.
 */
export function userErrorText(error: UserError, markup: RefusalMarkup): string {
  const { refusal, fields } = error.context;
  if (refusal) return refusalText(refusal, markup);
  if (fields?.some((field) => field.refusal)) {
    return fields
      .map((field) => (field.refusal ? refusalText(field.refusal, markup) : field.message))
      .join('\n');
  }
  return error.message;
}
