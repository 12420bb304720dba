#!/usr/bin/env node
// The `superconverge` command. The TypeScript sources are compiled to lib/ by `npm run build`
// (run by `npm ci` through the `prepare` script).
import { main } from '../lib/cli/index.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
