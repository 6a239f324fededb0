// Seeded Gaussian noise, bit-identical across runs and platforms.
//
// Generator: MT19937 (pure-rand's `mersenne`, seeded with init_genrand(seed) exactly like
// C++ std::mt19937 and numpy.random.RandomState(seed)). Uniforms: MT's canonical 53-bit
// construction ((a >>> 5)·2^26 + (b >>> 6)) / 2^53 from two outputs, the same doubles as
// RandomState(seed).random_sample(). Normals: Box–Muller on consecutive uniform pairs (u1, u2):
// r = √(−2·ln(1 − u1)), z0 = r·cos(2π·u2), z1 = r·sin(2π·u2), used in that order, then rounded
// to float32. Math.log/cos/sin in V8 are fdlibm ports, so the doubles do not depend on the CPU
// or OS; the only floating-point operations besides them are IEEE-exact (+, ×, √).
//
// Each sample i of a run draws from its own stream seeded with (seed + i) mod 2^32: the
// initial latent first, then any per-step noise (DDPM, DDIM with η > 0). Results therefore
// do not depend on the batch size, and sample i can be regenerated alone.
import { mersenne } from 'pure-rand/generator/mersenne';

type Generator = ReturnType<typeof mersenne>;

export class GaussianStream {
  private readonly rng: Generator;
  private spare: number | undefined;

  constructor(readonly seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    this.rng = mersenne(seed >>> 0);
  }

  /** U[0, 1) with 53 random bits */
  uniform(): number {
    const a = this.rng.next() >>> 5;
    const b = this.rng.next() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** one standard normal draw (float64) */
  normal(): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return z;
    }
    const u1 = this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(1 - u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** fills `out` (or out[offset, offset+length)) with standard normal float32 values */
  fill(out: Float32Array, offset = 0, length = out.length - offset): Float32Array {
    for (let i = offset; i < offset + length; i++) out[i] = this.normal();
    return out;
  }
}

/** The per-sample seed of sample `index` in a run seeded with `seed`. */
export function sampleSeed(seed: number, index: number): number {
  return (seed + index) >>> 0;
}
