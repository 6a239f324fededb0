// The trainer's progress protocol: one JSON object per line on stdout and in `<runDir>/events.jsonl`. Kept free
// of Node APIs because the chart webview reads the same lines in the browser.

/**
 * One line of the trainer's stdout (see python/ld_surgeon_distill/train.py). The trainer also appends each
 * to `events.jsonl` in its run folder (a resumed run keeps appending), so a run can be replayed later.
 */
export type TrainerEvent =
  /** `pid` and `host`: the trainer's main process, so a chart on the same host can tell whether it still runs */
  | { event: 'start'; steps?: number; device?: string; device_name?: string; python?: string; torch?: string; resumed?: boolean; pid?: number; host?: string; [k: string]: unknown }
  | { event: 'setup'; features?: { matched: string[]; skipped: string[] }; [k: string]: unknown }
  | { event: 'data_progress'; done: number; total: number }
  | { event: 'data'; source: string; samples: number; cached: boolean }
  | { event: 'step'; step: number; loss: number; loss_task?: number; loss_out?: number; loss_feat?: number; lr?: number; samples_per_s?: number }
  | { event: 'eval'; step: number; metrics: Record<string, number>; best?: boolean; teacher?: Record<string, number> }
  | { event: 'checkpoint'; step: number; path: string }
  /** a resumed run continues from this checkpoint step: events logged after it are redone */
  | { event: 'resume'; step: number }
  | { event: 'cancelled'; step: number; checkpoint?: string }
  | { event: 'done'; output: string | null; metrics_before?: Record<string, number>; metrics_after?: Record<string, number> | null; metrics_teacher?: Record<string, number>; best_step?: number | null; gpu_memory_peak_gb?: number; [k: string]: unknown }
  | { event: 'error'; message: string };

/** Reads one line of the trainer's output (stdout or events.jsonl); undefined for anything that is not an event. */
export function parseEvent(line: string): TrainerEvent | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  let m: unknown;
  try {
    m = JSON.parse(t);
  } catch {
    // Python's json.dumps writes NaN/Infinity as bare tokens (a diverged loss); read them as null so the line
    // stays an event and the chart can say where the run diverged
    try {
      m = JSON.parse(t.replace(/([:[,]\s*)(?:NaN|-?Infinity)(?=\s*[,}\]])/g, '$1null'));
    } catch {
      return undefined;
    }
  }
  return m && typeof m === 'object' && typeof (m as { event?: unknown }).event === 'string' ? (m as TrainerEvent) : undefined;
}
