/** Runs the CLI from the TypeScript sources (tests spawn it as a real process: exit codes, stderr). */
import { run } from '../../src/cli/index.js';

run(process.argv);
