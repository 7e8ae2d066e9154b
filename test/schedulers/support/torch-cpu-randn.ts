/**
 * torch's CPU `randn` for float32 tensors of 16 or more elements, after `torch.manual_seed(seed)`:
 * mt19937 draws one 24-bit uniform per element, then every block of 16 is turned into normals by
 * Box-Muller (`normal_fill_16` in aten/src/ATen/native/cpu/DistributionTemplates.h). Lets the tests
 * reproduce diffusers' published values for schedulers that draw noise from a torch generator.
 * (Values agree with torch to float32 rounding; torch's AVX2 path uses vectorised log/sin/cos.)
 */
class Mt19937 {
  private readonly state = new Uint32Array(624);
  private index = 624;

  constructor(seed: number) {
    this.state[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = (this.state[i - 1] as number) ^ ((this.state[i - 1] as number) >>> 30);
      this.state[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.state[this.index++] as number;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    for (let i = 0; i < 624; i++) {
      const y = ((s[i] as number) & 0x80000000) | ((s[(i + 1) % 624] as number) & 0x7fffffff);
      let v = (s[(i + 397) % 624] as number) ^ (y >>> 1);
      if (y & 1) v ^= 0x9908b0df;
      s[i] = v >>> 0;
    }
    this.index = 0;
  }
}

export class TorchCpuGenerator {
  private readonly mt: Mt19937;

  constructor(seed: number) {
    this.mt = new Mt19937(seed);
  }

  /** `at::uniform_real_distribution<float>(0, 1)`: the low 24 bits of one draw, times 2^-24. */
  private uniform(): number {
    return Math.fround((this.mt.nextUint32() & 0xffffff) * 2 ** -24);
  }

  /** `torch.randn(n, generator=g)` for float32, n >= 16. */
  randn(n: number): Float32Array {
    if (n < 16) throw new RangeError('only the >= 16 element path of torch.randn is reproduced');
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = this.uniform();
    for (let i = 0; i + 16 <= n; i += 16) normalFill16(data, i);
    if (n % 16 !== 0) {
      // torch recomputes the last 16 values from fresh uniforms.
      for (let i = n - 16; i < n; i++) data[i] = this.uniform();
      normalFill16(data, n - 16);
    }
    return data;
  }
}

function normalFill16(data: Float32Array, offset: number): void {
  const f32 = Math.fround;
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - (data[offset + j] as number));
    const u2 = data[offset + j + 8] as number;
    const radius = f32(Math.sqrt(f32(-2 * f32(Math.log(u1)))));
    const theta = f32(2 * Math.PI * u2);
    data[offset + j] = radius * f32(Math.cos(theta));
    data[offset + j + 8] = radius * f32(Math.sin(theta));
  }
}
