/**
 * How deep a YAML request body may nest. A catalog document needs a handful of levels
 * (the bound below counts every column of indentation as one).
 * The yaml parser recurses once per level: at thousands of levels (`[[[[…`) the stack runs
 * out, and when that happens inside V8's regular-expression compiler the process aborts
 * ("RegExpCompiler Allocation failed") instead of throwing — one request killed the daemon.
 */
export const MAX_YAML_NESTING = 128;

/**
 * A conservative upper bound on a YAML text's nesting, measured without parsing it: the
 * deepest run of open flow brackets (`[`, `{`, quotes ignored — a bracket inside a string
 * only makes the bound larger) plus the deepest block prefix (indentation and `-`, `?`, `:`
 * indicators at the start of a line, each level needing at least one column), plus the top-level
 * collection itself.
 */
export function yamlNestingBound(text: string): number {
  let flow = 0;
  let deepestFlow = 0;
  let deepestBlock = 0;
  let atLineStart = true;
  let prefix = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (atLineStart) {
      // space, tab, '-', '?', ':'
      if (c === 32 || c === 9 || c === 45 || c === 63 || c === 58) { prefix++; continue; }
      if (prefix > deepestBlock) deepestBlock = prefix;
      atLineStart = false;
    }
    if (c === 10) { atLineStart = true; prefix = 0; continue; }
    if (c === 91 || c === 123) { flow++; if (flow > deepestFlow) deepestFlow = flow; } // '[' '{'
    else if ((c === 93 || c === 125) && flow > 0) flow--; // ']' '}'
  }
  if (atLineStart && prefix > deepestBlock) deepestBlock = prefix;
  return 1 + deepestFlow + deepestBlock;
}
