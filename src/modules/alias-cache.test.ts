// The modules.alias prefix cache on Debian's real 6.12 modules.alias: a lookup through the cache
// (a few names: binary search in the file; a batch: maps and trie built from it) answers exactly
// as a lookup without it, and a stale, damaged, foreign or unwritable cache changes no answer.
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { generateModaliases, readModulesTree } from "../../test/oracle/generate.ts";
import { DEBIAN_612, debianModules } from "../../test/support/modules.ts";
import { tempDir } from "../../test/support/tmp.ts";
import { indexCacheDir } from "../host/cache-dir.ts";
import { aliasCachePath, cachedPrefixes } from "./alias-cache.ts";
import { AliasFile } from "./alias-file.ts";
import { readRequiredText } from "./files.ts";
import { lookup } from "./lookup.ts";
import { ModulesDir } from "./modules-dir.ts";

const tree = debianModules(DEBIAN_612);
const names = generateModaliases(readModulesTree(tree), { count: 3000, seed: 7 });
const answers = (dir: ModulesDir, inputs: readonly string[]) =>
  inputs.map((name) =>
    lookup(dir, name)
      .matches.map((m) => m.module)
      .join(" "),
  );
const uncached = answers(new ModulesDir(tree, { configPaths: [] }), names);
/**
 * 250 modaliases from all over the file (the generator follows it): they stay on the sorted
 * file (up to AliasIndex's SCAN_ALL_AFTER, and without a wildcard, which walks every key).
 */
const few = names
  .map((name, i) => ({ name, i }))
  .filter(({ name }) => /^[a-z0-9_]+:[^*?[]*$/.test(name))
  .filter((_, n, all) => n % Math.floor(all.length / 250) === 0)
  .slice(0, 250);
const cached = (dir: string, cacheDir: string) => new ModulesDir(dir, { configPaths: [], cacheDir });

/** A private copy of the tree's modules.alias (and nothing else: the other files are optional). */
function aliasCopy(): string {
  const dir = tempDir("alias-copy");
  copyFileSync(join(tree, "modules.alias"), join(dir, "modules.alias"));
  return dir;
}

test("a cached lookup answers as an uncached one: a few names, then a batch", () => {
  const cacheDir = tempDir("cache");
  answers(cached(tree, cacheDir), names.slice(0, 1)); // writes the cache
  const file = aliasCachePath(cacheDir, join(tree, "modules.alias"));
  const written = statSync(file);
  // Fresh processes: the few stay on the sorted file; all 3,000 names go on to maps and a trie.
  const fewAnswers = answers(
    cached(tree, cacheDir),
    few.map((f) => f.name),
  );
  assert.deepEqual(
    fewAnswers,
    few.map((f) => uncached[f.i]),
  );
  assert.ok(fewAnswers.filter((a) => a !== "").length > 100, "the few match modules");
  assert.deepEqual(answers(cached(tree, cacheDir), names), uncached);
  const after = statSync(file);
  assert.equal(after.ino, written.ino, "the cache was read, not written again");
  assert.equal(after.mtimeMs, written.mtimeMs);
  assert.ok(uncached.filter((a) => a !== "").length > 1000, "the sample matches modules");
});

test("a cache of another modules.alias (the file changed) is rewritten, never used", () => {
  const dir = aliasCopy();
  const cacheDir = tempDir("cache");
  const name = "pci:v00008086d000010D3sv00000000sd00000000bc02sc00i00";
  assert.equal(answers(cached(dir, cacheDir), [name])[0], "e1000e");
  // depmod writes a new file: here, e1000e's line for the device now names another module
  const text = readFileSync(join(dir, "modules.alias"), "latin1");
  const changed = text.replace(
    "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e",
    "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000x",
  );
  assert.notEqual(changed, text);
  writeFileSync(join(dir, "modules.alias"), changed, "latin1");
  assert.equal(answers(cached(dir, cacheDir), [name])[0], "e1000x");
  assert.equal(answers(cached(dir, cacheDir), [name])[0], "e1000x");
});

test("a cache another user could have written is not trusted: it is made again", () => {
  const cacheDir = tempDir("cache");
  const name = "pci:v00008086d000010D3sv00000000sd00000000bc02sc00i00";
  assert.equal(answers(cached(tree, cacheDir), [name])[0], "e1000e");
  const file = aliasCachePath(cacheDir, join(tree, "modules.alias"));
  const own = statSync(file).ino;
  answers(cached(tree, cacheDir), [name]);
  assert.equal(statSync(file).ino, own, "this user's own cache is used");
  chmodSync(file, 0o664); // group-writable
  assert.equal(answers(cached(tree, cacheDir), [name])[0], "e1000e");
  const remade = statSync(file);
  assert.notEqual(remade.ino, own, "a group-writable cache is written anew");
  assert.equal(remade.mode & 0o777, 0o644);
  if (process.getuid?.() === 0) {
    chownSync(file, 65534, 65534); // nobody's
    answers(cached(tree, cacheDir), [name]);
    assert.notEqual(statSync(file).ino, remade.ino, "another user's cache is written anew");
  }
});

test("a damaged cache is deleted and the answer read from modules.alias", () => {
  const cacheDir = tempDir("cache");
  const file = aliasCachePath(cacheDir, join(tree, "modules.alias"));
  const sample = few.map((f) => f.name);
  const expected = few.map((f) => uncached[f.i]);
  answers(cached(tree, cacheDir), sample.slice(0, 1));
  const text = readFileSync(file, "latin1");
  const aliasText = readFileSync(join(tree, "modules.alias"), "latin1");
  // In every prefix list, each line's first reference shifted by a line of modules.alias when
  // that keeps its number of digits: each leads to the line after its own, and the lists keep
  // their places.
  const headerAt = text.indexOf("\n") + 1;
  const payloadAt = text.indexOf("\n", headerAt) + 1;
  const header = JSON.parse(text.slice(headerAt, payloadAt - 1));
  const lines = [...aliasText.matchAll(/^alias /gm)].map((m) => m.index);
  const lineAfter = (ref: number) => {
    const next = lines.find((start) => start > ref) as number;
    return String(next).length === String(ref).length ? next : ref;
  };
  let shifted = text;
  for (const bus of [...Object.values(header.buses), header.busless] as { prefixed: { lines: number[] } }[]) {
    const [start, end] = bus.prefixed.lines.map((at) => at + payloadAt) as [number, number];
    const block = shifted.slice(start, end).replace(/ (\d+)/g, (_, ref) => ` ${lineAfter(Number(ref))}`);
    shifted = shifted.slice(0, start) + block + shifted.slice(end);
  }
  assert.notEqual(shifted, text);
  const damaged = [
    shifted,
    text.slice(0, text.length / 2), // cut short
    `${text.slice(0, 200)}\u0000\u00ff garbage ${text.slice(200)}`, // bytes in the header
    "not a cache at all\n",
  ];
  for (const [i, content] of damaged.entries()) {
    writeFileSync(file, content, "latin1");
    assert.deepEqual(answers(cached(tree, cacheDir), sample), expected, `damage ${i}`);
    assert.deepEqual(answers(cached(tree, cacheDir), sample), expected, `after damage ${i}`);
  }
  assert.equal(readFileSync(file, "latin1"), text, "written anew, as it was");

  // One list entry damaged alone, each time in a way only one check sees.
  const damageOne = (bus: string, key: string, damage: (refs: number[]) => number[]) => {
    const list = header.buses[bus].prefixed as { lines: [number, number] };
    const [linesAt, linesEnd] = list.lines.map((at) => at + payloadAt) as [number, number];
    const lines = text.slice(linesAt, linesEnd).split("\n");
    const index = lines.findIndex((line) => line.startsWith(`${key} `));
    const refs = damage(
      (lines[index] as string)
        .slice(key.length + 1)
        .split(",")
        .map(Number),
    );
    const line = `${key} ${refs.join(",")}`;
    assert.equal(line.length, (lines[index] as string).length, "the lists keep their places");
    lines[index] = line;
    return `${text.slice(0, linesAt)}${lines.join("\n")}${text.slice(linesEnd)}`;
  };
  const cases = [
    // e1000e's 82574L: a prefix of one line, its reference moved to the next line
    {
      name: "pci:v00008086d000010D3sv00000000sd00000000bc02sc00i00",
      damaged: damageOne("pci", "pci:v00008086d000010D3sv", (refs) => refs.map(lineAfter)),
    },
    // `dax:t0*` is two lines (device_dax, kmem): the first reference replaced by the second
    {
      name: "dax:t0",
      damaged: damageOne("dax", "dax:t0", (refs) => [refs[1] as number, refs[1] as number]),
    },
  ];
  for (const { name, damaged } of cases) {
    const expectedModules = answers(new ModulesDir(tree, { configPaths: [] }), [name])[0];
    assert.notEqual(damaged, text);
    writeFileSync(file, damaged, "latin1");
    assert.equal(answers(cached(tree, cacheDir), [name])[0], expectedModules, name);
    assert.equal(answers(cached(tree, cacheDir), [name])[0], expectedModules, `${name}, the next command`);
    assert.equal(readFileSync(file, "latin1"), text, "written anew, as it was");
  }
});

test("a cache directory that cannot be written costs nothing but speed", () => {
  const parent = tempDir("cache");
  const notADir = join(parent, "file");
  writeFileSync(notADir, "");
  assert.deepEqual(
    answers(cached(tree, join(notADir, "cache")), names.slice(0, 300)),
    uncached.slice(0, 300),
  );
});

test("where the cache lives: FLAVOURCTL_INDEX_CACHE, root's /var/cache, the user's XDG cache", () => {
  assert.equal(indexCacheDir({ FLAVOURCTL_INDEX_CACHE: "/tmp/x" }, 0), "/tmp/x");
  assert.equal(indexCacheDir({ FLAVOURCTL_INDEX_CACHE: "off", HOME: "/home/a" }, 1000), undefined);
  assert.equal(indexCacheDir({ HOME: "/root" }, 0), "/var/cache/flavourctl");
  assert.equal(indexCacheDir({ XDG_CACHE_HOME: "/c", HOME: "/home/a" }, 1000), "/c/flavourctl");
  assert.equal(indexCacheDir({ HOME: "/home/a" }, 1000), "/home/a/.cache/flavourctl");
  assert.equal(indexCacheDir({ HOME: "/" }, 1000), undefined);
  assert.equal(indexCacheDir({}, 1000), undefined);
});

test("a modules tree held in memory (a machine file's) is not cached", () => {
  const cacheDir = tempDir("cache");
  const memory = new ModulesDir("/lib/modules/x", {
    files: new Map([["modules.alias", "alias pci:v00001234d*sv*sd*bc*sc*i* m\n"]]),
    cacheDir,
  });
  assert.equal(
    lookup(memory, "pci:v00001234d00000001sv00000000sd00000000bc00sc00i00").matches[0]?.module,
    "m",
  );
  assert.deepEqual(readdirSync(cacheDir), []);
});

test("a pattern longer than libkmod's key is filed cut, as the index files it, and found so", () => {
  // depmod cuts keys at PATH_MAX - 1: a 5,000-character literal pattern is found by its first 4,095.
  const dir = tempDir("long-alias");
  const long = `pci:${"A".repeat(4996)}`;
  writeFileSync(
    join(dir, "modules.alias"),
    `alias ${long} longmod\nalias pci:v00001234d*sv*sd*bc*sc*i* other\n`,
  );
  const cacheDir = tempDir("cache");
  const key = long.slice(0, 4095);
  const search = (modules: ModulesDir) =>
    modules.aliases
      .search(key)
      .flat()
      .map((line) => line.module);
  assert.deepEqual(search(new ModulesDir(dir, { configPaths: [] })), ["longmod"]);
  assert.deepEqual(search(cached(dir, cacheDir)), ["longmod"]); // writes the cache
  const file = aliasCachePath(cacheDir, join(dir, "modules.alias"));
  const written = statSync(file);
  assert.deepEqual(search(cached(dir, cacheDir)), ["longmod"]); // reads it
  assert.equal(
    statSync(file).ino,
    written.ino,
    "the cut key's line is its own: the cache is not taken for damaged",
  );
});

test("bisection in place finds every key of a list, first and last included, and no other", () => {
  const cacheDir = tempDir("cache");
  const aliasPath = join(tree, "modules.alias");
  cachedPrefixes(new AliasFile(readRequiredText(tree, "modules.alias")), cacheDir); // writes it
  const text = readFileSync(aliasCachePath(cacheDir, aliasPath), "latin1");
  const payloadAt = text.indexOf("\n", text.indexOf("\n") + 1) + 1;
  const header = JSON.parse(text.slice(text.indexOf("\n") + 1, payloadAt - 1));
  const source = cachedPrefixes(new AliasFile(readRequiredText(tree, "modules.alias")), cacheDir);
  let checked = 0;
  for (const bus of Object.keys(header.buses)) {
    const sorted = source?.sorted?.(bus);
    assert.ok(sorted, bus);
    for (const kind of ["exact", "prefixed"] as const) {
      const [start, end] = header.buses[bus][kind].lines.map((at: number) => at + payloadAt);
      const lines = start === end ? [] : text.slice(start, end).split("\n");
      for (const [i, line] of lines.entries()) {
        if (i % 11 !== 0 && i !== lines.length - 1) continue;
        const [key, refs] = line.split(" ") as [string, string];
        assert.deepEqual(sorted[kind](key), refs.split(",").map(Number), `${bus} ${kind} ${key}`);
        assert.equal(sorted[kind](`${key}~`), undefined, `${key}~ is no key`);
        checked++;
      }
      assert.equal(sorted[kind](""), undefined);
      assert.equal(sorted[kind]("\u00ff"), undefined);
    }
  }
  assert.ok(checked > 1800, `${checked} keys checked`);
});

test("a pattern holding a tab is filed and found as libkmod finds it, cached or not", () => {
  const dir = tempDir("alias-tab");
  writeFileSync(
    join(dir, "modules.alias"),
    "alias pci:v00001234\tz* mod_t\nalias foo\tbar mod_e\nalias pci:v00001234d* mod_p\n",
  );
  const cacheDir = tempDir("cache");
  const names = ["pci:v00001234\tzz", "foo\tbar", "pci:v00001234d1"];
  const expected = ["mod_t", "mod_e", "mod_p"];
  assert.deepEqual(answers(new ModulesDir(dir, { configPaths: [] }), names), expected);
  assert.deepEqual(answers(cached(dir, cacheDir), names), expected, "the cache made now");
  assert.deepEqual(answers(cached(dir, cacheDir), names), expected, "the cache read back");
});
