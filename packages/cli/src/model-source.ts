// The names live in @nnd/models, so HookedTransformer.fromPretrained('tiny-lm') works in the library as in the CLI.
export { modelLocation, TINY_LM } from '@nnd/models';
