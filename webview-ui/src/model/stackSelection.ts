// "Prune the k lowest of this stack": a depth stack's blocks ranked by their LD-Pruner scores, and the
// prune selection with the stack's part replaced by its k lowest.
import { stackKProblem, type CandidateResult } from '../../../src/protocol/webview';
import { type AncestorsOf, coveringMember, toggleCandidate } from './budget';
import { isPrunable } from './scores';
import type { VStack } from './stacks';

/** Members by score, lowest first; members without a usable score are listed apart. */
export function rankStack(stack: VStack, get: (id: string) => CandidateResult | undefined): { ranked: CandidateResult[]; unscored: string[]; fixed: string[] } {
  const ranked: CandidateResult[] = [];
  const unscored: string[] = [];
  const fixed: string[] = [];
  for (const m of stack.members) {
    const r = get(m);
    if (!r || (r.modification !== 'none' && (r.score === null || !Number.isFinite(r.score)))) unscored.push(m);
    else if (!isPrunable(r)) fixed.push(m);
    else ranked.push(r);
  }
  ranked.sort((a, b) => a.score! - b.score! || (a.id < b.id ? -1 : 1));
  return { ranked, unscored, fixed };
}

/** Why k cannot be asked of this stack, or undefined when it can (the message's own rule). */
export function checkStackK(stack: VStack, k: number): string | undefined {
  return stackKProblem(k, stack.members.length);
}

/**
 * The prune selection with this stack's part replaced by its k lowest-scored members (other members
 * of the stack, anything selected inside them and a selected module around the stack leave it). Refuses while some member has no score:
 * the k lowest of a partly scored stack are not known.
 */
export function selectStackLowest(
  selected: ReadonlySet<string>, stack: VStack, k: number,
  get: (id: string) => CandidateResult | undefined, ancestorsOf: AncestorsOf,
): { selected: Set<string>; picked: string[] } | { error: string } {
  const bad = checkStackK(stack, k);
  if (bad) return { error: bad };
  const { ranked, unscored } = rankStack(stack, get);
  if (unscored.length) return { error: `${unscored.length} of the ${stack.members.length} blocks of ${stack.name} have no score yet (${unscored.slice(0, 3).join(', ')}${unscored.length > 3 ? ', …' : ''}); score at block granularity first` };
  if (ranked.length < k) return { error: `only ${ranked.length} of the ${stack.members.length} blocks of ${stack.name} can be removed` };
  const picked = ranked.slice(0, k).map((r) => r.id);
  const members = new Set(stack.members);
  // a selected module around the stack would take every block with it: asking for k of them replaces it
  const around = new Set(ancestorsOf(stack.members[0]));
  let next = new Set([...selected].filter((id) => !members.has(id) && !around.has(id) && !ancestorsOf(id).some((a) => members.has(a))));
  for (const id of picked) if (!coveringMember(next, id, ancestorsOf)) next = toggleCandidate(next, id, ancestorsOf);
  return { selected: next, picked };
}
