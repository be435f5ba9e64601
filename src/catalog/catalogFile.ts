import fs from 'node:fs/promises';
import YAML from 'yaml';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { CatalogDocumentSchema } from './catalogSchema.ts';
import { CatalogError } from './catalogStore.ts';
import type { CatalogDocument } from './types.ts';

const checkDocument = TypeCompiler.Compile(CatalogDocumentSchema);

/** Validates a parsed catalog document, naming every offending field (`/tables/0/tier: ...`). */
export function validateCatalogDocument(doc: unknown, origin: string): CatalogDocument {
  if (!checkDocument.Check(doc)) {
    const problems = [...checkDocument.Errors(doc)].slice(0, 20).map((e) => `  ${e.path || '/'}: ${e.message}${e.value !== undefined && typeof e.value !== 'object' ? ` (got ${JSON.stringify(e.value)})` : ''}`);
    throw new CatalogError(`${origin} is not a valid catalog:\n${problems.join('\n')}`);
  }
  return doc as CatalogDocument;
}

/** Reads a catalog YAML (or JSON, which is YAML too) file. */
export async function readCatalogFile(file: string): Promise<CatalogDocument> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new CatalogError(`cannot read catalog file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text) ?? {};
  } catch (error) {
    throw new CatalogError(`${file} is not valid YAML: ${(error as Error).message}`);
  }
  return validateCatalogDocument(parsed, file);
}
