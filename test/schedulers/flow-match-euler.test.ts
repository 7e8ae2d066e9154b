import { describe, expect, it } from 'vitest';
import { resolutionShift } from '../../src/engine/schedulers/flow-match-euler-discrete-scheduler.ts';
import {
  createScheduler,
  FlowMatchEulerDiscreteScheduler,
  timestepsForStrength,
} from '../../src/engine/schedulers/index.ts';
import { scaleModelInput } from '../../src/engine/schedulers/scheduler.ts';
import type { SchedulerConfig } from '../../src/engine/schedulers/scheduler-config.ts';
import type { Tensor } from '../../src/engine/schedulers/tensor.ts';
import { CodedError } from '../../src/errors/coded-error.ts';
import { resolveSampler } from '../../src/request/sampler-names.ts';
import { absStats, dummyModel, dummyNoiseDeter, dummySampleDeter } from './support/diffusers-fixtures.ts';

// The expected values come from diffusers' formulas evaluated with numpy in torch's float32:
// test/schedulers/support/flow-match-reference.py prints every one of them.

// stabilityai/stable-diffusion-3.5-medium scheduler/scheduler_config.json as published (SD3 medium's
// differs only in _diffusers_version); every other key takes the class default.
const SD35 = {
  _class_name: 'FlowMatchEulerDiscreteScheduler',
  _diffusers_version: '0.29.0.dev0',
  num_train_timesteps: 1000,
  shift: 3.0,
};

function sigmasFor(config: SchedulerConfig, steps: number, context = {}): number[] {
  const scheduler = new FlowMatchEulerDiscreteScheduler(config, context);
  scheduler.setTimesteps(steps);
  return scheduler.sigmas;
}

function fullLoop(config: SchedulerConfig, steps: number): Tensor {
  const scheduler = new FlowMatchEulerDiscreteScheduler(config);
  scheduler.setTimesteps(steps);
  let sample = dummySampleDeter();
  for (const t of scheduler.timesteps) {
    const input = scaleModelInput(scheduler, sample, t);
    sample = scheduler.step(dummyModel(input, t), t, sample).prevSample;
  }
  return sample;
}

function expectClose(actual: readonly number[], expected: readonly number[], tolerance = 1e-6): void {
  expect(actual).toHaveLength(expected.length);
  for (const [i, v] of actual.entries())
    expect(Math.abs(v - (expected[i] as number))).toBeLessThan(tolerance);
}

describe('FlowMatchEulerDiscreteScheduler against diffusers formulas', () => {
  it('SD3.5 config, 28 steps: timesteps are sigma x 1000 from 1000 down, sigmas end in 0', () => {
    const scheduler = createScheduler('FlowMatchEulerDiscreteScheduler', SD35);
    scheduler.setTimesteps(28);
    const t = scheduler.timesteps;
    expect(t).toHaveLength(28);
    expectClose(
      [t[0]!, t[1]!, t[2]!, t[27]!],
      [1000.0, 987.380615234375, 974.1077270507812, 8.928571701049805],
      1e-3,
    );
    const { sigmas } = scheduler as FlowMatchEulerDiscreteScheduler;
    expect(sigmas).toHaveLength(29);
    expect(sigmas[28]).toBe(0);
    expect(Math.abs(sigmas[27]! - 0.008928571827709675)).toBeLessThan(1e-8);
    for (const [i, ts] of t.entries()) expect(ts).toBe(Math.fround(sigmas[i]! * 1000));
    expect(scheduler.initNoiseSigma).toBe(1);
  });

  it('full loop with the common test fixtures, shift 3: abs sum 129.3495, mean 0.168424', () => {
    const { sum, mean } = absStats(fullLoop(SD35, 10));
    expect(Math.abs(sum - 129.34945684947888)).toBeLessThan(1e-3);
    expect(Math.abs(mean - 0.16842377193942562)).toBeLessThan(1e-6);
  });

  it('full loop unshifted (shift 1): abs sum 133.3620', () => {
    const { sum } = absStats(fullLoop({ ...SD35, shift: 1 }, 10));
    expect(Math.abs(sum - 133.36204533613636)).toBeLessThan(1e-3);
  });

  it('a larger shift spends more of the schedule at high noise', () => {
    const low = sigmasFor({ ...SD35, shift: 1 }, 10);
    const high = sigmasFor({ ...SD35, shift: 6 }, 10);
    for (let i = 1; i < 10; i++) expect(high[i]!).toBeGreaterThan(low[i]!);
  });

  it('scaleModelInput is the identity and step is Euler in sigma along the velocity', () => {
    const scheduler = new FlowMatchEulerDiscreteScheduler(SD35);
    scheduler.setTimesteps(4);
    const sample = dummySampleDeter();
    const t0 = scheduler.timesteps[0]!;
    expect(scheduler.modelInputScale(t0)).toBe(1);
    expect(scaleModelInput(scheduler, sample, t0)).toBe(sample);
    const velocity = dummyNoiseDeter();
    const { prevSample, predOriginalSample } = scheduler.step(velocity, t0, sample);
    const [s0, s1] = [scheduler.sigmas[0]!, scheduler.sigmas[1]!];
    for (const i of [0, 17, 191]) {
      const x = sample.data[i]!;
      const v = velocity.data[i]!;
      expect(prevSample.data[i]).toBeCloseTo(x + (s1 - s0) * v, 6);
      expect(predOriginalSample?.data[i]).toBeCloseTo(x - s0 * v, 6);
    }
  });

  it('dynamic shifting resolves mu from the image sequence length as SD3 pipeline does', () => {
    expect(resolutionShift(1024, 256, 4096, 0.5, 1.15)).toBeCloseTo(0.63, 12);
    const dynamic = { ...SD35, use_dynamic_shifting: true };
    expectClose(
      sigmasFor(dynamic, 10, { imageSeqLen: 1024 }),
      [
        1.0, 0.93764728307724, 0.8680755496025085, 0.789953887462616, 0.7016031742095947, 0.6008735299110413,
        0.48496735095977783, 0.3501753509044647, 0.191472128033638, 0.0018759643426164985, 0.0,
      ],
    );
    // An explicit mu wins over the sequence length.
    expect(sigmasFor(dynamic, 10, { imageSeqLen: 4096, mu: 0.63 })).toEqual(
      sigmasFor(dynamic, 10, { imageSeqLen: 1024 }),
    );
    expectClose(
      sigmasFor({ ...dynamic, time_shift_type: 'linear' }, 4, { mu: 0.63 }),
      [1.0, 0.5578922033309937, 0.24009037017822266, 0.0006302332039922476, 0.0],
    );
  });

  it('refuses dynamic shifting without the image size, naming the key', () => {
    expect(() => new FlowMatchEulerDiscreteScheduler({ ...SD35, use_dynamic_shifting: true })).toThrow(
      /"use_dynamic_shifting" needs the image size/,
    );
  });

  it('shift_terminal stretches the schedule to end there; Karras sigmas respace it', () => {
    expectClose(
      sigmasFor({ ...SD35, shift_terminal: 0.1 }, 6),
      [
        1.0, 0.9303867220878601, 0.8355628252029419, 0.6988047957420349, 0.4843989908695221,
        0.10000000149011612, 0.0,
      ],
    );
    expectClose(
      sigmasFor({ ...SD35, use_karras_sigmas: true }, 6),
      [
        1.0, 0.4855075776576996, 0.21688620746135712, 0.08723194897174835, 0.03060854785144329,
        0.008928571827709675, 0.0,
      ],
    );
  });

  it('img2img: SD3 get_timesteps keeps 17 of 28 steps at strength 0.6 and scale_noise mixes at that sigma', () => {
    const scheduler = createScheduler('flow_euler', SD35);
    const { timesteps, startTimestep, numInferenceSteps } = timestepsForStrength(scheduler, 28, 0.6);
    expect(numInferenceSteps).toBe(17);
    expect(timesteps).toHaveLength(17);
    expect(Math.abs(startTimestep - 814.3247680664062)).toBeLessThan(1e-3);
    const noised = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), startTimestep);
    expect(Math.abs(absStats(noised).sum - 383.50000059604645)).toBeLessThan(1e-3);
    // The loop then starts at that index: stepping from the first kept timestep uses sigma[11].
    const flow = scheduler as FlowMatchEulerDiscreteScheduler;
    const out = scheduler.step(dummyNoiseDeter(), startTimestep, noised).prevSample;
    const i = 5;
    expect(out.data[i]).toBeCloseTo(
      noised.data[i]! + (flow.sigmas[12]! - flow.sigmas[11]!) * dummyNoiseDeter().data[i]!,
      6,
    );
  });

  it('stochastic sampling draws noise each step and refuses to run without it', () => {
    const scheduler = new FlowMatchEulerDiscreteScheduler({ ...SD35, stochastic_sampling: true });
    expect(scheduler.stochastic).toBe(true);
    scheduler.setTimesteps(2);
    const t0 = scheduler.timesteps[0]!;
    expect(() => scheduler.step(dummyNoiseDeter(), t0, dummySampleDeter())).toThrow(/options\.noise/);
    const noise = dummyNoiseDeter().data;
    const out = scheduler.step(dummyNoiseDeter(), t0, dummySampleDeter(), { noise: () => noise });
    const [s0, s1] = [scheduler.sigmas[0]!, scheduler.sigmas[1]!];
    const x0 = dummySampleDeter().data[3]! - s0 * noise[3]!;
    expect(out.prevSample.data[3]).toBeCloseTo((1 - s1) * x0 + s1 * noise[3]!, 6);
  });
});

describe('flow_euler: names and refusals', () => {
  it('is reachable by easel name, diffusers class and the usual spellings', () => {
    expect(createScheduler('flow_euler', SD35).className).toBe('FlowMatchEulerDiscreteScheduler');
    expect(createScheduler('FlowMatchEulerDiscreteScheduler', SD35).className).toBe(
      'FlowMatchEulerDiscreteScheduler',
    );
    expect(resolveSampler('Flow Euler')).toBe('flow_euler');
    expect(resolveSampler('flow-match euler')).toBe('flow_euler');
    expect(resolveSampler('FlowMatchEulerDiscreteScheduler')).toBe('FlowMatchEulerDiscreteScheduler');
  });

  it('refuses unknown or out-of-range config values, naming the key', () => {
    const cases: Array<[SchedulerConfig, RegExp]> = [
      [
        { time_shift_type: 'cosine' },
        /"time_shift_type" must be one of "exponential", "linear", got "cosine"/,
      ],
      [{ shift: 0 }, /"shift" must be > 0/],
      [{ shift: 'three' }, /"shift" must be a finite number/],
      [{ invert_sigmas: true }, /"invert_sigmas" is not supported/],
      [{ shift_terminal: 1.5 }, /"shift_terminal" must be between 0 and 1/],
      [{ use_karras_sigmas: true, use_beta_sigmas: true }, /use only one of/],
      [{ num_train_timesteps: 10.5 }, /"num_train_timesteps" must be a whole number/],
    ];
    for (const [patch, message] of cases) {
      const attempt = () => createScheduler('flow_euler', { ...SD35, ...patch });
      expect(attempt).toThrow(CodedError);
      expect(attempt).toThrow(message);
    }
  });

  it('the noise-prediction samplers refuse a flow-matching model, and flow_euler refuses the others', () => {
    for (const name of ['euler', 'euler_a', 'ddim', 'dpmpp_2m_karras', 'lcm', 'EulerDiscreteScheduler']) {
      expect(() => createScheduler(name, SD35)).toThrow(
        new RegExp(
          `FlowMatchEulerDiscreteScheduler, a flow-matching model .*"${name}" cannot sample it; use flow_euler`,
        ),
      );
    }
    const sd15 = { _class_name: 'PNDMScheduler', beta_schedule: 'scaled_linear', num_train_timesteps: 1000 };
    expect(() => createScheduler('flow_euler', sd15)).toThrow(/PNDMScheduler, not a flow-matching model/);
  });
});
