import { describe, expect, it } from 'vitest';
import {
  createScheduler,
  DpmSolverMultistepScheduler,
  EulerDiscreteScheduler,
  SCHEDULER_NAMES,
} from '../../src/engine/schedulers/index.ts';
import { CodedError } from '../../src/errors/coded-error.ts';

// Stable Diffusion 1.5's scheduler/scheduler_config.json as published.
const SD15_PNDM = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

// Stable Diffusion 3's scheduler/scheduler_config.json.
const SD3_FLOW = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0 };

describe('createScheduler', () => {
  it('builds every easel sampler from a model config, ignoring keys it does not use', () => {
    const expected: Record<string, string> = {
      euler: 'EulerDiscreteScheduler',
      euler_a: 'EulerAncestralDiscreteScheduler',
      ddim: 'DDIMScheduler',
      dpmpp_2m: 'DPMSolverMultistepScheduler',
      dpmpp_2m_karras: 'DPMSolverMultistepScheduler',
      lcm: 'LCMScheduler',
      pndm: 'PNDMScheduler',
      heun: 'HeunDiscreteScheduler',
      lms: 'LMSDiscreteScheduler',
      lms_karras: 'LMSDiscreteScheduler',
      dpm_single: 'DPMSolverSinglestepScheduler',
      dpm_single_karras: 'DPMSolverSinglestepScheduler',
      dpm2: 'KDPM2DiscreteScheduler',
      dpm2_karras: 'KDPM2DiscreteScheduler',
      dpm2_a: 'KDPM2AncestralDiscreteScheduler',
      dpm2_a_karras: 'KDPM2AncestralDiscreteScheduler',
      unipc: 'UniPCMultistepScheduler',
      deis: 'DEISMultistepScheduler',
      dpmpp_2m_sde: 'DPMSolverMultistepScheduler',
      dpmpp_2m_sde_karras: 'DPMSolverMultistepScheduler',
      flow_euler: 'FlowMatchEulerDiscreteScheduler',
    };
    for (const name of SCHEDULER_NAMES) {
      // flow_euler samples only flow-matching models (test/schedulers/flow-match-euler.test.ts).
      const scheduler = createScheduler(name, name === 'flow_euler' ? SD3_FLOW : SD15_PNDM);
      expect(scheduler.className).toBe(expected[name]);
      scheduler.setTimesteps(4);
      expect(scheduler.timesteps.length).toBeGreaterThanOrEqual(4);
    }
  });

  it('accepts diffusers class names too', () => {
    expect(createScheduler('EulerDiscreteScheduler', SD15_PNDM)).toBeInstanceOf(EulerDiscreteScheduler);
  });

  it('uses each scheduler’s own default spacing, not the source scheduler’s (diffusers from_config)', () => {
    const pndm = createScheduler('pndm', SD15_PNDM);
    pndm.setTimesteps(5);
    expect(pndm.timesteps).toEqual([801, 601, 601, 401, 201, 1]);
    const ddim = createScheduler('ddim', SD15_PNDM);
    ddim.setTimesteps(5);
    expect(ddim.timesteps).toEqual([801, 601, 401, 201, 1]);
    const euler = createScheduler('euler', SD15_PNDM);
    euler.setTimesteps(5);
    // Euler's default is linspace: 999 down to 0.
    expect(euler.timesteps).toEqual([999, 749.25, 499.5, 249.75, 0]);
  });

  it('dpmpp_2m_karras uses Karras sigmas and dpmpp_2m does not, whatever the config says', () => {
    const karras = createScheduler('dpmpp_2m_karras', { ...SD15_PNDM, use_karras_sigmas: false });
    const plain = createScheduler('dpmpp_2m', { ...SD15_PNDM, use_karras_sigmas: true });
    expect(karras).toBeInstanceOf(DpmSolverMultistepScheduler);
    karras.setTimesteps(10);
    plain.setTimesteps(10);
    expect(plain.timesteps).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
    expect(karras.timesteps).not.toEqual(plain.timesteps);
    // Karras spacing crowds the low-noise end: the last gap is far smaller than the first.
    const ts = karras.timesteps;
    expect((ts[0] as number) - (ts[1] as number)).toBeGreaterThan(
      5 * ((ts[8] as number) - (ts[9] as number)),
    );
  });

  it('euler_a starts from noise of sigma_max scale and Euler with linspace spacing reports sigma_max itself', () => {
    const euler = createScheduler('euler', SD15_PNDM);
    euler.setTimesteps(20);
    expect(euler.initNoiseSigma).toBeCloseTo(14.6146, 3);
  });

  it('names an unknown scheduler and lists the known ones', () => {
    expect(() => createScheduler('dpm_fast', {})).toThrow(
      /unknown scheduler "dpm_fast"; use one of euler, euler_a/,
    );
  });

  describe('bad scheduler_config.json values get a message naming the key and what is allowed', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      [
        'beta_schedule',
        { beta_schedule: 'cosine' },
        /"beta_schedule" must be one of "linear", "scaled_linear", "squaredcos_cap_v2", got "cosine"/,
      ],
      [
        'timestep_spacing',
        { timestep_spacing: 'even' },
        /"timestep_spacing" must be one of "linspace", "leading", "trailing"/,
      ],
      [
        'prediction_type',
        { prediction_type: 'flow' },
        /"prediction_type" must be one of "epsilon", "v_prediction", "sample"/,
      ],
      ['num_train_timesteps', { num_train_timesteps: 10.5 }, /"num_train_timesteps" must be a whole number/],
      ['beta_end', { beta_end: '0.02' }, /"beta_end" must be a finite number, got "0.02"/],
      ['clip_sample', { clip_sample: 'yes' }, /"clip_sample" must be true or false/],
      [
        'trained_betas',
        { trained_betas: [0.1, 0.2] },
        /"trained_betas" has 2 values but num_train_timesteps is 1000/,
      ],
      ['steps_offset', { steps_offset: -1 }, /"steps_offset" must be >= 0/],
    ];
    for (const [key, config, message] of cases) {
      it(key, () => {
        let error: unknown;
        try {
          createScheduler('ddim', config);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(CodedError);
        expect((error as CodedError).code).toBe('model-invalid');
        expect((error as CodedError).message).toMatch(message);
      });
    }
  });

  it('rejects unsupported options instead of sampling differently', () => {
    expect(() => createScheduler('euler', { use_exponential_sigmas: true })).toThrow(
      /"use_exponential_sigmas" is not supported/,
    );
    expect(() => createScheduler('euler', { interpolation_type: 'log_linear' })).toThrow(
      /"interpolation_type"/,
    );
  });

  it('refuses step counts outside 1..num_train_timesteps', () => {
    const scheduler = createScheduler('ddim', {});
    expect(() => scheduler.setTimesteps(0)).toThrow(/whole number >= 1, got 0/);
    expect(() => scheduler.setTimesteps(1001)).toThrow(/exceed num_train_timesteps \(1000\)/);
  });

  it('accepts every ported diffusers class name, with the config as given', () => {
    for (const className of [
      'HeunDiscreteScheduler',
      'LMSDiscreteScheduler',
      'DPMSolverSinglestepScheduler',
      'KDPM2DiscreteScheduler',
      'KDPM2AncestralDiscreteScheduler',
      'UniPCMultistepScheduler',
      'DEISMultistepScheduler',
    ]) {
      expect(createScheduler(className, SD15_PNDM).className).toBe(className);
    }
    const sde = createScheduler('DPMSolverMultistepScheduler', { algorithm_type: 'sde-dpmsolver++' });
    expect(sde.stochastic).toBe(true);
  });

  it('a Karras name uses Karras sigmas and the plain name does not, whatever the model config says', () => {
    for (const [plain, karras] of [
      ['lms', 'lms_karras'],
      ['dpm2', 'dpm2_karras'],
      ['dpm2_a', 'dpm2_a_karras'],
      ['dpm_single', 'dpm_single_karras'],
      ['dpmpp_2m_sde', 'dpmpp_2m_sde_karras'],
    ] as const) {
      const a = createScheduler(plain, { ...SD15_PNDM, use_karras_sigmas: true, use_beta_sigmas: true });
      const b = createScheduler(karras, { ...SD15_PNDM, use_exponential_sigmas: true });
      const reference = createScheduler(plain, SD15_PNDM);
      a.setTimesteps(10);
      b.setTimesteps(10);
      reference.setTimesteps(10);
      expect(a.timesteps, plain).toEqual(reference.timesteps);
      expect(b.timesteps, karras).not.toEqual(reference.timesteps);
    }
  });

  it('the SDE and ancestral names are stochastic, the rest deterministic', () => {
    const stochastic = SCHEDULER_NAMES.filter(
      (name) => createScheduler(name, name === 'flow_euler' ? SD3_FLOW : SD15_PNDM).stochastic,
    );
    expect(stochastic).toEqual([
      'euler_a',
      'lcm',
      'dpm2_a',
      'dpm2_a_karras',
      'dpmpp_2m_sde',
      'dpmpp_2m_sde_karras',
    ]);
  });

  describe('an option a port does not implement is refused with its key named, never ignored', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['heun', { rescale_betas_zero_snr: true }, /"rescale_betas_zero_snr" is not supported/],
      ['lms', { rescale_betas_zero_snr: true }, /"rescale_betas_zero_snr" is not supported/],
      ['dpm2', { prediction_type: 'sample' }, /"prediction_type"/],
      ['dpm2_a', { rescale_betas_zero_snr: true }, /"rescale_betas_zero_snr"/],
      ['dpm_single', { variance_type: 'learned_range' }, /"variance_type"/],
      ['dpm_single', { use_flow_sigmas: true }, /"use_flow_sigmas"/],
      ['unipc', { solver_p: { _class_name: 'DPMSolverMultistepScheduler' } }, /"solver_p"/],
      ['unipc', { use_dynamic_shifting: true }, /"use_dynamic_shifting"/],
      ['deis', { use_flow_sigmas: true }, /"use_flow_sigmas"/],
      ['dpmpp_2m_sde', { use_lu_lambdas: true }, /"use_lu_lambdas"/],
      [
        'DPMSolverMultistepScheduler',
        { algorithm_type: 'sde-dpmsolver', solver_order: 3, final_sigmas_type: 'sigma_min' },
        /"solver_order"/,
      ],
      [
        'HeunDiscreteScheduler',
        { use_karras_sigmas: true, use_beta_sigmas: true },
        /"use_karras_sigmas" cannot be combined/,
      ],
      ['UniPCMultistepScheduler', { beta_schedule: 'exp' }, /"beta_schedule" must be one of/],
    ];
    for (const [name, config, message] of cases) {
      it(`${name} with ${Object.keys(config).join(', ')}`, () => {
        let error: unknown;
        try {
          createScheduler(name, config);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(CodedError);
        expect((error as CodedError).code).toBe('model-invalid');
        expect((error as CodedError).message).toMatch(message);
      });
    }
  });
});
