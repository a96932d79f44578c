/** Levenshtein distance: the fewest single-character insertions, deletions and substitutions turning a into b. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The `count` candidates nearest to `target` by edit distance, nearest first (ties keep candidate order). */
export function closestNames(target: string, candidates: readonly string[], count = 3): string[] {
  return candidates
    .map((name, order) => ({ name, order, distance: editDistance(target, name) }))
    .sort((a, b) => a.distance - b.distance || a.order - b.order)
    .slice(0, count)
    .map(({ name }) => name);
}
