// Data flows down (DESIGN.md section 4): cli/ is the top, and nothing below imports it (the
// scenario runner in sim/ is handed the way to run a command: cli/scenario-step.ts); no verb
// imports main.ts, the module that loads the verbs (the Command type is in cli/command.ts).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const root = new URL("..", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** What a source imports (static and dynamic, types too), as paths from the project's root. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found = [...text.matchAll(/(?:\bfrom|\bimport\s*\(?)\s*["'](\.{1,2}\/[^"']+)["']/g)];
  return found.map((match) => relative(root, resolve(dirname(file), match[1] as string)));
}

test("imports() sees each form of import", () => {
  assert.deepEqual(
    imports(join(root, "src/cli/main.ts")).filter((path) => path.includes("commands/list")),
    ["src/cli/commands/list.ts"],
  );
  assert.ok(imports(join(root, "src/cli/commands/list.ts")).includes("src/cli/command.ts"));
  assert.ok(imports(join(root, "src/sim/run.ts")).includes("src/sim/scenario.ts"));
});

test("nothing below cli/ imports it, and no verb imports main.ts", () => {
  const upward: string[] = [];
  for (const file of sources(join(root, "src"))) {
    const from = relative(root, file);
    for (const path of imports(file)) {
      if (!from.startsWith("src/cli/") && path.startsWith("src/cli/")) upward.push(`${from} -> ${path}`);
      if (from.startsWith("src/cli/commands/") && path === "src/cli/main.ts")
        upward.push(`${from} -> ${path}`);
    }
  }
  assert.deepEqual(upward, []);
});
