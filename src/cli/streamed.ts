// Reports that can run to tens of megabytes (overlaps of many pairs, the aliases of a whole
// kernel tree), written as they are made instead of built as one string: a string of a few
// hundred megabytes is past V8's limit (RangeError: Invalid string length) or the heap's.

/** About a megabyte (of UTF-16 code units). */
const CHUNK = 1 << 20;

/** Text handed on to `flush` in pieces of about a megabyte; `end` hands on the rest. */
export function chunked(flush: (text: string) => void): { write: (text: string) => void; end: () => void } {
  let pending = "";
  return {
    write(text) {
      if (text.length >= CHUNK) {
        // a piece as large as a chunk goes on as it is: joined to what is pending, the two would
        // be copied into one string first (a batch of writeJson is one)
        if (pending !== "") flush(pending);
        pending = "";
        flush(text);
        return;
      }
      pending += text;
      if (pending.length >= CHUNK) {
        flush(pending);
        pending = "";
      }
    },
    end() {
      if (pending !== "") flush(pending);
    },
  };
}

/** Array elements stringified at once: about a megabyte of JSON. */
const BATCH = 1000;

/**
 * What `JSON.stringify(object, null, 2)` gives, its arrays written a thousand elements at a
 * time: each batch stringified as `{"key": [...]}` is already indented as in the whole
 * object, between a head and a tail that are cut off. `object`'s values are never undefined.
 */
export function writeJson(object: Record<string, unknown>, write: (text: string) => void): void {
  const keys = Object.keys(object);
  write("{");
  keys.forEach((key, k) => {
    const value = object[key];
    write(`${k > 0 ? "," : ""}\n  ${JSON.stringify(key)}: `);
    if (!Array.isArray(value) || value.length === 0) {
      write(JSON.stringify(value, null, 2).replaceAll("\n", "\n  "));
      return;
    }
    const head = `{\n  ${JSON.stringify(key)}: [\n`;
    const tail = "\n  ]\n}";
    write("[");
    for (let at = 0; at < value.length; at += BATCH) {
      const json = JSON.stringify({ [key]: value.slice(at, at + BATCH) }, null, 2);
      write(at > 0 ? ",\n" : "\n");
      write(json.slice(head.length, -tail.length));
    }
    write("\n  ]");
  });
  write(keys.length > 0 ? "\n}" : "}");
}
