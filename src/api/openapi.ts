/**
 * The OpenAPI 3.1 document, built from the same route descriptions the server registers (3.1 takes
 * JSON Schema as is, so the body schemas go in unchanged).
 */

type Schema = Record<string, unknown>;

export interface RouteDoc {
  method: 'GET' | 'POST';
  /** Fastify form: `/v1/fetch/:id`. */
  url: string;
  summary: string;
  description?: string;
  /** Needs an API key. */
  auth: boolean;
  body?: Schema;
  /** A multipart/form-data body (OpenAI's edits), documented only: the route reads it itself. */
  multipart?: Schema;
  params?: Schema;
  /** The OpenAPI tag grouping the route: its face's title (set by the server when absent). */
  tag?: string;
  /** Status code -> description and answer schema. */
  responses: Record<number, { description: string; schema?: Schema; contentType?: string }>;
}

export function buildOpenApi(routes: RouteDoc[], info: { version: string; serverUrl?: string }): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    const operation: Schema = {
      summary: route.summary,
      operationId: operationId(route),
      responses: Object.fromEntries(
        Object.entries(route.responses).map(([code, r]) => [
          code,
          {
            description: r.description,
            ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: r.schema } } } : {}),
          },
        ]),
      ),
    };
    if (route.description) operation.description = route.description;
    if (route.tag) operation.tags = [route.tag];
    if (route.auth) operation.security = [{ bearer: [] }, { apiKeyHeader: [] }, { apiKeyHeaderAlt: [] }, {}];
    const params = route.params as { properties?: Record<string, Schema> } | undefined;
    if (params?.properties) {
      operation.parameters = Object.entries(params.properties).map(([name, schema]) => ({
        name,
        in: 'path',
        required: true,
        description: schema.description,
        schema: { type: schema.type },
      }));
    }
    if (route.multipart) {
      operation.requestBody = {
        required: true,
        content: { 'multipart/form-data': { schema: route.multipart } },
      };
    }
    if (route.body) {
      operation.requestBody = {
        required:
          route.method === 'POST' && Array.isArray(route.body.required) && route.body.required.length > 0,
        content: { 'application/json': { schema: route.body } },
      };
    }
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'easel REST API',
      version: info.version,
      description:
        'Image generation shaped like the hosted Stable Diffusion APIs: easel’s own /v1 and, grouped by ' +
        'tag, faces that answer as modelslab, aithriving, imagepipeline and segmind do, all on one queue ' +
        'and one credits ledger. Every /v1 answer has `status`: ' +
        '`success`, `processing` (fetch later with `fetch_result`), `error` or `failed`. The key goes ' +
        'in `Authorization: Bearer <key>` (or bare, or as the Basic password), `x-api-key` or `API-Key`, ' +
        'or in the body as `key` (its first field, when the body is over 1 MB).',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        apiKeyHeaderAlt: { type: 'apiKey', in: 'header', name: 'API-Key' },
      },
    },
    paths,
  };
}

function operationId(route: RouteDoc): string {
  const words = route.url
    .replace(/^\/v1\//, '')
    .split(/[/_:.-]+/)
    .filter((w) => w && w !== 'id' && w !== 'file');
  return route.method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}
