import { CodedError } from '../../errors/coded-error.ts';

/** Errors for calls the pipeline should never make: they are bugs, reported with what was wrong. */
export function misuse(className: string, message: string): CodedError {
  return new CodedError('engine-failed', `${className}: ${message}`);
}

export function assertInferenceSteps(className: string, n: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(n) || n < 1)
    throw misuse(className, `the number of inference steps must be a whole number >= 1, got ${n}`);
  if (n > numTrainTimesteps) {
    throw misuse(className, `${n} inference steps exceed num_train_timesteps (${numTrainTimesteps})`);
  }
}

/** A discrete training timestep used as an index into alphas_cumprod. */
export function assertTrainTimestep(className: string, t: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= numTrainTimesteps) {
    throw misuse(className, `timestep must be a whole number in 0..${numTrainTimesteps - 1}, got ${t}`);
  }
}

export function requireNoise(className: string, noise: (() => Float32Array) | undefined): () => Float32Array {
  if (noise === undefined)
    throw misuse(className, 'this step adds noise: pass options.noise (a seeded standard-normal source)');
  return noise;
}
