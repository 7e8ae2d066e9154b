import { SingleBar } from 'cli-progress';

export interface Progress {
  update(step: number, total: number): void;
  stop(): void;
}

/**
 * A progress bar for a person watching: only when `stream` is a terminal. Piped into a file or
 * another program, `\r` redraws would pile up as "step 1/25step 2/25…", so nothing is drawn.
 */
export function terminalProgress(stream: NodeJS.WriteStream): Progress | undefined {
  if (stream.isTTY !== true) return undefined;
  const bar = new SingleBar(
    { format: 'rendering {bar} step {value}/{total}', hideCursor: true, stream },
    undefined,
  );
  let started = false;
  return {
    update(step, total) {
      if (!started) {
        bar.start(total, step);
        started = true;
      } else bar.update(step);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
