/**
 * A linear pass over a JSON body as its chunks arrive, run before `JSON.parse` sees it: it refuses
 * what would make the parse expensive (nesting deeper than `maxDepth`, more than `maxOutsideBytes`
 * outside strings: every value but a string's characters costs the parser a step, while string
 * characters are copied in bulk) and the field names that poison prototypes, and it picks up the
 * top-level `"key"` string so the key can be checked before the rest of the body is read.
 *
 * It is no JSON validator: what it lets through is still parsed by `JSON.parse`, which rejects bad
 * syntax. It only guarantees that the parse is cheap. Inside strings it jumps from quote to quote
 * with `Buffer.indexOf`, so a 20 MB base64 image costs a few native scans, not 20 million steps.
 */

export type ScanProblem = 'too-deep' | 'too-complex' | 'reserved-name';

export interface ScanLimits {
  maxDepth: number;
  maxOutsideBytes: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
/** Names and the key are short; anything longer cannot be `__proto__`, `constructor` or a key. */
const CAPTURE_MAX = 256;
const UNKNOWN = -2;
const RESERVED_NAMES = new Set(['__proto__', 'constructor']);

export class JsonBodyScanner {
  private depth = 0;
  private outside = 0;
  private inString = false;
  /** A backslash ended the previous chunk inside a string. */
  private escaped = false;
  private rootIsObject: boolean | undefined;
  /** Bytes of the string being read (up to CAPTURE_MAX), and whether it had to be cut. */
  private capture: Buffer[] = [];
  private captureLength = 0;
  private captureCut = false;
  /**
   * The last complete string's bytes while it may still turn out to be a field name; decoded only
   * when a colon shows it is one (decoding every string value would cost more than the scan).
   */
  private lastString: Buffer[] | undefined;
  /** The field name whose value comes next, at the top level. */
  private topName: string | undefined;
  private readingKeyValue = false;
  private problem: ScanProblem | undefined;
  /** Where the next backslash of the current chunk is (see `nextBackslash`). */
  private backslashAt = UNKNOWN;
  /** The top-level `"key"` value, once it has been read. */
  key: string | undefined;

  constructor(private readonly limits: ScanLimits) {}

  /** Scans the next chunk; answers the first problem found (then and ever after). */
  write(chunk: Buffer): ScanProblem | undefined {
    if (this.problem) return this.problem;
    this.backslashAt = UNKNOWN;
    let i = 0;
    while (i < chunk.length) {
      if (this.inString) {
        i = this.readString(chunk, i);
        continue;
      }
      const byte = chunk[i]!;
      i++;
      if (++this.outside > this.limits.maxOutsideBytes) return this.fail('too-complex');
      switch (byte) {
        case 0x20:
        case 0x09:
        case 0x0a:
        case 0x0d:
          continue;
        case 0x7b: // {
        case 0x5b: // [
          if (this.depth === 0 && this.rootIsObject === undefined) this.rootIsObject = byte === 0x7b;
          this.valueStarted();
          if (++this.depth > this.limits.maxDepth) return this.fail('too-deep');
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.depth--;
          break;
        case COLON: {
          const name = this.lastString && decodeName(this.lastString);
          if (name !== undefined && RESERVED_NAMES.has(name)) return this.fail('reserved-name');
          if (this.depth === 1 && this.rootIsObject) this.topName = name;
          break;
        }
        case COMMA:
          if (this.depth === 1) this.topName = undefined;
          break;
        case QUOTE:
          this.inString = true;
          this.capture = [];
          this.captureLength = 0;
          this.captureCut = false;
          this.readingKeyValue = this.depth === 1 && this.topName === 'key' && this.key === undefined;
          this.topName = undefined;
          continue;
        default:
          this.valueStarted();
      }
      this.lastString = undefined;
    }
    return undefined;
  }

  /** A value other than a string starts: a top-level one is not the key. */
  private valueStarted(): void {
    if (this.depth === 1) this.topName = undefined;
  }

  private fail(problem: ScanProblem): ScanProblem {
    this.problem = problem;
    return problem;
  }

  /** Reads string bytes from `start`; answers where scanning goes on. */
  private readString(chunk: Buffer, start: number): number {
    let i = start;
    if (this.escaped) {
      this.escaped = false;
      this.keep(chunk, i, i + 1);
      i++;
    }
    let quote = chunk.indexOf(QUOTE, i);
    for (;;) {
      const end = quote === -1 ? chunk.length : quote;
      const backslash = this.nextBackslash(chunk, i);
      if (backslash !== -1 && backslash < end) {
        // Skip the escaped character, which may be a quote; it may lie in the next chunk.
        this.keep(chunk, i, backslash + 2);
        if (backslash + 1 >= chunk.length) {
          this.escaped = true;
          return chunk.length;
        }
        i = backslash + 2;
        if (quote !== -1 && quote < i) quote = chunk.indexOf(QUOTE, i);
        continue;
      }
      this.keep(chunk, i, end);
      if (quote === -1) return chunk.length;
      this.inString = false;
      this.finishString();
      return quote + 1;
    }
  }

  /**
   * The next backslash at or after `from` in this chunk, -1 for none. Remembered between strings:
   * searching afresh for each of thousands of short strings would rescan the chunk every time.
   */
  private nextBackslash(chunk: Buffer, from: number): number {
    if (this.backslashAt !== -1 && (this.backslashAt === UNKNOWN || this.backslashAt < from)) {
      this.backslashAt = chunk.indexOf(BACKSLASH, from);
    }
    return this.backslashAt;
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    const end = Math.min(to, chunk.length);
    if (this.captureCut || end <= from) return;
    if (this.captureLength + (end - from) > CAPTURE_MAX) {
      this.captureCut = true;
      return;
    }
    // A view, not a copy: each chunk of a request stream is a buffer of its own.
    this.capture.push(chunk.subarray(from, end));
    this.captureLength += end - from;
  }

  private finishString(): void {
    this.lastString = this.captureCut ? undefined : this.capture;
    if (this.readingKeyValue && this.lastString) this.key = decodeStringBody(Buffer.concat(this.lastString));
    this.readingKeyValue = false;
  }
}

/** Escaped, `constructor` takes 11 x 6 bytes (`\u0063...`); a longer name is none of those we look for. */
const NAME_BYTES_MAX = 66;

function decodeName(pieces: Buffer[]): string | undefined {
  let length = 0;
  for (const piece of pieces) length += piece.length;
  return length > NAME_BYTES_MAX ? undefined : decodeStringBody(Buffer.concat(pieces, length));
}

/** The text of a JSON string's body (between the quotes), or undefined when it is not valid. */
function decodeStringBody(bytes: Buffer): string | undefined {
  const raw = bytes.toString('utf8');
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return undefined;
  }
}
