/**
 * A model's matrix names in a few words for error messages: with every
 * name `blocks.{L}.{rest}`, the rests once and the block range
 * (`blocks.{0-3}.{attn.W_Q, ..., mlp.W_out}`), so the whole set fits on a
 * line whatever the depth; otherwise the names themselves.
 */
export function describeMatrixNames(names: readonly string[]): string {
  const blocks = names.map((name) => /^blocks\.(\d+)\.(.+)$/.exec(name));
  if (names.length === 0 || blocks.some((match) => match === null)) return names.join(', ');
  const layers = [...new Set(blocks.map((match) => Number(match![1])))].sort((a, b) => a - b);
  const rests = [...new Set(blocks.map((match) => match![2]))];
  const contiguous = layers.every((layer, index) => layer === layers[0] + index);
  const range = layers.length === 1 ? String(layers[0]) : contiguous ? `${layers[0]}-${layers[layers.length - 1]}` : layers.join(',');
  return `blocks.{${range}}.{${rests.join(', ')}}`;
}
