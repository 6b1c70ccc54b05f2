// The public surface of restnet as text: every name lib/index.ts exports, its kind, and for
// values their type (functions: their signatures), one per line, sorted. `node
// scripts/api-listing.mjs` prints it; `--write` stores it in api/restnet.api.txt, which
// test/api-surface.test.ts compares against, so a change of the surface is a visible diff.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const listingPath = join(root, 'api', 'restnet.api.txt');

function kindOf(symbol) {
  const f = symbol.flags;
  if (f & ts.SymbolFlags.Class) return 'class';
  if (f & ts.SymbolFlags.Function) return 'function';
  if (f & ts.SymbolFlags.Interface) return 'interface';
  if (f & ts.SymbolFlags.TypeAlias) return 'type';
  if (f & ts.SymbolFlags.Enum) return 'enum';
  if (f & ts.SymbolFlags.Variable) return 'const';
  return 'other';
}

function isPublic(declaration) {
  const modifiers = ts.canHaveModifiers(declaration) ? (ts.getModifiers(declaration) ?? []) : [];
  const hidden = modifiers.some(
    (m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword,
  );
  return !hidden && !(declaration.name && ts.isPrivateIdentifier(declaration.name));
}

function optional(symbol) {
  return symbol.flags & ts.SymbolFlags.Optional ? '?' : '';
}

/** `name?: type` of every property of an interface or object type. */
function properties(checker, type, at, flags) {
  return checker
    .getPropertiesOfType(type)
    .map(
      (p) =>
        `${p.getName()}${optional(p)}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(p, at), undefined, flags)}`,
    );
}

/** The members a class declares itself (not inherited ones), public only, statics marked. */
function classMembers(checker, symbol, flags) {
  const out = [];
  const add = (member, prefix) => {
    const declaration = member.valueDeclaration ?? member.declarations?.[0];
    if (!declaration || !isPublic(declaration) || ['prototype', '__constructor'].includes(member.getName())) return;
    const type = checker.typeToString(checker.getTypeOfSymbolAtLocation(member, declaration), undefined, flags);
    out.push(`${prefix}${member.getName()}${optional(member)}: ${type}`);
  };
  symbol.members?.forEach((m) => add(m, ''));
  symbol.exports?.forEach((m) => add(m, 'static '));
  return out.sort();
}

/** The listing's lines for the program rooted at lib/index.ts. */
export function apiListing() {
  const configPath = join(root, 'tsconfig.json');
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  const entry = join(root, 'lib', 'index.ts');
  const program = ts.createProgram([entry], config.options);
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry));
  const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;
  const lines = [];
  for (const exported of checker.getExportsOfModule(module)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const kind = kindOf(symbol);
    const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
    let shape = '';
    if (kind === 'function' || kind === 'const') {
      shape = `: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, declaration), undefined, flags)}`;
    } else if (kind === 'class') {
      shape = ` { ${classMembers(checker, symbol, flags).join('; ')} }`;
    } else if (kind === 'interface') {
      shape = ` { ${properties(checker, checker.getDeclaredTypeOfSymbol(symbol), declaration, flags).join('; ')} }`;
    } else if (kind === 'type') {
      shape = ` = ${checker.typeToString(checker.getDeclaredTypeOfSymbol(symbol), undefined, flags | ts.TypeFormatFlags.InTypeAlias)}`;
    }
    lines.push(`${kind} ${exported.getName()}${shape}`);
  }
  return lines.sort((a, b) => a.split(' ')[1].localeCompare(b.split(' ')[1]) || a.localeCompare(b));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = `${apiListing().join('\n')}\n`;
  if (process.argv.includes('--write')) writeFileSync(listingPath, text);
  else process.stdout.write(text);
}
