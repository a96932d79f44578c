/**
 * A short label for a set of decomposed matrices, for tables and plot legends: matrices that differ only in
 * their block index are listed once with their blocks as ranges (`mlp.W_in@0-3`), and C once when every
 * matrix has the same. The full list (eight GPT-2 MLP matrices are 150 characters) made every comparison
 * table unreadable.
 */
export function moduleLabel(modules: readonly { readonly name: string; readonly C: number }[]): string {
  const blocksOf = new Map<string, number[]>();
  const order: string[] = [];
  for (const { name } of modules) {
    const match = /^blocks\.(\d+)\.(.+)$/.exec(name);
    const key = match ? match[2] : name;
    if (!blocksOf.has(key)) {
      blocksOf.set(key, []);
      order.push(key);
    }
    if (match) blocksOf.get(key)!.push(Number(match[1]));
  }
  const parts = order.map((key) => {
    const blocks = blocksOf.get(key)!;
    return blocks.length === 0 ? key : `${key}@${ranges(blocks)}`;
  });
  const counts = [...new Set(modules.map(({ C }) => C))];
  const sizes = counts.length === 1 ? `:${counts[0]}` : '';
  return counts.length === 1 ? `${parts.join(',')}${sizes}` : modules.map(({ name, C }) => `${name}:${C}`).join(',');
}

function ranges(values: readonly number[]): string {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let start = 0; start < sorted.length; ) {
    let end = start;
    while (end + 1 < sorted.length && sorted[end + 1] === sorted[end] + 1) end++;
    runs.push(end === start ? `${sorted[start]}` : `${sorted[start]}-${sorted[end]}`);
    start = end + 1;
  }
  return runs.join('.');
}
