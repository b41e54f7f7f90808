// A small helper to build DOM nodes: text is always set as text, never parsed as HTML, so a
// driver name or a message from a captured tree cannot add markup to the page.

type Attributes = Record<string, string | boolean | undefined>;
type Child = Node | string | null | undefined | false;

export function h(tag: string, attributes: Attributes = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element as T;
}

/** An element id made of a PCI address (ids may not hold ':' in CSS selectors unescaped). */
export function idOf(prefix: string, address: string): string {
  return `${prefix}-${address.replace(/[:.]/g, "-")}`;
}
