// The colour key: gradient between the lowest and highest score seen, plus swatches for the two
// states that have no score colour.
import { formatScore } from '../model/format';
import { heatPosition, legendStops, type HeatDomain } from '../model/heatmap';
import { h } from './dom';

export class Legend {
  readonly el: HTMLElement;
  private bar: HTMLElement;
  private min: HTMLElement;
  private max: HTMLElement;
  private scale: HTMLElement;
  private marker: HTMLElement;
  private domain: HeatDomain | null = null;

  constructor(host: HTMLElement) {
    this.bar = h('div', { class: 'legend-bar', role: 'img', 'aria-label': 'score colour scale' });
    this.bar.style.background = `linear-gradient(to right, ${legendStops(12).map((s) => `${s.color} ${(s.offset * 100).toFixed(1)}%`).join(', ')})`;
    this.marker = h('div', { class: 'legend-marker', 'aria-hidden': 'true' });
    this.bar.append(this.marker);
    this.min = h('span', { class: 'legend-min' });
    this.max = h('span', { class: 'legend-max' });
    this.scale = h('span', { class: 'legend-scale' });
    this.el = h(
      'section',
      { class: 'legend', 'aria-label': 'Legend' },
      h('div', { class: 'legend-head' }, h('span', { class: 'legend-title' }, 'LD-Pruner score'), this.scale),
      this.bar,
      h('div', { class: 'legend-range' }, this.min, h('span', { class: 'legend-hint' }, 'prune first → keep'), this.max),
      h(
        'div',
        { class: 'legend-keys' },
        h('span', { class: 'legend-key' }, h('span', { class: 'swatch swatch-unscored' }), 'not scored'),
        h('span', { class: 'legend-key' }, h('span', { class: 'swatch swatch-unmodifiable' }), 'cannot modify'),
        h('span', { class: 'legend-key' }, h('span', { class: 'swatch swatch-inherited' }), 'inside a candidate'),
      ),
    );
    host.append(this.el);
    this.setDomain(null);
  }

  setDomain(d: HeatDomain | null): void {
    this.domain = d;
    this.el.classList.toggle('empty', !d);
    this.min.textContent = d ? formatScore(d.min) : '—';
    this.max.textContent = d ? formatScore(d.max) : '—';
    this.scale.textContent = d ? (d.log ? 'log scale' : 'linear') : 'no scores yet';
    this.mark(null);
  }

  /** Shows where a hovered item's score sits on the scale. */
  mark(score: number | null): void {
    if (score === null || !this.domain) {
      this.marker.classList.remove('visible');
      return;
    }
    this.marker.classList.add('visible');
    this.marker.style.left = `${(heatPosition(this.domain, score) * 100).toFixed(2)}%`;
  }
}
