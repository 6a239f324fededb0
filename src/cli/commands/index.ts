// Every CLI command, in the order `--help` lists them. Add a command by adding its module here.
import type { Command } from 'commander';
import { register as inspect } from './inspect';
import { register as sample } from './sample';
import { register as convert } from './convert';
import { register as candidates } from './candidates';
import { register as score } from './score';
import { register as mergeScores } from './merge-scores';
import { register as faithfulness } from './faithfulness';
import { register as prune } from './prune';
import { register as distill } from './distill';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [inspect, convert, sample, candidates, score, mergeScores, faithfulness, prune, distill];
