import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { Logger } from '../../log/logger.ts';

/**
 * Bolt, its Web API client and its Socket Mode client log through this adapter, so their lines go to
 * the same pino logger (with its token redaction) as everything else. Bolt's chatter at info level
 * (connection state, every API call) is kept at debug; its warnings and errors stay what they are.
 */
export function boltLogger(logger: Logger): BoltLogger {
  const child = logger.child({ lib: 'bolt' });
  const line = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : String(m))).join(' ');
  let level = LogLevel.INFO;
  return {
    debug: (...msg) => child.debug(line(msg)),
    info: (...msg) => child.debug(line(msg)),
    warn: (...msg) => child.warn(line(msg)),
    error: (...msg) => child.error(line(msg)),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
