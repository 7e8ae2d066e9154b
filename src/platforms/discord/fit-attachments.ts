import sharp from 'sharp';

/**
 * Keeps files within what Discord accepts: each file within the interaction's
 * `attachment_size_limit` (10 MiB by default), each message within 25 MiB and 10 files. A file over
 * the limit is re-encoded as WebP (losing the PNG's parameters chunk, which is said in the message),
 * at falling quality and then smaller sizes; files that do not fit in one message are split across
 * several.
 */
export interface OutgoingFile {
  name: string;
  bytes: Buffer;
  description?: string;
}

export const DEFAULT_FILE_LIMIT = 10 * 1024 * 1024;
/** 25 MiB a request, less room for the multipart framing and the JSON payload. */
export const REQUEST_LIMIT = 25 * 1024 * 1024 - 256 * 1024;
const FILES_PER_MESSAGE = 10;

const QUALITIES = [90, 80, 65, 50];

async function fitFile(
  file: OutgoingFile,
  limit: number,
): Promise<{ file: OutgoingFile; reencoded: boolean }> {
  if (file.bytes.length <= limit) return { file, reencoded: false };
  const meta = await sharp(file.bytes).metadata();
  let width = meta.width ?? 1024;
  const base = file.name.replace(/\.[a-z0-9]+$/i, '');
  for (let scale = 0; scale < 6; scale += 1) {
    for (const quality of QUALITIES) {
      const bytes = await sharp(file.bytes)
        .resize({ width, withoutEnlargement: true })
        .webp({ quality })
        .toBuffer();
      if (bytes.length <= limit) return { file: { ...file, name: `${base}.webp`, bytes }, reencoded: true };
    }
    width = Math.max(64, Math.floor(width * 0.75));
  }
  throw new Error(`cannot fit ${file.name} (${file.bytes.length} bytes) within ${limit} bytes`);
}

/** Re-encodes what must be, then groups the files into as few messages as the limits allow, in order. */
export async function fitAttachments(
  files: OutgoingFile[],
  perFileLimit: number,
  requestLimit = REQUEST_LIMIT,
): Promise<{ messages: OutgoingFile[][]; reencoded: boolean }> {
  const limit = Math.min(perFileLimit, requestLimit);
  let reencoded = false;
  const fitted: OutgoingFile[] = [];
  for (const file of files) {
    const fit = await fitFile(file, limit);
    reencoded ||= fit.reencoded;
    fitted.push(fit.file);
  }
  const messages: OutgoingFile[][] = [];
  let current: OutgoingFile[] = [];
  let size = 0;
  for (const file of fitted) {
    if (
      current.length > 0 &&
      (size + file.bytes.length > requestLimit || current.length >= FILES_PER_MESSAGE)
    ) {
      messages.push(current);
      current = [];
      size = 0;
    }
    current.push(file);
    size += file.bytes.length;
  }
  if (current.length > 0) messages.push(current);
  return { messages, reencoded };
}

/** A plain grey image of the same size, standing in for a blocked one. */
export async function blankImage(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 54, g: 57, b: 63 } } })
    .png()
    .toBuffer();
}
