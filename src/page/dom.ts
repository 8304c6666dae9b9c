// Copyright 2026 the mpreg authors. MIT license.
/**
 * The page's two DOM helpers. Text goes in through text nodes only, never
 * `innerHTML`.
 *
 * @module
 */

/** What {@linkcode h} takes as children: nodes, text, and nested lists; `null`, `undefined` and `false` are skipped. */
export type Child = Node | string | number | null | undefined | false | Child[];

/** Attributes: `class` sets the class name; `null`, `undefined` and `false` leave one out. */
export type Props = Record<string, string | number | boolean | null | undefined>;

/**
 * Creates an element.
 *
 * @param tag The tag name.
 * @param props Its attributes.
 * @param children Its children.
 * @returns The element.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = String(value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity as 1) as Child[]) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/**
 * The element with a `data-testid`.
 *
 * @param id The test id.
 * @returns The element.
 * @throws {Error} when the page has none.
 */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.querySelector<T>(`[data-testid="${id}"]`);
  if (el === null) throw new Error(`The page has no element "${id}"`);
  return el;
}
