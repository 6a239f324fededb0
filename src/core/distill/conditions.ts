// The conditions the PyTorch trainer distills with, decided once for the CLI's `distill` and the
// extension's distill job. The trainer encodes prompts itself only for the project's word-level
// tokenizer (it then also knows each prompt's class for its accuracy metric); every other tokenizer
// this package reads (tokenizer.json, CLIP's slow files) is run here, in TypeScript, and the trainer
// gets the encoder hidden states as `--conditions <run folder>/conditions.npy`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeConditions, type ConditionInput } from '../pipeline/conditions';
import { conditionNpys } from '../pipeline/condition-embeddings';
import { modelFileOf, readPipelineLayout } from '../pipeline/layout';
import { writeFileAtomic } from '../pipeline/output-files';
import { loadTokenizer } from '../pipeline/tokenizers';
import { resolveTarget } from '../scoring/target';

export interface TrainerConditions {
  /** what the UI and the CLI say was used */
  line: string;
  /** an embeddings .npy the user gave */
  file?: string;
  /** encoder hidden states [N, L, D] made here, written into the run folder by trainerConditionArgs */
  npy?: Uint8Array;
  /** SDXL: the pooled text embeddings [N, P] of the same rows, written beside them (the trainer's --text-embeds) */
  textEmbedsNpy?: Uint8Array;
}

/** The name the encoded conditions get inside a run folder. */
export const CONDITIONS_FILE = 'conditions.npy';
/** ... and SDXL's pooled text embeddings. */
export const TEXT_EMBEDS_FILE = 'conditions-text-embeds.npy';

/**
 * What the trainer needs for `input` when distilling with the pipeline around `model` (the teacher,
 * else the student): undefined where it makes its own (no pipeline, no text encoder, an unconditional
 * U-Net, or the defaults with the word-level tokenizer it reads).
 */
export async function trainerConditions(model: string, input: ConditionInput): Promise<TrainerConditions | undefined> {
  const pipeline = resolveTarget(model).pipeline;
  if (!pipeline) return input.kind === 'embeddings' ? { line: describeConditions(input), file: input.file } : undefined;
  const layout = readPipelineLayout(pipeline);
  if (input.kind === 'embeddings') return { line: describeConditions(input), file: input.file };
  if (!layout.textEncoderPath) return undefined;
  if (input.kind === 'default' && layout.tokenizerFolder && loadTokenizer(layout.tokenizerFolder).kind === 'word-level') return undefined;
  const npys = await conditionNpys(pipeline, input);
  return npys && { line: describeConditions(input), npy: npys.hidden, ...(npys.textEmbeds ? { textEmbedsNpy: npys.textEmbeds } : {}) };
}

/** The trainer's --conditions file: the user's .npy, or the encoded conditions written (atomically) into `runDir`. */
export function trainerConditionsFile(c: Pick<TrainerConditions, 'file' | 'npy'> | undefined, runDir: string): string | undefined {
  if (c?.file) return c.file;
  if (!c?.npy) return undefined;
  const file = join(runDir, CONDITIONS_FILE);
  mkdirSync(runDir, { recursive: true });
  writeFileAtomic(file, c.npy);
  return file;
}

/** The trainer's --text-embeds file (SDXL), written (atomically) into `runDir` beside the conditions. */
export function trainerTextEmbedsFile(c: Pick<TrainerConditions, 'textEmbedsNpy'> | undefined, runDir: string): string | undefined {
  if (!c?.textEmbedsNpy) return undefined;
  const file = join(runDir, TEXT_EMBEDS_FILE);
  mkdirSync(runDir, { recursive: true });
  writeFileAtomic(file, c.textEmbedsNpy);
  return file;
}

export function trainerConditionArgs(c: Pick<TrainerConditions, 'file' | 'npy' | 'textEmbedsNpy'> | undefined, runDir: string): string[] {
  const file = trainerConditionsFile(c, runDir);
  const pooled = trainerTextEmbedsFile(c, runDir);
  return [...(file ? ['--conditions', file] : []), ...(pooled ? ['--text-embeds', pooled] : [])];
}

/**
 * The run folder the trainer would pick for `student` (python/ld_surgeon_distill/train.py
 * default_run_dir: STUDENT_UNET.distill-runs/<local time>), fixed here when conditions must be
 * written into it before the trainer starts.
 */
export function defaultTrainerRunDir(student: string, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `${modelFileOf(student).replace(/\.onnx$/i, '')}.distill-runs/${stamp}`;
}
