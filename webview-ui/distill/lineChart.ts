// One d3 line chart: step on x, any number of series, optional dashed reference lines (the teacher),
// point markers (the student before training, the best evaluation) and vertical marks (resumes).
// Colours are CSS classes resolved from the VS Code theme (style.css), never fixed here.
import { axisBottom, axisLeft, format, pointer, scaleLinear, scaleLog, select, line as d3line, type Selection } from 'd3';
import { downsampleMinMax, nearestPoint, type Point } from '../../src/core/distill/runSeries';

export interface ChartSeries {
  key: string;
  label: string;
  /** CSS class that colours it (s-blue, s-orange, ...) */
  cls: string;
  points: readonly Point[];
  /** draw each point as a dot too (evaluations are sparse) */
  dots?: boolean;
}

export interface ChartRef {
  label: string;
  value: number;
  cls: string;
}

export interface ChartMarker {
  step: number;
  value: number;
  label: string;
  /** CSS class (m-before, m-best...) */
  cls: string;
}

export interface ChartData {
  series: ChartSeries[];
  refs?: ChartRef[];
  markers?: ChartMarker[];
  vlines?: { step: number; label: string }[];
  /** the x range to show even before points reach it (0..total steps) */
  xDomain: [number, number];
  formatValue?: (v: number) => string;
}

export interface ChartOptions {
  logY?: boolean;
  height: number;
}

const MARGIN = { top: 10, right: 16, bottom: 26, left: 58 };
type G = Selection<SVGGElement, unknown, null, undefined>;

export class LineChart {
  readonly root: HTMLDivElement;
  private svg: Selection<SVGSVGElement, unknown, null, undefined>;
  private plot: G;
  private xAxis: G;
  private yAxis: G;
  private grid: G;
  private hover: G;
  private tip: HTMLDivElement;
  private data: ChartData | undefined;
  private hoverStep: number | undefined;
  private x = scaleLinear();
  private y: ReturnType<typeof scaleLinear<number, number>> | ReturnType<typeof scaleLog<number, number>> = scaleLinear();
  /** points drawn per series key in the last render */
  drawn: Record<string, number> = {};

  constructor(parent: HTMLElement, private readonly opts: ChartOptions) {
    this.root = parent.appendChild(document.createElement('div'));
    this.root.className = 'dc-plot';
    this.svg = select(this.root).append('svg').attr('class', 'dc-svg').attr('height', opts.height);
    this.grid = this.svg.append('g').attr('class', 'dc-grid');
    this.xAxis = this.svg.append('g').attr('class', 'dc-axis dc-axis-x');
    this.yAxis = this.svg.append('g').attr('class', 'dc-axis dc-axis-y');
    this.plot = this.svg.append('g').attr('class', 'dc-lines');
    this.hover = this.svg.append('g').attr('class', 'dc-hover');
    this.tip = this.root.appendChild(document.createElement('div'));
    this.tip.className = 'dc-tip';
    this.tip.hidden = true;
    this.svg
      .append('rect')
      .attr('class', 'dc-capture')
      .on('mousemove', (ev: MouseEvent) => {
        const [mx] = pointer(ev, this.svg.node());
        this.hoverStep = this.x.invert(mx);
        this.drawHover();
      })
      .on('mouseleave', () => {
        this.hoverStep = undefined;
        this.drawHover();
      });
  }

  render(data: ChartData): void {
    this.data = data;
    const width = Math.max(this.root.clientWidth, 240);
    const height = this.opts.height;
    const w = width - MARGIN.left - MARGIN.right;
    const h = height - MARGIN.top - MARGIN.bottom;
    this.svg.attr('width', width).attr('viewBox', `0 0 ${width} ${height}`);
    this.svg.select('.dc-capture').attr('x', MARGIN.left).attr('y', MARGIN.top).attr('width', w).attr('height', h);

    const usable = (v: number) => Number.isFinite(v) && (!this.opts.logY || v > 0);
    const values: number[] = [];
    for (const s of data.series) for (const p of s.points) if (usable(p.value)) values.push(p.value);
    for (const r of data.refs ?? []) if (usable(r.value)) values.push(r.value);
    for (const m of data.markers ?? []) if (usable(m.value)) values.push(m.value);
    let lo = values.length ? Math.min(...minMax(values)) : this.opts.logY ? 0.01 : 0;
    let hi = values.length ? Math.max(...minMax(values)) : 1;
    if (this.opts.logY) {
      // a flat line still gets a decade-ish band so it does not sit on an axis
      const flat = lo === hi;
      lo = flat ? lo / 2 : lo / 1.15;
      hi = flat ? hi * 2 : hi * 1.15;
      this.y = scaleLog().domain([lo, hi]).range([MARGIN.top + h, MARGIN.top]);
    } else {
      const pad = hi === lo ? Math.abs(hi) * 0.1 || 1 : (hi - lo) * 0.08;
      // non-negative quantities (lr, throughput, distances) get no negative axis from the padding
      lo = lo >= 0 ? Math.max(0, lo - pad) : lo - pad;
      hi += pad;
      this.y = scaleLinear().domain([lo, hi]).range([MARGIN.top + h, MARGIN.top]).nice(5);
    }
    const [x0, x1] = data.xDomain;
    this.x = scaleLinear().domain([x0, x1 > x0 ? x1 : x0 + 1]).range([MARGIN.left, MARGIN.left + w]);

    const fmtY = data.formatValue ?? shortNumber;
    const yTicks = this.opts.logY ? logTicks(this.y.domain() as [number, number]) : (this.y as ReturnType<typeof scaleLinear<number, number>>).ticks(5);
    this.xAxis.attr('transform', `translate(0,${MARGIN.top + h})`).call(axisBottom(this.x).ticks(Math.max(2, Math.floor(w / 90))).tickFormat(format('~s')));
    this.yAxis.attr('transform', `translate(${MARGIN.left},0)`).call(axisLeft(this.y).tickValues(yTicks).tickFormat((v) => fmtY(Number(v))));
    this.grid
      .selectAll('line')
      .data(yTicks)
      .join('line')
      .attr('x1', MARGIN.left)
      .attr('x2', MARGIN.left + w)
      .attr('y1', (v) => this.y(v))
      .attr('y2', (v) => this.y(v));

    // one pixel column holds at most a handful of points: min/max per column keeps the shape and spikes
    const line = d3line<Point>()
      .defined((p) => usable(p.value))
      .x((p) => this.x(p.step))
      .y((p) => this.y(p.value));
    this.drawn = {};
    const drawnSeries = data.series.map((s) => {
      const pts = downsampleMinMax(s.points, Math.max(1, Math.round(w)));
      this.drawn[s.key] = pts.length;
      return { ...s, drawnPoints: pts };
    });
    this.plot
      .selectAll<SVGPathElement, (typeof drawnSeries)[number]>('path.dc-line')
      .data(drawnSeries, (d) => d.key)
      .join('path')
      .attr('class', (d) => `dc-line ${d.cls}`)
      .attr('d', (d) => line(d.drawnPoints) ?? '');
    const dotted = drawnSeries.filter((s) => s.dots);
    this.plot
      .selectAll<SVGGElement, (typeof dotted)[number]>('g.dc-dots')
      .data(dotted, (d) => d.key)
      .join('g')
      .attr('class', (d) => `dc-dots ${d.cls}`)
      .selectAll('circle')
      .data((d) => d.drawnPoints.filter((p) => usable(p.value)))
      .join('circle')
      .attr('r', 2.5)
      .attr('cx', (p) => this.x(p.step))
      .attr('cy', (p) => this.y(p.value));

    const refs = (data.refs ?? []).filter((r) => usable(r.value));
    const refG = this.plot.selectAll<SVGGElement, ChartRef>('g.dc-ref').data(refs, (r) => r.label).join((enter) => {
      const g = enter.append('g').attr('class', 'dc-ref');
      g.append('line');
      g.append('text');
      return g;
    });
    refG.attr('class', (r) => `dc-ref ${r.cls}`);
    refG.select('line').attr('x1', MARGIN.left).attr('x2', MARGIN.left + w).attr('y1', (r) => this.y(r.value)).attr('y2', (r) => this.y(r.value));
    refG
      .select('text')
      // mid-chart: the ends hold the before marker (left) and usually the best/latest point (right)
      .attr('x', MARGIN.left + w / 2)
      .attr('y', (r) => this.y(r.value) - 4)
      .attr('text-anchor', 'middle')
      .text((r) => `${r.label} ${fmtY(r.value)}`);

    const vlines = (data.vlines ?? []).filter((v) => v.step >= this.x.domain()[0] && v.step <= this.x.domain()[1]);
    const vG = this.plot.selectAll<SVGGElement, { step: number; label: string }>('g.dc-vline').data(vlines).join((enter) => {
      const g = enter.append('g').attr('class', 'dc-vline');
      g.append('line');
      g.append('text');
      return g;
    });
    vG.select('line').attr('x1', (v) => this.x(v.step)).attr('x2', (v) => this.x(v.step)).attr('y1', MARGIN.top).attr('y2', MARGIN.top + h);
    vG.select('text').attr('x', (v) => this.x(v.step) + 3).attr('y', MARGIN.top + 10).text((v) => v.label);

    const markers = (data.markers ?? []).filter((m) => usable(m.value));
    const mG = this.plot.selectAll<SVGGElement, ChartMarker>('g.dc-marker').data(markers, (m) => m.label).join((enter) => {
      const g = enter.append('g');
      g.append('circle').attr('r', 5);
      g.append('text').attr('dy', -8);
      return g;
    });
    mG.attr('class', (m) => `dc-marker ${m.cls}`).attr('transform', (m) => `translate(${this.x(m.step)},${this.y(m.value)})`);
    mG.select('text')
      .attr('text-anchor', (m) => (this.x(m.step) < MARGIN.left + 60 ? 'start' : this.x(m.step) > MARGIN.left + w - 60 ? 'end' : 'middle'))
      .text((m) => m.label);
    this.drawHover();
  }

  /** The vertical rule and read-out at the hovered step: every series' value at its nearest logged step. */
  private drawHover(): void {
    const d = this.data;
    const step = this.hoverStep;
    const rows: { label: string; cls: string; point: Point }[] = [];
    if (d && step !== undefined) {
      for (const s of d.series) {
        const p = nearestPoint(s.points, step);
        if (p) rows.push({ label: s.label, cls: s.cls, point: p });
      }
    }
    if (!d || step === undefined || !rows.length) {
      this.hover.selectAll('*').remove();
      this.tip.hidden = true;
      return;
    }
    const at = rows.reduce((best, r) => (Math.abs(r.point.step - step) < Math.abs(best - step) ? r.point.step : best), rows[0].point.step);
    const [y0, y1] = this.y.range();
    this.hover
      .selectAll('line')
      .data([at])
      .join('line')
      .attr('x1', (s) => this.x(s))
      .attr('x2', (s) => this.x(s))
      .attr('y1', y1)
      .attr('y2', y0);
    this.hover
      .selectAll('circle')
      .data(rows.filter((r) => Number.isFinite(r.point.value) && (!this.opts.logY || r.point.value > 0)))
      .join('circle')
      .attr('class', (r) => r.cls)
      .attr('r', 3.5)
      .attr('cx', (r) => this.x(r.point.step))
      .attr('cy', (r) => this.y(r.point.value));
    const fmt = d.formatValue ?? preciseNumber;
    const tip = select(this.tip);
    tip.selectAll('*').remove();
    tip.append('div').attr('class', 'dc-tip-head').text(`step ${at}`);
    for (const r of rows) {
      const row = tip.append('div').attr('class', 'dc-tip-row');
      row.append('span').attr('class', `dc-swatch ${r.cls}`);
      row.append('span').text(r.label);
      row.append('span').attr('class', 'dc-tip-value').text(`${fmt(r.point.value)}${r.point.step !== at ? ` @${r.point.step}` : ''}`);
    }
    this.tip.hidden = false;
    const px = this.x(at);
    const wide = this.root.clientWidth;
    // keep the read-out inside the chart: right of the rule, or left of it near the right edge
    const left = px + 12 + this.tip.offsetWidth > wide ? px - 12 - this.tip.offsetWidth : px + 12;
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${MARGIN.top}px`;
  }
}

function minMax(values: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Log-axis ticks: powers of ten over many decades; 1-2-5 steps (0.01, 0.02, 0.05, 0.1...) over a few. */
function logTicks([lo, hi]: [number, number]): number[] {
  const decades = Math.log10(hi) - Math.log10(lo);
  const mantissas = decades > 3 ? [1] : decades > 0.8 ? [1, 2, 5] : [1, 1.5, 2, 3, 4, 5, 6, 8];
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mantissas) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) out.push(Number(v.toPrecision(6)));
    }
  }
  // a range inside one tick step still gets its ends labelled
  return out.length >= 2 ? out : scaleLog().domain([lo, hi]).ticks(4);
}

const si = format('.3~s');
const sci = format('.2~e');
export function shortNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-2 && a < 1e4) return format('.3~g')(v);
  return a >= 1e4 ? si(v) : sci(v);
}

export function preciseNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e6 ? format('.4~g')(v) : format('.3~e')(v);
}
