/**
 * The `error` of a Web API platform error (`{ok: false, error: "not_in_channel"}`), which
 * `@slack/web-api` throws as an error with `code: 'slack_webapi_platform_error'` and `data`.
 */
export function slackErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, data } = error as { code?: unknown; data?: { error?: unknown } };
  if (code !== 'slack_webapi_platform_error') return undefined;
  return typeof data?.error === 'string' ? data.error : undefined;
}
