import { createScheduler, SCHEDULER_NAMES, type Tensor } from '../src/engine/schedulers/index.ts';
import { scaleModelInput } from '../src/engine/schedulers/scheduler.ts';
import { seededNormal } from '../src/engine/seeded-noise.ts';

/**
 * Scheduler benchmark: the time of one `step` (plus `scaleModelInput`) per sampler on a 4x128x128
 * latent (one 1024x1024 SDXL image's latents), over a full 25-step loop with a Stable Diffusion
 * 1.5 scheduler config, the model replaced by fixed noise. flow_euler runs with Stable Diffusion 3's
 * config on its 16x128x128 latent (a 1024x1024 SD3 image), four times the data. Target: under 2 ms a
 * step on CPU per 4x128x128 values (8 ms for flow_euler's latent).
 *
 *   node --import tsx bench/schedulers.ts      (BENCH_STEPS, BENCH_ROUNDS to change the loop)
 */
const STEPS = Number(process.env.BENCH_STEPS ?? 25);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const SD15 = {
  _class_name: 'PNDMScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
};
const SD3 = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0 };

interface Workload {
  config: Record<string, unknown>;
  dims: number[];
  prediction: Tensor;
  start: Tensor;
  stepNoise: Float32Array;
}

function workload(channels: number, config: Record<string, unknown>): Workload {
  const dims = [1, channels, 128, 128];
  const size = channels * 128 * 128;
  return {
    config,
    dims,
    prediction: { data: seededNormal(1, 0, size), dims },
    start: { data: seededNormal(2, 0, size), dims },
    stepNoise: seededNormal(3, 0, size),
  };
}

const UNET = workload(4, SD15);
const FLOW = workload(16, SD3);

/** The target scales with the latent: 2 ms per 4x128x128 values. */
const TARGET_MS_PER_VALUE = 2 / (4 * 128 * 128);

function loop(name: string): { stepMs: number; evaluations: number; targetMs: number } {
  const { config, dims, prediction, start, stepNoise } = name === 'flow_euler' ? FLOW : UNET;
  const size = start.data.length;
  const scheduler = createScheduler(name, config);
  scheduler.setTimesteps(STEPS);
  let sample: Tensor = { data: start.data.map((v) => v * scheduler.initNoiseSigma), dims };
  const began = performance.now();
  for (const t of scheduler.timesteps) {
    const input = scaleModelInput(scheduler, sample, t);
    // The scaled input is what the UNet would see; the step itself takes the unscaled sample.
    if (input.data.length !== size) throw new Error(`${name}: scaleModelInput changed the shape`);
    sample = scheduler.step(prediction, t, sample, { noise: () => stepNoise }).prevSample;
  }
  const ms = performance.now() - began;
  return {
    stepMs: ms / scheduler.timesteps.length,
    evaluations: scheduler.timesteps.length,
    targetMs: TARGET_MS_PER_VALUE * size,
  };
}

console.log(
  `scheduler benchmark: one step on a 4x128x128 latent (flow_euler: 16x128x128), ${STEPS} steps, best of ${ROUNDS} loops (CPU, one thread)`,
);
console.log(
  `${'sampler'.padEnd(22)} ${'ms/step'.padStart(8)} ${'steps'.padStart(6)}  target (2 ms per 4x128x128)`,
);
let worst = 0;
const figures: Record<string, number> = {};
for (const name of SCHEDULER_NAMES) {
  loop(name); // warm-up: JIT and first allocations
  let best = Number.POSITIVE_INFINITY;
  let evaluations = 0;
  let targetMs = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const result = loop(name);
    best = Math.min(best, result.stepMs);
    evaluations = result.evaluations;
    targetMs = result.targetMs;
  }
  worst = Math.max(worst, best);
  figures[name] = Number(best.toFixed(3));
  console.log(
    `${name.padEnd(22)} ${best.toFixed(3).padStart(8)} ${String(evaluations).padStart(6)}  ${best < targetMs ? 'ok' : 'SLOW'} (< ${targetMs} ms)`,
  );
}
console.log(`slowest: ${worst.toFixed(3)} ms/step`);
console.log(JSON.stringify({ scheduler_step_ms: figures, slowest_step_ms: Number(worst.toFixed(3)) }));
