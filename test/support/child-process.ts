import type { ChildProcess } from 'node:child_process';

/** Resolves with the first stdout line of `proc` matching `pattern`; rejects on timeout or exit. */
export function waitForLine(proc: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(
      () => reject(new Error(`no line matching ${pattern}; got: ${buffer}`)),
      timeoutMs,
    );
    proc.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => pattern.test(l));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited with ${code}: ${buffer}`));
    });
  });
}
