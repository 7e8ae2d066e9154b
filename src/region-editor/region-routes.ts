import type { FastifyReply, FastifyRequest } from 'fastify';
import { fromUserError } from '../api/api-error.ts';
import type { RouteContext } from '../api/server.ts';
import { contentSecurityPolicy, editorPage, problemPage, SCRIPT_PATH, STYLE_PATH } from './page-html.ts';
import { editorScript, editorStyle } from './region-assets.ts';
import { LINK_PROBLEMS, type LinkProblem, MASK_MAX_BYTES, RegionEditor } from './region-editor.ts';

/**
 * The Vary (Region) page on the api role: `GET /region?t=<token>` (the page), `GET
 * /region/image?t=` (the picture it paints over), `POST /region/submit?t=` (the mask and prompt,
 * as JSON), and the page's script and stylesheet. The token rides in the query because it is longer
 * than a path parameter may be. Not part of the REST API (no key, not in the OpenAPI document): the
 * signed token is the only credential, and it authorizes one job's image and one submission.
 */

/** The JSON body: a mask PNG as base64 plus the prompt. */
const BODY_LIMIT = Math.ceil((MASK_MAX_BYTES * 4) / 3) + 64 * 1024;

function tokenOf(request: FastifyRequest): string {
  const t = (request.query as { t?: unknown } | undefined)?.t;
  return typeof t === 'string' ? t : '';
}

/** Headers of everything under /region: nothing cached or framed, no referrer carrying the token. */
function guard(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY');
}

export function registerRegionEditorRoutes(ctx: RouteContext): void {
  const editor = new RegionEditor(ctx.services, ctx.now);

  const html = (reply: FastifyReply, status: number, body: string) =>
    guard(reply)
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', contentSecurityPolicy(ctx.baseUrl()))
      .send(body);
  const problem = (reply: FastifyReply, which: LinkProblem) => {
    const { status, title, text } = LINK_PROBLEMS[which];
    return html(reply, status, problemPage(ctx.baseUrl(), title, text));
  };

  ctx.app.register(async (scope) => {
    // This scope's own JSON parser: the API's streaming reader holds image fields of its routes only.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: BODY_LIMIT },
      (_r, body, done) => {
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(Object.assign(new Error('The body is not valid JSON.'), { statusCode: 400 }), undefined);
        }
      },
    );

    scope.get(SCRIPT_PATH, async (_request, reply) =>
      guard(reply)
        .header('content-type', 'text/javascript; charset=utf-8')
        .send(await editorScript()),
    );
    scope.get(STYLE_PATH, async (_request, reply) =>
      guard(reply)
        .header('content-type', 'text/css; charset=utf-8')
        .send(await editorStyle()),
    );

    scope.get('/region', async (request, reply) => {
      const token = tokenOf(request);
      const opened = await editor.open(token);
      if (!opened.ok) return problem(reply, opened.problem);
      const query = `?t=${encodeURIComponent(token)}`;
      return html(
        reply,
        200,
        editorPage({
          base: ctx.baseUrl(),
          imageUrl: `${ctx.baseUrl()}/region/image${query}`,
          submitUrl: `${ctx.baseUrl()}/region/submit${query}`,
          width: opened.image.width,
          height: opened.image.height,
          prompt: opened.job.data.request.prompt,
          imageNumber: opened.claims.index + 1,
          msLeft: opened.claims.expiresAt - ctx.now(),
        }),
      );
    });

    scope.get('/region/image', async (request, reply) => {
      const opened = await editor.open(tokenOf(request));
      if (!opened.ok) return problem(reply, opened.problem);
      const stored = await ctx.services.artifacts.get(opened.image.artifactId);
      if (!stored) return problem(reply, 'gone');
      return guard(reply).header('content-type', stored.meta.contentType).send(stored.bytes);
    });

    scope.post('/region/submit', async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const outcome = await editor.submit(tokenOf(request), body);
      guard(reply);
      if (outcome.status === 'link') {
        const { status, title, text } = LINK_PROBLEMS[outcome.problem];
        return reply.code(status).send({ ok: false, message: `${title}.`, tips: text });
      }
      if (outcome.status === 'refused') {
        const answer = fromUserError(outcome.error);
        return reply
          .code(answer.statusCode)
          .headers(answer.headers)
          .send({ ok: false, message: outcome.error.message, tips: 'Nothing was queued or charged.' });
      }
      const credits = `${outcome.cost} credit${outcome.cost === 1 ? '' : 's'}`;
      return reply.send({
        ok: true,
        jobId: outcome.jobId,
        message:
          `Queued${outcome.position > 0 ? ` (position ${outcome.position})` : ''} for ${credits}; ` +
          `${outcome.balance} left. The result will be posted in the thread under the image.`,
      });
    });
  });
}
