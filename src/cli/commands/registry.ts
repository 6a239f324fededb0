// Every command module's register function, by command name: loaded only to run a command (run.ts),
// never for the command list. index.ts lists the same names with their one-line summaries.
import type { RegisterCommand } from './index';
import { register as inspect } from './inspect';
import { register as convert } from './convert';
import { register as sample } from './sample';
import { register as measure } from './measure';
import { register as candidates } from './candidates';
import { register as score } from './score';
import { register as mergeScores } from './merge-scores';
import { register as faithfulness } from './faithfulness';
import { register as prune } from './prune';
import { register as report } from './report';
import { register as distill } from './distill';

export const registers: Record<string, RegisterCommand> = {
  inspect, convert, sample, measure, candidates, score, 'merge-scores': mergeScores, faithfulness, report, prune, distill,
};
