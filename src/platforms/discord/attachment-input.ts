import type { Attachment } from 'discord.js';
import { readImageInput } from '../../api/image-input.ts';
import type { ArtifactStore } from '../../artifacts/artifact-store.ts';
import { UserError } from '../../errors/user-error.ts';

/**
 * The `image` option of `/imagine` (img2img): Discord hands a CDN URL. It is fetched only from
 * Discord's own hosts (or the configured API base's host, for a proxy or a local fake), must decode
 * as an image, and is stored re-encoded as PNG before admission.
 */
const ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024;
const ATTACHMENT_MAX_PIXELS = 4096 * 4096;
const DISCORD_CDN_HOSTS = new Set(['cdn.discordapp.com', 'media.discordapp.net']);

const invalid = (message: string) => UserError.invalid([{ field: 'image', message: `image: ${message}` }]);

export async function storeAttachment(
  attachment: Attachment,
  options: { apiBase: string; artifacts: ArtifactStore },
): Promise<string> {
  const type = attachment.contentType ?? '';
  if (type && !type.startsWith('image/')) {
    throw invalid(`"${attachment.name}" is ${type}, not an image; attach a PNG, JPEG or WebP picture.`);
  }
  if (attachment.size > ATTACHMENT_MAX_BYTES) {
    throw invalid(`"${attachment.name}" is ${(attachment.size / 1048576).toFixed(1)} MB; the most is 20 MB.`);
  }
  const url = new URL(attachment.url);
  const apiHost = new URL(options.apiBase).host;
  if (!DISCORD_CDN_HOSTS.has(url.hostname) && url.host !== apiHost) {
    throw invalid('attachments must come from Discord.');
  }
  const image = await readImageInput('image', attachment.url, {
    // The host is Discord's (checked above), which may be a local proxy: its address is trusted.
    fetch: { addressAllowed: () => true, timeoutMs: 15_000, maxRedirects: 2 },
    maxBytes: ATTACHMENT_MAX_BYTES,
    maxPixels: ATTACHMENT_MAX_PIXELS,
  });
  return options.artifacts.put(image.png, { contentType: 'image/png' });
}
