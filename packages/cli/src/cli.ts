#!/usr/bin/env node
import { relaunchWithLargeBufferReuse } from '@nnd/train';
import { COMMANDS, runCli } from './run-cli.js';

const args = process.argv.slice(2);
const trains = COMMANDS.find((command) => command.name === args[0])?.trains === true;
const code = (trains ? await relaunchWithLargeBufferReuse() : undefined) ?? (await runCli(args));
// Exit explicitly once stdout has drained: ONNX Runtime's threads or a W&B timer may otherwise hold the process open.
process.stdout.write('', () => process.exit(code));
