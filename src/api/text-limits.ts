/**
 * The longest value each free-text field of the REST API takes, in characters. Every value that is
 * kept (in the job records, for 24 hours, on a Redis that must not evict) or quoted back has a bound,
 * so no request can make Redis or an answer grow by more than a few kilobytes past its images. The
 * route schemas carry these as `maxLength`, so the OpenAPI document states them and a longer value
 * is refused with 422 before anything is stored. Prompts keep the shared PROMPT_MAX_CHARS.
 */
export const TEXT_MAX_CHARS = {
  key: 200,
  model: 200,
  scheduler: 100,
  aspectRatio: 20,
  /** Numbers sent as text ("512"). */
  number: 32,
  /** `base64: "true"`. */
  flag: 10,
  trackId: 256,
  /** Browsers and proxies handle URLs up to about 2000 characters; webhooks are URLs. */
  webhook: 2048,
  /** The Idempotency-Key header (Stripe's limit). */
  idempotencyKey: 255,
} as const;
