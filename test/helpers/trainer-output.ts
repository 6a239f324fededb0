// What a `distill --json` run printed, as the tests read it: its step events and its done event.
import { parseEvent, type TrainerEvent } from '../../src/core/distill';

export type StepEvent = Extract<TrainerEvent, { event: 'step' }>;
export type DoneEvent = Extract<TrainerEvent, { event: 'done' }>;

export function trainerOutput(stdout: string): { events: TrainerEvent[]; steps: StepEvent[]; done: DoneEvent | undefined } {
  const events = stdout.split('\n').map(parseEvent).filter((e): e is TrainerEvent => !!e);
  return {
    events,
    steps: events.filter((e): e is StepEvent => e.event === 'step'),
    done: events.find((e): e is DoneEvent => e.event === 'done'),
  };
}
