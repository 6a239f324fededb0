// Number-valued command-line flags, checked once for every command so each error reads the same.
import { UserError } from '../core/errors';

export function intFlag(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${flag} '${v}': expected an integer ≥ ${min}`);
  return n;
}

export function numFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UserError(`${flag} '${v}': expected a number`);
  return n;
}
