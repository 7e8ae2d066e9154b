import type { FieldError } from '../errors/user-error.ts';
import { scalarText } from '../request/number-values.ts';

/** The parts of an Ajv error that Fastify hands over in `error.validation`. */
export interface SchemaViolation {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

const TYPE_WORDS: Record<string, string> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
};

function describeType(type: unknown): string {
  const list: unknown[] = Array.isArray(type) ? type : (scalarText(type) ?? '').split(',');
  const types = list.map((t) => scalarText(t) ?? '');
  // ['integer', 'string'] means "a number, possibly sent as text": say the number.
  const meaningful = types.filter((t) => t !== 'string' || types.length === 1);
  return meaningful.map((t) => TYPE_WORDS[t] ?? t).join(' or ');
}

/** Turns JSON-schema violations into per-field messages in the hosted APIs' wording. */
export function fieldErrorsFromSchema(violations: SchemaViolation[]): FieldError[] {
  return violations.map((v) => {
    const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
    if (v.keyword === 'required') {
      const field = [path, scalarText(v.params.missingProperty) ?? ''].filter(Boolean).join('.');
      return { field, message: `The ${field} field is required.` };
    }
    const field = path || 'body';
    if (v.keyword === 'type') {
      if (field === 'body') {
        return { field, message: 'The body must be a JSON object, such as {"prompt": "a lighthouse"}.' };
      }
      return { field, message: `The ${field} field must be ${describeType(v.params.type)}.` };
    }
    if (v.keyword === 'maxLength') {
      return { field, message: `The ${field} field must be at most ${String(v.params.limit)} characters.` };
    }
    return { field, message: `The ${field} field ${v.message ?? 'is invalid'}.` };
  });
}
