#!/usr/bin/env node
// The `superconverge` command. The TypeScript sources are compiled to lib/ by `npm run build`
// (run by `npm ci` through the `prepare` script).
import { run } from '../lib/cli/index.js';

run(process.argv);
