/** Plain-text rendering for the on-call commands: aligned columns, relative times, optional colour. */

const ESC = '\u001b[';
const ANSI = /\u001b\[[0-9;]*m/g;

export type Colour = 'red' | 'yellow' | 'green' | 'dim' | 'bold' | 'cyan';
const CODES: Record<Colour, [number, number]> = { red: [31, 39], yellow: [33, 39], green: [32, 39], cyan: [36, 39], dim: [2, 22], bold: [1, 22] };

/** Colours text, or leaves it alone when colour is off (stdout is not a terminal, or NO_COLOR). */
export interface Painter {
  enabled: boolean;
  paint(text: string, colour: Colour): string;
}

export function painter(enabled: boolean): Painter {
  return {
    enabled,
    paint: (text, colour) => (enabled && text !== '' ? `${ESC}${CODES[colour][0]}m${text}${ESC}${CODES[colour][1]}m` : text),
  };
}

/** Colour when stdout is a terminal and NO_COLOR is not set. */
export function colourFor(stream: { isTTY?: boolean }, noColor: boolean): boolean {
  return stream.isTTY === true && !noColor;
}

/** Printed width of a string: ANSI codes take no room. */
export function visibleLength(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

/** Shortens to `max` characters with an ellipsis; newlines become spaces so a cell stays one line. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  const chars = [...flat];
  return chars.length <= max ? flat : `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}

/**
 * Aligned columns under an upper-case header, two spaces apart; the last column is not
 * padded (so long summaries do not leave trailing blanks).
 */
export function renderTable(headers: string[], rows: string[][], paint: Painter = painter(false)): string {
  const widths = headers.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleLength(cell)))).join('  ').trimEnd();
  return [paint.paint(line(headers.map((h) => h.toUpperCase())), 'bold'), ...rows.map(line)].join('\n') + '\n';
}

/** "12m ago", "3h ago", "in 4m", "just now"; "-" for null. */
export function relativeTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '-';
  const at = new Date(iso).getTime();
  if (Number.isNaN(at)) return iso;
  const seconds = Math.round((now.getTime() - at) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 5) return 'just now';
  const span = abs < 60 ? `${abs}s`
    : abs < 3600 ? `${Math.floor(abs / 60)}m`
    : abs < 86_400 ? `${Math.floor(abs / 3600)}h`
    : abs < 60 * 86_400 ? `${Math.floor(abs / 86_400)}d`
    : abs < 730 * 86_400 ? `${Math.floor(abs / (30 * 86_400))}mo`
    : `${Math.floor(abs / (365 * 86_400))}y`;
  return seconds >= 0 ? `${span} ago` : `in ${span}`;
}

const STATUS_COLOURS: Record<string, Colour> = {
  unhealthy: 'red', escalated: 'red', open: 'red',
  degraded: 'yellow', resolving: 'yellow', acknowledged: 'yellow', scheduled: 'yellow', running: 'yellow', waiting: 'yellow',
  healthy: 'green', resolved: 'green', recovered: 'green',
  unknown: 'dim',
};

export function paintStatus(status: string, paint: Painter): string {
  const colour = STATUS_COLOURS[status];
  return colour ? paint.paint(status, colour) : status;
}

/** Order for `medic tables`: what needs attention first. */
export const TABLE_STATUS_ORDER = ['unhealthy', 'degraded', 'unknown', 'healthy'];

/** Stable sort by status rank (unknown statuses last), keeping the API's order within a status. */
export function sortByStatus<T extends { status: string }>(items: T[], order: string[] = TABLE_STATUS_ORDER): T[] {
  const rank = (s: string) => {
    const i = order.indexOf(s);
    return i === -1 ? order.length : i;
  };
  return items.map((item, index) => ({ item, index })).sort((a, b) => rank(a.item.status) - rank(b.item.status) || a.index - b.index).map((x) => x.item);
}

/** "2 unhealthy, 1 healthy" in status order. */
export function countByStatus(items: Array<{ status: string }>, order: string[] = TABLE_STATUS_ORDER): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item.status, (counts.get(item.status) ?? 0) + 1);
  const keys = [...counts.keys()].sort((a, b) => {
    const ra = order.indexOf(a) === -1 ? order.length : order.indexOf(a);
    const rb = order.indexOf(b) === -1 ? order.length : order.indexOf(b);
    return ra - rb || a.localeCompare(b);
  });
  return keys.map((k) => `${counts.get(k)} ${k}`).join(', ');
}

/** Indents every line of a block. */
export function indent(text: string, by = '  '): string {
  return text.split('\n').map((l) => (l === '' ? l : by + l)).join('\n');
}
