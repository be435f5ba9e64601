import { Marked, type Tokens } from 'marked';

/**
 * Markdown from the server (the how-to-fix steps) → HTML that is safe to insert.
 *
 * The steps quote what a task reported (exception messages), so they may carry `<script>`,
 * `<img onerror>` or `javascript:` links. Two layers:
 *  1. marked with raw HTML disabled: an HTML block or inline tag is rendered as escaped text,
 *     links keep only http(s)/mailto/relative targets, images become plain links;
 *  2. an allow-list pass over the result (tags and attributes), in an inert document from
 *     DOMParser, so nothing marked might let through can run.
 */

const escapeHtml = (text: string) => text
  .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function safeHref(href: string | null | undefined): string | null {
  if (!href) return null;
  const trimmed = href.trim();
  if (/^(https?:|mailto:)/i.test(trimmed)) return trimmed;
  // Relative links (no scheme at all): "/docs", "#step", "runbooks/x".
  if (!/^[a-z][a-z0-9+.-]*:/i.test(trimmed) && !trimmed.startsWith('//')) return trimmed;
  return null;
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(token.text);
    },
    link(token: Tokens.Link) {
      const text = this.parser.parseInline(token.tokens);
      const href = safeHref(token.href);
      if (!href) return text;
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
      return `<a href="${escapeHtml(href)}"${title} rel="noopener noreferrer">${text}</a>`;
    },
    image(token: Tokens.Image) {
      // No images from markdown (the CSP would block other hosts anyway): show a link instead.
      const href = safeHref(token.href);
      const label = escapeHtml(token.text || token.href);
      return href ? `<a href="${escapeHtml(href)}" rel="noopener noreferrer">${label}</a>` : label;
    },
  },
});

const ALLOWED_TAGS = new Set([
  'P', 'BR', 'HR', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'UL', 'OL', 'LI', 'BLOCKQUOTE', 'PRE', 'CODE', 'EM', 'STRONG', 'DEL',
  'A', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD', 'INPUT', 'SPAN',
]);
const ALLOWED_ATTRIBUTES: Record<string, Set<string>> = {
  A: new Set(['href', 'title', 'rel']),
  OL: new Set(['start']),
  TH: new Set(['align']),
  TD: new Set(['align']),
  CODE: new Set(['class']),
  INPUT: new Set(['type', 'checked', 'disabled']),
};

function clean(node: Element) {
  for (const child of Array.from(node.children)) {
    if (!ALLOWED_TAGS.has(child.tagName) || (child.tagName === 'INPUT' && child.getAttribute('type') !== 'checkbox')) {
      // Keep what it says, as text; drop the element.
      child.replaceWith(child.ownerDocument.createTextNode(child.textContent ?? ''));
      continue;
    }
    const allowed = ALLOWED_ATTRIBUTES[child.tagName];
    for (const attribute of Array.from(child.attributes)) {
      const keep = allowed?.has(attribute.name) && !(attribute.name === 'href' && safeHref(attribute.value) === null)
        && !(attribute.name === 'class' && !/^language-[\w-]+$/.test(attribute.value));
      if (!keep) child.removeAttribute(attribute.name);
    }
    if (child.tagName === 'A') child.setAttribute('rel', 'noopener noreferrer');
    if (child.tagName === 'INPUT') child.setAttribute('disabled', '');
    clean(child);
  }
}

export function renderMarkdown(markdown: string): string {
  const html = marked.parse(markdown, { async: false }) as string;
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}</body>`, 'text/html');
  clean(doc.body);
  return doc.body.innerHTML;
}
