// Number formatting for labels, tooltips and panels. Pure: used in node tests too.

const SI = [
  { v: 1e12, s: 'T' },
  { v: 1e9, s: 'G' },
  { v: 1e6, s: 'M' },
  { v: 1e3, s: 'k' },
];

/** 1234 → "1.23k", 860_000_000 → "860M"; three significant digits, no trailing zeros. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  for (const { v, s } of SI) {
    if (a >= v * 0.9995) return `${trimNumber(n / v)}${s}`;
  }
  return Number.isInteger(n) ? String(n) : trimNumber(n);
}

export function formatParams(n: number): string {
  return `${formatCount(n)} params`;
}

/** FLOPs per forward pass (multiply-adds counted as two). */
export function formatFlops(n: number): string {
  const c = formatCount(n);
  return /[kMGT]$/.test(c) ? `${c.slice(0, -1)} ${c.slice(-1)}FLOPs` : `${c} FLOPs`;
}

/** 0.1234 → "12.3%"; tiny non-zero fractions stay visible ("<0.1%"). */
export function formatShare(fraction: number): string {
  if (!Number.isFinite(fraction)) return '—';
  const p = fraction * 100;
  if (p !== 0 && Math.abs(p) < 0.1) return p > 0 ? '<0.1%' : '>-0.1%';
  return `${trimNumber(p, p >= 10 ? 3 : 2)}%`;
}

export function formatPercent(p: number): string {
  return formatShare(p / 100);
}

/** LD-Pruner scores span orders of magnitude: 4 significant digits, exponent when tiny or huge. */
export function formatScore(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  const a = Math.abs(s);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return s.toExponential(2);
  return trimNumber(s, 4);
}

/** [2, 4, 64, 64] → "2×4×64×64"; symbolic dims keep their names; scalar → "scalar". */
export function formatShape(shape: readonly (number | string)[] | undefined): string {
  if (!shape) return '?';
  if (shape.length === 0) return 'scalar';
  return shape.map((d) => (typeof d === 'number' && d < 0 ? '?' : String(d))).join('×');
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms >= 100 ? `${Math.round(ms)} ms` : `${trimNumber(ms, 3)} ms`;
}

function trimNumber(x: number, digits = 3): string {
  if (x === 0) return '0';
  const s = Number(x.toPrecision(digits));
  return String(s);
}

/**
 * Shortens a long module path or node name for a narrow list while keeping it unambiguous: the
 * outer block and the leaf stay whole, the segments between shrink to initials plus index,
 * outermost first, until it fits:
 * `up_blocks.3.attentions.1.transformer_blocks.0.attn1` → `up_blocks.3.a1.tb0.attn1`,
 * `/up_blocks.3/attentions.1/transformer_blocks.0/attn1/MatMul` → `/up_blocks.3/a1/tb0/attn1/MatMul`.
 */
export function compactId(id: string, max = 30): string {
  if (id.length <= max) return id;
  const scoped = id.includes('/');
  const segs: string[] = [];
  if (scoped) segs.push(...id.split('/'));
  else {
    for (const p of id.split('.')) {
      if (/^\d+$/.test(p) && segs.length) segs[segs.length - 1] += `.${p}`;
      else segs.push(p);
    }
  }
  const sep = scoped ? '/' : '.';
  const first = scoped && segs[0] === '' ? 2 : 1;
  for (let i = first; i < segs.length - 1; i++) {
    const m = /^([^.]+)(?:\.(\d+))?$/.exec(segs[i]);
    if (m) segs[i] = m[1].split('_').filter(Boolean).map((w) => w[0]).join('') + (m[2] ?? '');
    const joined = segs.join(sep);
    if (joined.length <= max) return joined;
  }
  return segs.join(sep);
}
