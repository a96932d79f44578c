import { runName } from '@nnd/logging';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { locateCheckpoint } from './checkpoint-location.js';
import type { MemberConfig } from './run-config.js';

/**
 * The members of a resumed run, named as when the run began. A derived name
 * holds the lr (`..._topk_32_0.0003`), and a resume may lower lr (the advice
 * after a divergence): such a name is derived again with the lr the
 * checkpoint trained with, so the resume continues the run directory it came
 * from instead of starting a new one beside it. Given names stay as they are;
 * a checkpoint that does not fit the run is left for the trainer to reject.
 */
export async function resumedMemberNames(members: readonly MemberConfig[], resumeFrom: string): Promise<MemberConfig[]> {
  let savedLrs: unknown[];
  try {
    const { checkpoint } = await locateCheckpoint(resumeFrom);
    const state = JSON.parse(readFileSync(join(checkpoint, 'trainer_state.json'), 'utf8')) as { members?: { train_config?: { lr?: unknown } }[] };
    savedLrs = (state.members ?? []).map((member) => member.train_config?.lr);
  } catch {
    // Not a readable checkpoint: the trainer says why when it resumes.
    return [...members];
  }
  if (savedLrs.length !== members.length) return [...members];
  return members.map((member, index) => {
    const lr = savedLrs[index];
    if (typeof lr !== 'number' || lr === member.lr || member.name !== runName(member)) return member;
    return { ...member, name: runName({ ...member, lr }) };
  });
}
