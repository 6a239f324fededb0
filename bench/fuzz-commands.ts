// The larger run of hostile files through the commands (bench/fuzz/commands.ts): prints the outcome
// counts per command and every contract failure as JSON. Usage: npx tsx bench/fuzz-commands.ts [cases] [seed]
import { runCommandFuzz } from './fuzz/commands';

async function main(): Promise<void> {
  const cases = Number(process.argv[2] ?? 80);
  const seed = Number(process.argv[3] ?? 20261206);
  const s = await runCommandFuzz({ cases, seed, onCase: (i) => { if (i % 10 === 0) process.stderr.write(`case ${i}/${cases}\n`); } });
  console.log(JSON.stringify({ ...s, problems: s.problems.map((p) => ({ ...p, stderr: p.stderr.slice(-600) })) }, null, 2));
  process.exitCode = s.problems.length ? 1 : 0;
}
void main();
