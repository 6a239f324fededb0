// Every CLI command, in the order `--help` lists them. Add a command by adding its module here.
import type { Command } from 'commander';
import { register as inspect } from './inspect';
import { register as sample } from './sample';
import { register as convert } from './convert';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [inspect, convert, sample];
