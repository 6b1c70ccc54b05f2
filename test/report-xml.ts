// A small XML well-formedness checker and element finder for the SVG reports (no dependency):
// every tag closes in order, attributes are quoted, entities are the five XML ones.
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  /** Text directly inside the element (entities decoded). */
  text: string;
  children: XmlElement[];
}

const ENTITY: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(\w+);/g, (m, e: string) => {
    if (!(e in ENTITY)) throw new Error(`unknown entity ${m}`);
    return ENTITY[e]!;
  });
}

/** Parses an SVG document; throws on anything not well formed. */
export function parseXml(xml: string): XmlElement {
  const s = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const root: XmlElement = { name: '#root', attrs: {}, text: '', children: [] };
  const stack = [root];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  let pos = 0;
  while (pos < s.length) {
    token.lastIndex = pos;
    const m = token.exec(s);
    if (!m) throw new Error(`not well formed at offset ${pos}: ${JSON.stringify(s.slice(pos, pos + 40))}`);
    pos = token.lastIndex;
    const top = stack[stack.length - 1]!;
    if (m[5] !== undefined) {
      if (m[5].includes('>')) throw new Error(`stray '>' in text: ${m[5]}`);
      top.text += decode(m[5]);
      continue;
    }
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
      attrs[a[1]!] = decode(a[2]!);
    }
    const el: XmlElement = { name: name!, attrs, text: '', children: [] };
    top.children.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (root.children.length !== 1 || root.children[0]!.name !== 'svg')
    throw new Error('expected one <svg> root element');
  if (root.text.trim() !== '') throw new Error('text outside the root element');
  return root.children[0]!;
}

/** All descendants matching the predicate, in document order. */
export function findAll(el: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    for (const c of e.children) {
      if (pred(c)) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}

export const hasClass =
  (cls: string) =>
  (e: XmlElement): boolean =>
    (e.attrs.class ?? '').split(/\s+/).includes(cls);
