// Bundles the GitHub Action (src/action/index.ts) into one ESM file, dist/index.js, which the
// runner executes with no node_modules (action.yml: runs.using node24). ESM because
// @actions/core 3 and @actions/github 9 are ESM-only. Build: `npm run build:action`.
//
// TypeScript is transpiled per file (ts.transpileModule), not type-checked here: `npm run
// typecheck` does that for the whole project, and a whole-program check made every build take
// ~40 s and depend on unrelated files.
import commonjs from '@rollup/plugin-commonjs';
import json from '@rollup/plugin-json';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import ts from 'typescript';

const outDir = process.env.SUPERCONVERGE_DIST_DIR || 'dist';

/** `./foo.js` written in NodeNext style resolves to `./foo.ts`; the TS is transpiled to ES2022. */
function transpileTypeScript() {
  return {
    name: 'superconverge-transpile-ts',
    resolveId(source, importer) {
      if (!importer || !source.startsWith('.') || !source.endsWith('.js') || !importer.endsWith('.ts')) return null;
      const candidate = resolve(dirname(importer), source.slice(0, -3) + '.ts');
      return existsSync(candidate) ? candidate : null;
    },
    transform(code, id) {
      if (!id.endsWith('.ts') || id.includes('node_modules')) return null;
      const out = ts.transpileModule(code, {
        fileName: id,
        compilerOptions: {
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.ESNext,
          sourceMap: false,
          verbatimModuleSyntax: false,
          isolatedModules: true,
        },
      });
      return { code: out.outputText, map: null };
    },
  };
}

export default {
  input: 'src/action/index.ts',
  output: {
    file: `${outDir}/index.js`,
    format: 'es',
    sourcemap: false,
    // CommonJS dependencies call require(); give the ESM bundle one.
    banner:
      "import { createRequire as __scCreateRequire } from 'node:module'; const require = __scCreateRequire(import.meta.url);",
    inlineDynamicImports: true,
  },
  plugins: [
    transpileTypeScript(),
    nodeResolve({ preferBuiltins: true, exportConditions: ['node', 'import', 'default'] }),
    commonjs(),
    json(),
  ],
  onwarn(warning, warn) {
    // Circular imports inside @actions/* and the Azure SDK are theirs and harmless.
    if (warning.code === 'CIRCULAR_DEPENDENCY' || warning.code === 'THIS_IS_UNDEFINED' || warning.code === 'INVALID_ANNOTATION') return;
    warn(warning);
  },
};
