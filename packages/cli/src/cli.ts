#!/usr/bin/env node
import { relaunchWithLargeBufferReuse } from '@nnd/train';
import { runCli } from './run-cli.js';

// Training steps copy large buffers every step; see relaunchWithLargeBufferReuse for why this is a relaunch.
const code = (await relaunchWithLargeBufferReuse()) ?? (await runCli(process.argv.slice(2)));
// Exit explicitly once stdout has drained: ONNX Runtime's threads or a W&B timer may otherwise hold the process open.
process.stdout.write('', () => process.exit(code));
