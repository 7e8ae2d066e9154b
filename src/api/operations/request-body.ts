import type { FastifyRequest } from 'fastify';
import type { FieldError } from '../../errors/user-error.ts';
import { ApiError } from '../api-error.ts';
import { fieldErrorsFromSchema, type SchemaViolation } from '../schema-errors.ts';

/** What every face reads first: the JSON body as an object (an empty one when none was sent). */
export function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

/**
 * The route schema's findings as field errors, for the generate operation to report with the shared
 * validator's. A body that is not an object at all is refused at once: there are no fields to check.
 */
export function schemaErrors(request: FastifyRequest): FieldError[] {
  const violations = (request.validationError?.validation ?? []) as SchemaViolation[];
  const errors = fieldErrorsFromSchema(violations);
  if (errors.some((e) => e.field === 'body')) throw ApiError.validation(errors);
  return errors;
}
