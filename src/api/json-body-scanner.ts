import { JsonStringUnescaper } from './json-string-unescaper.ts';
import { LARGE_VALUE_PLACEHOLDER, type LargeValue, listItemName } from './large-body-values.ts';

/**
 * A linear pass over a JSON body as its chunks arrive, run before `JSON.parse` sees it: it refuses
 * what would make the parse expensive (nesting deeper than `maxDepth`, more than `maxOutsideBytes`
 * outside strings: every value but a string's characters costs the parser a step, while string
 * characters are copied in bulk) and the field names that poison prototypes, and it picks up the
 * top-level `"key"` string so the key can be checked before the rest of the body is read.
 *
 * Strings longer than `maxStringBytes` never reach `JSON.parse` (one 20 MB string costs it ~135 ms):
 * the value of a top-level field in `largeValueFields` (the images) is held aside, unescaped, in
 * `largeValues`, and the text for the parse gets `LARGE_VALUE_PLACEHOLDER` in its place
 * (large-body-values.ts); any other long string is refused as `too-long` the moment it passes the
 * limit, naming the top-level field it is in (`tooLongField`). What is left for the parse is
 * `parsedText()`, at most `maxParsedBytes`.
 *
 * It is no JSON validator: what it lets through is still parsed by `JSON.parse`, which rejects bad
 * syntax. It only guarantees that the parse is cheap. Inside strings it jumps from quote to quote
 * with `Buffer.indexOf`, so a 20 MB base64 image costs a few native scans, not 20 million steps.
 */

export type ScanProblem =
  | 'too-deep'
  | 'too-complex'
  | 'reserved-name'
  /** A string over `maxStringBytes` where none may be. */
  | 'too-long'
  /** More than `maxParsedBytes` left for `JSON.parse`. */
  | 'too-much-text'
  /** A held-aside string that `JSON.parse` would refuse (a raw control character, a bad escape). */
  | 'bad-string';

export interface ScanLimits {
  maxDepth: number;
  maxOutsideBytes: number;
  /** The longest string, in body bytes between its quotes, that goes to `JSON.parse`. */
  maxStringBytes: number;
  /**
   * Top-level fields whose longer string values are held aside instead of refused; a list in one of
   * them has its long strings held as `field[i]`.
   */
  largeValueFields: ReadonlySet<string>;
  /** Body bytes left for `JSON.parse` once the held values are taken out. */
  maxParsedBytes: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
/** Names and the key are short; anything longer cannot be `__proto__`, `constructor` or a key. */
const CAPTURE_MAX = 256;
const UNKNOWN = -2;
const RESERVED_NAMES = new Set(['__proto__', 'constructor']);
const PLACEHOLDER_BYTES = Buffer.from(LARGE_VALUE_PLACEHOLDER);

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
  /** The top-level field whose value is being read (undefined between fields). */
  private member: string | undefined;
  /** Body bytes of the string being read. */
  private stringBytes = 0;
  /**
   * What happens to the string being read: `pending` while a top-level image value may still turn
   * out short (its bytes are kept back from the parse text), `large` once it has not.
   */
  private hold: 'none' | 'pending' | 'large' = 'none';
  private holdField = '';
  private pending: Buffer[] = [];
  private unescaper = new JsonStringUnescaper();
  private held: LargeValue = { chunks: [], length: 0 };
  /** The text for `JSON.parse`, as views of the chunks, and where the current chunk's next piece starts. */
  private parsed: Buffer[] = [];
  private parsedBytes = 0;
  private emitFrom = 0;
  /** The top-level `"key"` value, once it has been read. */
  key: string | undefined;
  /** The top-level field a `too-long` string was in (undefined: a field name, or a root array). */
  tooLongField: string | undefined;
  /** The values held aside, by field; a later duplicate replaces an earlier one, as in JSON.parse. */
  readonly largeValues = new Map<string, LargeValue>();

  /** The image list being read (directly inside it at depth 2), and the item's index. */
  private list: { field: string; index: number } | undefined;

  constructor(private readonly limits: ScanLimits) {}

  /** The body as `JSON.parse` is to see it: held values replaced by the placeholder. */
  parsedText(): string {
    return Buffer.concat(this.parsed, this.parsedBytes).toString('utf8');
  }

  /** Scans the next chunk; answers the first problem found (then and ever after). */
  write(chunk: Buffer): ScanProblem | undefined {
    if (this.problem) return this.problem;
    this.backslashAt = UNKNOWN;
    this.emitFrom = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.inString) {
        i = this.readString(chunk, i);
        if (this.problem) return this.problem;
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
          // A list of images (AUTOMATIC1111's `init_images`): its strings are held as `field[i]`.
          if (byte === 0x5b && this.depth === 1 && this.topName !== undefined) {
            if (this.limits.largeValueFields.has(this.topName)) this.list = { field: this.topName, index: 0 };
          }
          this.valueStarted();
          if (++this.depth > this.limits.maxDepth) return this.fail('too-deep');
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.depth--;
          if (this.depth === 1) this.list = undefined;
          break;
        case COLON: {
          const name = this.lastString && decodeName(this.lastString);
          if (name !== undefined && RESERVED_NAMES.has(name)) return this.fail('reserved-name');
          if (this.depth === 1 && this.rootIsObject) {
            this.topName = name;
            this.member = name;
          }
          break;
        }
        case COMMA:
          if (this.depth === 1) {
            this.topName = undefined;
            this.member = undefined;
          }
          if (this.depth === 2 && this.list) this.list.index++;
          break;
        case QUOTE:
          this.inString = true;
          this.stringBytes = 0;
          this.capture = [];
          this.captureLength = 0;
          this.captureCut = false;
          this.readingKeyValue = this.depth === 1 && this.topName === 'key' && this.key === undefined;
          {
            const field =
              this.depth === 1 && this.topName !== undefined && this.limits.largeValueFields.has(this.topName)
                ? this.topName
                : this.depth === 2 && this.list
                  ? listItemName(this.list.field, this.list.index)
                  : undefined;
            if (field !== undefined) {
              // The opening quote goes to the parse; what follows waits until the string's length is known.
              this.emit(chunk.subarray(this.emitFrom, i));
              this.hold = 'pending';
              this.holdField = field;
              this.pending = [];
            }
          }
          this.topName = undefined;
          continue;
        default:
          this.valueStarted();
      }
      this.lastString = undefined;
    }
    if (this.hold === 'none') this.emit(chunk.subarray(this.emitFrom));
    return this.problem;
  }

  private emit(piece: Buffer): void {
    if (piece.length === 0) return;
    this.parsed.push(piece);
    this.parsedBytes += piece.length;
    if (this.parsedBytes > this.limits.maxParsedBytes) this.fail('too-much-text');
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
      this.content(chunk, i, i + 1);
      i++;
    }
    let quote = chunk.indexOf(QUOTE, i);
    for (;;) {
      const end = quote === -1 ? chunk.length : quote;
      const backslash = this.nextBackslash(chunk, i);
      if (backslash !== -1 && backslash < end) {
        // Skip the escaped character, which may be a quote; it may lie in the next chunk.
        this.content(chunk, i, backslash + 2);
        if (backslash + 1 >= chunk.length) {
          this.escaped = true;
          return chunk.length;
        }
        i = backslash + 2;
        if (quote !== -1 && quote < i) quote = chunk.indexOf(QUOTE, i);
        continue;
      }
      this.content(chunk, i, end);
      if (quote === -1 || this.problem) return chunk.length;
      this.inString = false;
      this.finishString(quote);
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

  /** The string's bytes `from`-`to` of this chunk: counted, captured, held or refused. */
  private content(chunk: Buffer, from: number, to: number): void {
    const end = Math.min(to, chunk.length);
    if (end <= from || this.problem) return;
    this.stringBytes += end - from;
    this.keep(chunk, from, end);
    const piece = chunk.subarray(from, end);
    if (this.hold === 'large') {
      this.holdAside(piece);
      return;
    }
    if (this.stringBytes <= this.limits.maxStringBytes) {
      if (this.hold === 'pending') this.pending.push(piece);
      return;
    }
    if (this.hold === 'none') {
      this.tooLongField = this.member;
      this.fail('too-long');
      return;
    }
    this.hold = 'large';
    this.unescaper = new JsonStringUnescaper();
    this.held = { chunks: [], length: 0 };
    for (const earlier of this.pending) this.holdAside(earlier);
    this.pending = [];
    this.holdAside(piece);
  }

  private holdAside(piece: Buffer): void {
    if (this.problem) return;
    const value = this.unescaper.write(piece);
    if (value === undefined) {
      this.fail('bad-string');
      return;
    }
    if (value.length === 0) return;
    this.held.chunks.push(value);
    this.held.length += value.length;
  }

  private keep(chunk: Buffer, from: number, end: number): void {
    if (this.captureCut) return;
    if (this.captureLength + (end - from) > CAPTURE_MAX) {
      this.captureCut = true;
      return;
    }
    // A view, not a copy: each chunk of a request stream is a buffer of its own.
    this.capture.push(chunk.subarray(from, end));
    this.captureLength += end - from;
  }

  /** The string ended at `quote` in the current chunk. */
  private finishString(quote: number): void {
    this.lastString = this.captureCut ? undefined : this.capture;
    if (this.readingKeyValue && this.lastString) this.key = decodeStringBody(Buffer.concat(this.lastString));
    this.readingKeyValue = false;
    if (this.hold === 'none') return;
    if (this.hold === 'pending') {
      for (const piece of this.pending) this.emit(piece);
      this.pending = [];
    } else {
      const tail = this.unescaper.end();
      if (tail === undefined) {
        this.fail('bad-string');
        return;
      }
      if (tail.length > 0) this.held.chunks.push(tail);
      this.held.length += tail.length;
      this.largeValues.set(this.holdField, this.held);
      this.emit(PLACEHOLDER_BYTES);
    }
    this.hold = 'none';
    // The closing quote and what follows go to the parse from here.
    this.emitFrom = quote;
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
