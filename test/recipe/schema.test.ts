import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { tuneConfigJsonSchema } from '../../src/sdk/recipe/index.js';

describe('schema/tune-config.schema.json', () => {
  const published = JSON.parse(readFileSync('schema/tune-config.schema.json', 'utf8'));
  it('is up to date with the zod schema (regenerate with scripts/tune-config-schema.ts)', () => {
    expect(published).toEqual(JSON.parse(JSON.stringify(tuneConfigJsonSchema())));
  });
  it('accepts examples/tune.yml and rejects an unknown key', () => {
    const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ strict: false });
    const validate = ajv.compile(published);
    const example = parse(readFileSync('examples/tune.yml', 'utf8'));
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...example, lrr: 1 })).toBe(false);
    expect(validate.errors![0].params).toEqual({ additionalProperty: 'lrr' });
  });
});
