/**
 * Writes schema/tune-config.schema.json from the zod schema of the tune config (the single source).
 * Run: node --import tsx scripts/tune-config-schema.ts   (a test checks the file is up to date)
 */
import { writeFileSync } from 'node:fs';
import { tuneConfigJsonSchema } from '../src/sdk/recipe/config.js';

const file = new URL('../schema/tune-config.schema.json', import.meta.url);
writeFileSync(file, JSON.stringify(tuneConfigJsonSchema(), null, 2) + '\n');
console.log(`wrote ${file.pathname}`);
