#!/usr/bin/env node
import { runCli } from './run-cli.js';

const code = await runCli(process.argv.slice(2));
// Exit explicitly once stdout has drained: ONNX Runtime's threads or a W&B timer may otherwise hold the process open.
process.stdout.write('', () => process.exit(code));
