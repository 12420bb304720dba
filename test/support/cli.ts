/** Runs the CLI from the TypeScript sources (tests spawn it as a real process: exit codes, stderr). */
import { main } from '../../src/cli/index.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
