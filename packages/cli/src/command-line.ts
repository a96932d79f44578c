import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliUsageError } from './cli-usage-error.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** A command's option values (strings, booleans, string lists for `multiple`) and its positionals. */
export interface ParsedCommandLine<Options extends OptionSpecs> {
  values: { [Name in keyof Options]?: Options[Name] extends { multiple: true } ? string[] : Options[Name] extends { type: 'boolean' } ? boolean : string } & { help?: boolean };
  positionals: string[];
}

/** Every command takes --help. */
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const satisfies OptionSpecs;

/**
 * Parses a command's arguments strictly (unknown options are errors, not
 * ignored), turning node:util's TypeErrors into CliUsageErrors that point at
 * the command's --help.
 */
export function parseCommandLine<const Options extends OptionSpecs>(command: string, args: readonly string[], options: Options): ParsedCommandLine<Options> {
  try {
    return parseArgs({ args: [...args], options: { ...options, ...HELP_OPTION }, allowPositionals: true, strict: true }) as ParsedCommandLine<Options>;
  } catch (cause) {
    throw new CliUsageError(`${(cause as Error).message} Run 'nnd ${command} --help' for the options.`, { cause });
  }
}

/** A positive integer option such as --tokens. */
export function positiveIntegerOption(command: string, name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new CliUsageError(`--${name} is ${JSON.stringify(value)}; allowed: a positive integer (e.g. --${name} 65536). Run 'nnd ${command} --help'.`);
  }
  return number;
}
