import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError, ApiProblem } from '../api-error.ts';
import type { RouteDoc } from '../openapi.ts';
import type { RouteContext } from '../server.ts';

/**
 * A face: one API's paths, field names, key placement and answer and error shapes, mapped onto the
 * shared operations (operations/generate.ts, fetch-job.ts, system-load.ts, list-models.ts). Every
 * face shares one admission, credits ledger, queue and worker pool; a face never admits, charges,
 * stores images or waits for a render itself.
 *
 * Writing a face (src/api/faces/<name>.ts):
 *
 *   export const myFace: Face = {
 *     name: 'my-api',
 *     title: 'My API',
 *     renderError: (problem) => ({ body: { error: problem.message } }),   // status/headers default
 *     register(ctx) {
 *       ctx.route({ method: 'POST', url: '/my/txt2img', summary: '…', auth: true, body: schema,
 *                   responses: {…} }, async (request, reply) => {
 *         const outcome = await generate(ctx, { request, mode: 'txt2img', raw, images: [], … });
 *         return reply.send(render(outcome));
 *       });
 *     },
 *   };
 *
 * then add it to FACES in faces/all-faces.ts (one line). `ctx.route` registers the route and its
 * OpenAPI entry together and tags both with the face, so any error thrown while serving the route —
 * a wrong key (checked before the body is read), a bad body, a rate limit, a refusal by admission —
 * is answered through the face's `renderError`, never in another face's shape.
 *
 * The operations: `generate` (answers `processing` past API_SYNC_WAIT_MS, or the `waitMs` given),
 * `generateFinished` (for APIs with no fetch: waits up to API_SYNC_FACE_WAIT_MS, then cancels and
 * refunds and throws a 504), `fetchJob`, `systemLoad`, `modelsNow`; each returns plain data
 * (`JobOutcome`, `LoadNow`, `ModelListing[]`) for the face to shape. `imageInput` reads an image
 * field (with the body reader's held-aside long values); `bodyOf` and `schemaErrors` read the body.
 * `futureImageUrls` (image-routes.ts) gives an image's URL before it is rendered.
 *
 * Keys: `request.apiKey` is set before a handler with `auth: true` runs; the key may come from any of
 * the places key-auth.ts reads (`key` in the body, `Authorization` bearer/bare/Basic, `x-api-key`,
 * `API-Key`), whatever the face.
 *
 * Bodies: JSON, also when no Content-Type is sent; top-level `null` fields are removed before the
 * schema sees them (null means "not given"). Schema violations do not stop the handler: they arrive
 * in `request.validationError`, and `schemaErrors(request)` turns them into field errors that the
 * generate operation reports together with the shared validator's.
 */
export interface Face {
  /** Short id: `easel`, `modelslab`, … (OpenAPI tag, logs). */
  name: string;
  /** What the OpenAPI document calls it: "modelslab Stable Diffusion API (v3, v4, v6)". */
  title: string;
  /**
   * The refusal in this face's shape, from what it says (`problem`); `error.body` is easel's own
   * shape. Status and headers default to the problem's.
   */
  renderError(problem: ApiProblem, error: ApiError): RenderedError;
  /** Registers the face's routes through `ctx.route` (which also documents them). */
  register(ctx: FaceContext): void;
}

export interface RenderedError {
  statusCode?: number;
  body: unknown;
  /** Added to the problem's headers (which carry Retry-After). */
  headers?: Record<string, string>;
}

/** What a face's `register` receives: the server's context, its `route` bound to this face. */
export interface FaceContext extends Omit<RouteContext, 'route'> {
  face: Face;
  route(doc: RouteDoc, handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void;
}
