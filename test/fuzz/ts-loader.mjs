// ESM loader hooks: `.ts` files are transpiled per file (types stripped, no type check: tsc and
// vitest check them), and a `./x.js` import from a `.ts` file resolves to `./x.ts` as under
// NodeNext module resolution.
import { readFile } from 'node:fs/promises';

import ts from 'typescript';

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const fromTs = context.parentURL?.endsWith('.ts');
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !fromTs || !specifier.endsWith('.js')) throw error;
    return next(`${specifier.slice(0, -3)}.ts`, context);
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const source = await readFile(new URL(url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: url,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  });
  return { format: 'module', source: outputText, shortCircuit: true };
}
