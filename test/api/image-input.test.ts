import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readImageInput } from '../../src/api/image-input.ts';
import { isUserError, type UserError } from '../../src/errors/user-error.ts';

const options = { fetch: {}, maxBytes: 1024 * 1024, maxPixels: 4096 * 4096 };

async function png(width = 8, height = 6): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#c03020' } })
    .png()
    .toBuffer();
}

async function refusal(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUserError(error)).toBe(true);
  return error as UserError;
}

describe('readImageInput', () => {
  it('decodes bare base64 and data URIs into a PNG of the same size', async () => {
    const jpeg = await sharp(await png(10, 7))
      .jpeg()
      .toBuffer();
    for (const value of [jpeg.toString('base64'), `data:image/jpeg;base64,${jpeg.toString('base64')}`]) {
      const image = await readImageInput('init_image', value, options);
      expect([image.width, image.height]).toEqual([10, 7]);
      expect((await sharp(image.png).metadata()).format).toBe('png');
    }
  });

  it('refuses base64 that is not an image, naming the field', async () => {
    const error = await refusal(
      readImageInput('init_image', Buffer.from('just some text').toString('base64'), options),
    );
    expect(error.context.fields).toEqual([
      {
        field: 'init_image',
        message: 'The init_image is not an image (expected PNG, JPEG, WebP, GIF or AVIF).',
      },
    ]);
  });

  it('refuses a value that is neither a URL nor base64', async () => {
    const error = await refusal(readImageInput('mask_image', 'hello world!', options));
    expect(error.context.fields?.[0]?.message).toBe(
      'The mask_image must be an http(s) URL or a base64-encoded image.',
    );
  });

  it('refuses file:// and other schemes', async () => {
    const error = await refusal(readImageInput('init_image', 'file:///etc/passwd', options));
    expect(error.context.fields?.[0]?.message).toBe(
      'The init_image must be an http(s) URL or a base64-encoded image.',
    );
  });

  it('refuses a truncated image', async () => {
    const whole = await png(64, 64);
    const error = await refusal(
      readImageInput('init_image', whole.subarray(0, 60).toString('base64'), options),
    );
    expect(error.context.fields?.[0]?.field).toBe('init_image');
  });

  it('refuses base64 larger than the limit before decoding it', async () => {
    const error = await refusal(
      readImageInput('init_image', Buffer.alloc(2 * 1024 * 1024, 1).toString('base64'), options),
    );
    expect(error.context.fields?.[0]?.message).toBe('The init_image is larger than 1 MB.');
  });

  it('refuses an image with more pixels than allowed', async () => {
    const big = await png(300, 300);
    const error = await refusal(
      readImageInput('init_image', big.toString('base64'), { ...options, maxPixels: 256 * 256 }),
    );
    expect(error.context.fields?.[0]?.message).toBe('The init_image has too many pixels (at most 65536).');
  });

  it('refuses a URL to a private address', async () => {
    const error = await refusal(readImageInput('init_image', 'http://10.0.0.1/cat.png', options));
    expect(error.context.fields?.[0]?.message).toMatch(/^The init_image URL points to a private/);
  });

  describe('a value held aside by the body reader', () => {
    /** `text` as the reader hands a long value over: its bytes in chunks of odd sizes. */
    function held(text: string, size = 4093) {
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(Buffer.from(bytes.subarray(i, i + size)));
      return { chunks, length: bytes.length };
    }

    it('decodes a data URI and wrapped base64 from chunks', async () => {
      const jpeg = await sharp(await png(40, 30))
        .jpeg()
        .toBuffer();
      const base64 = jpeg.toString('base64');
      for (const text of [`data:image/jpeg;base64,${base64}`, `\n${base64.replace(/.{76}/g, '$&\r\n')}`]) {
        for (const size of [1, 3, 64, 4093]) {
          const image = await readImageInput('init_image', held(text, size), options);
          expect([image.width, image.height]).toEqual([40, 30]);
        }
      }
    });

    it('refuses a URL too long to be one, and characters outside base64', async () => {
      const url = await refusal(
        readImageInput('init_image', held(`https://x.example/${'a'.repeat(70_000)}`), options),
      );
      expect(url.context.fields?.[0]?.message).toBe('The init_image URL is too long.');
      const text = await refusal(readImageInput('mask_image', held(`${'QUJD'.repeat(20_000)}!`), options));
      expect(text.context.fields?.[0]?.message).toBe(
        'The mask_image must be an http(s) URL or a base64-encoded image.',
      );
      const plain = await refusal(readImageInput('init_image', held('data:image/png,rawbytes'), options));
      expect(plain.context.fields?.[0]?.message).toBe('The init_image data URI must be base64-encoded.');
    });
  });
});
