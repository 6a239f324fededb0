// Command-line flag values, checked in one place for every command so each error reads the same:
// `--flag 'value': expected …`.
import { UserError } from '../core/errors';
import { SCHEDULER_SETTINGS, type SchedulerSetting } from '../core/pipeline/schedulers/types';
import type { Granularity } from '../core/surgery/types';

export const GRANULARITIES: readonly Granularity[] = ['block', 'layer', 'both'];
export const SCHEDULERS: readonly SchedulerSetting[] = SCHEDULER_SETTINGS;

/** An integer, at least `min` when one is given. */
export function intFlag(flag: string, v: string | undefined, min?: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || (min !== undefined && n < min)) throw new UserError(`${flag} '${v}': expected an integer${min !== undefined ? ` ≥ ${min}` : ''}`);
  return n;
}

/** A finite number; `min` bounds it from below, `above` strictly. */
export function numFlag(flag: string, v: string | undefined, range: { min?: number; above?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  const bound = range.min !== undefined ? ` ≥ ${range.min}` : range.above !== undefined ? ` > ${range.above}` : '';
  if (!Number.isFinite(n) || (range.min !== undefined && n < range.min) || (range.above !== undefined && n <= range.above)) {
    throw new UserError(`${flag} '${v}': expected a number${bound}`);
  }
  return n;
}

/** Comma-separated integers, each at least `min`. */
export function intListFlag(flag: string, v: string, min: number): number[] {
  const list = v.split(',').map((s) => Number(s.trim()));
  if (!list.length || list.some((k) => !Number.isInteger(k) || k < min)) throw new UserError(`${flag} '${v}': expected integers ≥ ${min}, comma-separated (e.g. 2,4,8)`);
  return list;
}

/** One of a fixed set of words. */
export function choiceFlag<T extends string>(flag: string, v: string, choices: readonly T[]): T;
export function choiceFlag<T extends string>(flag: string, v: string | undefined, choices: readonly T[]): T | undefined;
export function choiceFlag<T extends string>(flag: string, v: string | undefined, choices: readonly T[]): T | undefined {
  if (v === undefined || choices.includes(v as T)) return v as T | undefined;
  const list = choices.length <= 3 ? `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}` : `one of ${choices.join(', ')}`;
  throw new UserError(`${flag} '${v}': expected ${list}`);
}

/** Commander's collector for a repeatable option (`--input a=1 --input b=2`). */
export const repeatable = (v: string, acc: string[]): string[] => [...acc, v];

/** `NAME=D1,D2,...` (or `NAME=D1xD2x...`), one --input value. */
export function parseInputShape(spec: string): [string, number[]] {
  const eq = spec.lastIndexOf('=');
  const name = spec.slice(0, eq).trim();
  const dims = spec.slice(eq + 1).split(/[,x]/).map((d) => d.trim());
  if (eq <= 0 || !dims.length || dims.some((d) => !/^\d+$/.test(d))) {
    throw new UserError(`--input '${spec}': expected NAME=D1,D2,... with non-negative integer dims (e.g. sample=1,4,64,64)`);
  }
  return [name, dims.map(Number)];
}

/** Every --input value by input name; a name given twice is an error rather than a silent override. */
export function inputShapesFlag(specs: readonly string[]): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const spec of specs) {
    const [name, dims] = parseInputShape(spec);
    if (name in shapes) throw new UserError(`--input '${name}' is given twice`);
    shapes[name] = dims;
  }
  return shapes;
}
