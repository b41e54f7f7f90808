// The rest of a pattern (its text from some offset on: pci's `sv*sd*bc*sc*i*`, usb's
// `d*dc*dsc*dp*ic*isc*ip*in*`) is shared by thousands of patterns, and a module's patterns
// mostly share theirs: what is parsed from it is kept by its text, and the last rest is told
// again without cutting it out of the pattern (pci-pattern.ts, field-pattern.ts).
export class RestMemo<T> {
  private readonly byText = new Map<string, T>();
  private lastText: string | undefined;
  private lastValue: T | undefined;
  private readonly parse: (text: string) => T;

  constructor(parse: (text: string) => T) {
    this.parse = parse;
  }

  /** `parse` of the pattern's text from `start` on, parsed once per text. */
  of(pattern: string, start: number): T {
    const last = this.lastText;
    if (last !== undefined && pattern.length - start === last.length && pattern.endsWith(last)) {
      return this.lastValue as T;
    }
    const text = pattern.slice(start);
    let value = this.byText.get(text);
    if (value === undefined && !this.byText.has(text)) {
      value = this.parse(text);
      this.byText.set(text, value);
    }
    this.lastText = text;
    this.lastValue = value;
    return value as T;
  }
}
