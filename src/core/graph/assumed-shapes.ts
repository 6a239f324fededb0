// FLOPs need concrete sizes. A model exported with a symbolic batch (and often symbolic spatial
// sizes: an SDXL U-Net's sample is [batch, 4, height, width]) would count nothing; instead its cost
// is counted at batch 1 and at default sizes for the other symbolic dims, and the analysis says
// exactly what it assumed (inspect prints it; --input overrides it).
import type { DimValue } from './shapes';

/** One symbolic (or unknown) input dim and the size FLOPs were counted at. */
export interface AssumedDim {
  input: string;
  axis: number;
  /** the dim's symbol ('batch', 'height'), null when the model leaves it unnamed */
  symbol: string | null;
  value: number;
  /**
   * why this size: 'batch' (axis 0), 'config' (the sample_size of the diffusers config.json beside
   * the model), 'spatial' (SD-1.5's 64×64 latent), 'sequence' (CLIP's 77 tokens), else 'default'
   */
  rule: 'batch' | 'config' | 'spatial' | 'sequence' | 'default';
}

export interface FlopsAssumption {
  /** the concrete input shapes the FLOPs were counted at */
  inputs: Record<string, number[]>;
  dims: AssumedDim[];
}

const SIZES: Record<Exclude<AssumedDim['rule'], 'config'>, number> = { batch: 1, spatial: 64, sequence: 77, default: 1 };

function ruleFor(rank: number, axis: number): AssumedDim['rule'] {
  if (axis === 0) return 'batch';
  if (rank === 4 && axis >= 2) return 'spatial';
  if (rank === 3 && axis === 1) return 'sequence';
  return 'default';
}

/**
 * Concrete shapes for inputs with symbolic or unknown dims; undefined when every input shape is
 * already concrete, or an input's rank is unknown (nothing sensible to assume). A symbol gets one
 * size everywhere it appears (the first place decides).
 */
export function assumeInputShapes(shapes: Readonly<Record<string, readonly DimValue[] | undefined>>, configLatent?: readonly number[]): FlopsAssumption | undefined {
  const entries = Object.entries(shapes);
  if (entries.every(([, s]) => s?.every((d) => typeof d === 'number'))) return undefined;
  const bySymbol = new Map<string, number>();
  const inputs: Record<string, number[]> = {};
  const dims: AssumedDim[] = [];
  for (const [input, shape] of entries) {
    if (!shape) continue;
    // diffusers names the U-Net's latent input 'sample'; the config's latent must fit its channels
    const fromConfig = input === 'sample' && shape.length === 4 && configLatent?.length === 4 && (typeof shape[1] !== 'number' || shape[1] === configLatent[1]);
    inputs[input] = shape.map((d, axis) => {
      if (typeof d === 'number') return d;
      let rule: AssumedDim['rule'] = ruleFor(shape.length, axis);
      let size = rule === 'config' ? 1 : SIZES[rule];
      if (rule === 'spatial' && fromConfig) {
        rule = 'config';
        size = configLatent![axis];
      }
      const value = (d !== null && bySymbol.get(d)) || size;
      if (d !== null) bySymbol.set(d, value);
      dims.push({ input, axis, symbol: d, value, rule });
      return value;
    });
  }
  return dims.length ? { inputs, dims } : undefined;
}

/** 'batch=1, height=64, width=64' — each symbol once; unnamed dims as input[axis]. */
export function describeAssumption(a: FlopsAssumption): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const d of a.dims) {
    const label = d.symbol ?? `${d.input}[${d.axis}]`;
    if (seen.has(label)) continue;
    seen.add(label);
    parts.push(`${label}=${d.value}`);
  }
  const config = a.dims.some((d) => d.rule === 'config') ? ' (latent size from the config.json beside the model)' : '';
  return parts.join(', ') + config;
}
