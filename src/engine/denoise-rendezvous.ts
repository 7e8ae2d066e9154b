import { type DenoiseRequest, denoiseTogether } from './denoise.ts';
import type { Tensor } from './schedulers/tensor.ts';

export type DenoiseFunction = (request: DenoiseRequest) => Promise<Tensor>;

interface Waiting {
  request: DenoiseRequest;
  resolve: (latents: Tensor) => void;
  reject: (error: unknown) => void;
}

/**
 * Where the renders of a batch meet: each job renders through the ordinary pipeline side by side,
 * and its denoise call waits here until every job still rendering has either reached its own
 * denoise call or finished (a job whose input picture is bad fails before it gets here). Then all
 * the waiting calls run as one `denoiseTogether`. A second denoise per job (an SDXL refiner's pass)
 * meets again the same way.
 */
export class DenoiseRendezvous {
  private waiting: Waiting[] = [];
  private participants: number;

  constructor(
    participants: number,
    private readonly onGroup?: (lanes: number) => void,
  ) {
    this.participants = participants;
  }

  readonly denoise: DenoiseFunction = (request) =>
    new Promise<Tensor>((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.runWhenAllArrived();
    });

  /** A participant that will not call `denoise` again: its render finished or failed. */
  leave(): void {
    this.participants--;
    this.runWhenAllArrived();
  }

  private runWhenAllArrived(): void {
    if (this.waiting.length === 0 || this.waiting.length < this.participants) return;
    const round = this.waiting;
    this.waiting = [];
    const options = this.onGroup !== undefined ? { onGroup: this.onGroup } : {};
    denoiseTogether(
      round.map((w) => w.request),
      options,
    ).forEach((latents, i) => {
      latents.then(round[i]!.resolve, round[i]!.reject);
    });
  }
}
