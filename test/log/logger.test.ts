import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger('info', stream) };
}

describe('logging', () => {
  it('redacts tokens and keys wherever they appear in a logged object', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        token: 'tok-1',
        config: { DISCORD_TOKEN: 'tok-2', SLACK_BOT_TOKEN: 'xoxb-3', HF_TOKEN: 'hf-4' },
        origin: { interactionToken: 'tok-5' },
        req: { headers: { authorization: 'Bearer tok-6', 'x-api-key': 'tok-7' } },
      },
      'hello',
    );
    const out = lines.join('');
    for (const secret of ['tok-1', 'tok-2', 'xoxb-3', 'hf-4', 'tok-5', 'tok-6', 'tok-7']) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('[redacted]');
    expect(out).toContain('hello');
  });
});
