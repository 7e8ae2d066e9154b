import { crc32, inflateSync } from 'node:zlib';

/**
 * PNG text chunks, written and read directly: sharp does not write PNG text. A chunk goes right
 * after IHDR, as PIL (and so AUTOMATIC1111) places it. Latin-1 text goes in `tEXt`; anything else in
 * an uncompressed `iTXt` (UTF-8), exactly as PIL's `PngInfo.add_text` chooses.
 */
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** Latin-1 is exactly U+0000..U+00FF: what tEXt may hold. */
function isLatin1(text: string): boolean {
  return /^[\u0000-\u00ff]*$/.test(text);
}

export function withPngText(png: Buffer, keyword: string, text: string): Buffer {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  const key = Buffer.from(keyword, 'latin1');
  const data = isLatin1(text)
    ? chunk('tEXt', Buffer.concat([key, Buffer.from([0]), Buffer.from(text, 'latin1')]))
    : chunk('iTXt', Buffer.concat([key, Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]));
  return Buffer.concat([png.subarray(0, ihdrEnd), data, png.subarray(ihdrEnd)]);
}

/** Every tEXt, zTXt and iTXt entry of a PNG, by keyword. */
export function readPngText(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  if (!png.subarray(0, 8).equals(SIGNATURE)) return out;
  let offset = 8;
  while (offset + 8 <= png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    offset += 12 + length;
    const nul = data.indexOf(0);
    if (nul < 0) continue;
    const keyword = data.toString('latin1', 0, nul);
    if (type === 'tEXt') out[keyword] = data.toString('latin1', nul + 1);
    else if (type === 'zTXt') out[keyword] = inflateSync(data.subarray(nul + 2)).toString('latin1');
    else if (type === 'iTXt') {
      const compressed = data[nul + 1] === 1;
      let rest = nul + 3;
      rest = data.indexOf(0, rest) + 1; // language tag
      rest = data.indexOf(0, rest) + 1; // translated keyword
      const body = data.subarray(rest);
      out[keyword] = (compressed ? inflateSync(body) : body).toString('utf8');
    }
    if (type === 'IEND') break;
  }
  return out;
}
