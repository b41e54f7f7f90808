import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../test/support/tmp.ts";
import { InputError } from "../errors.ts";
import type { PciAddress } from "../pci/address.ts";
import {
  formatRule,
  parseRule,
  parseSelector,
  type Rule,
  type RuleSubject,
  ruleFor,
  ruleName,
} from "./rules.ts";
import { loadRules, removeRule, saveRule } from "./rules-store.ts";

const connectxVf: RuleSubject = {
  address: "0000:3b:00.2" as PciAddress,
  ids: { vendor: 0x15b3, device: 0x101e, subvendor: 0x15b3, subdevice: 0x0031, classCode: 0x020000 },
  modalias: "pci:v000015B3d0000101Esv000015B3sd00000031bc02sc00i00",
  physfn: "0000:3b:00.0" as PciAddress,
};

const rule = (name: string, selector: string): Rule => {
  const parsed = parseSelector(selector);
  assert.notEqual(typeof parsed, "string", String(parsed));
  return { name, selector: parsed as Exclude<typeof parsed, string>, flavour: "vfio" };
};

test("selectors match by address, ids, class, PF and pattern; the most specific rule wins", () => {
  const rules = [
    rule("c", "class 02"),
    rule("p", "pattern vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*"),
    rule("i", "id 15b3:101e"),
    rule("v", "vfs-of 0000:3b:00.0"),
    rule("a", "address 0000:3b:00.2"),
  ];
  for (const r of rules) assert.equal(ruleFor([r], connectxVf)?.name, r.name, `${r.name} should match`);
  assert.equal(ruleFor(rules, connectxVf)?.name, "a");
  assert.equal(ruleFor(rules.slice(0, 4), connectxVf)?.name, "v");
  assert.equal(ruleFor(rules.slice(0, 3), connectxVf)?.name, "i");
  assert.equal(
    ruleFor([rule("x", "id 15b3:101e:15b3:0032"), rule("y", "class 0300")], connectxVf),
    undefined,
  );
});

test("a rule survives a round trip through its file format", () => {
  for (const selector of [
    "address 0000:3b:00.2",
    "id 15b3:101e:15b3:0031",
    "class 0200",
    "vfs-of 0000:3b:00.0",
  ]) {
    const original = {
      ...rule(ruleName(parseSelector(selector) as never), selector),
      driver: "mlx5_vfio_pci",
    };
    const parsed = parseRule(original.name, formatRule(original), "x.rule");
    assert.deepEqual({ ...parsed, file: undefined }, { ...original, file: undefined });
  }
});

test("damaged rule files are reported with file and line", () => {
  const cases: [string, RegExp][] = [
    ["match id 15b3\nflavour vfio\n", /x\.rule:1: '15b3' is not VVVV:DDDD/],
    ["match id 15b3:101e\nflavour gpu\n", /x\.rule:2: flavour must be vfio or driver/],
    ["match id 15b3:101e\n", /x\.rule: no 'flavour' line/],
    ["flavour vfio\ncolour blue\n", /x\.rule:2: unknown key 'colour'/],
    ["match address ../../etc\nflavour vfio\n", /x\.rule:1: '\.\.\/\.\.\/etc' is not a PCI address/],
    ["\u0000\u0001garbage\n", /^x\.rule:1: '\?\?garbage' needs a value$/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseRule("x", text, "x.rule"),
      (e: unknown) => e instanceof InputError && message.test(e.message),
    );
  }
});

test("a corrupt file is reported while the other rules still load", () => {
  const dir = tempDir("rules");
  saveRule(dir, rule("good", "id 15b3:101e"));
  writeFileSync(join(dir, "bad.rule"), "match id zz\nflavour vfio\n");
  const loaded = loadRules(dir);
  assert.deepEqual(
    loaded.rules.map((r) => r.name),
    ["good"],
  );
  assert.match(loaded.errors[0]?.message ?? "", /bad\.rule:1:/);
  // and it is never overwritten
  assert.throws(() => saveRule(dir, rule("bad", "id 15b3:101e")), /not overwriting a damaged rule file/);
  assert.equal(readFileSync(join(dir, "bad.rule"), "utf8"), "match id zz\nflavour vfio\n");
});

test("power loss between write and rename leaves the old rule intact", () => {
  const dir = tempDir("rules");
  saveRule(dir, { ...rule("nic", "id 15b3:101e"), driver: "old_driver" });
  const before = readFileSync(join(dir, "nic.rule"), "utf8");
  // A separate process saves a new version and is killed (SIGKILL) after the temp file is
  // durable, before the rename.
  const child = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `import { saveRule } from ${JSON.stringify(new URL("./rules-store.ts", import.meta.url).pathname)};
       saveRule(${JSON.stringify(dir)}, { name: "nic", selector: { kind: "class", classCode: 0x020000, mask: 0xffffff }, flavour: "vfio" },
         { beforeRename: () => process.kill(process.pid, "SIGKILL") });`,
    ],
    { encoding: "utf8" },
  );
  assert.equal(child.signal, "SIGKILL", child.stderr);
  assert.ok(
    readdirSync(dir).some((f) => f.startsWith(".nic.rule.tmp-")),
    "the temp file was written",
  );
  assert.equal(readFileSync(join(dir, "nic.rule"), "utf8"), before);
  const loaded = loadRules(dir);
  assert.deepEqual(loaded.errors, []);
  assert.deepEqual(
    loaded.rules.map((r) => [r.name, r.driver]),
    [["nic", "old_driver"]],
    "the half-saved temp file is not read as a rule",
  );
  // The next save (after the reboot) goes through despite the leftover temp file.
  saveRule(dir, { ...rule("nic", "id 15b3:101e"), driver: "new_driver" });
  assert.equal(loadRules(dir).rules[0]?.driver, "new_driver");
});

test("a hand-written rule file any name loads is removable by that name; a path never is", () => {
  const dir = tempDir("rules-names");
  writeFileSync(join(dir, "x y.rule"), "match address 0000:03:00.0\nflavour vfio\n");
  assert.deepEqual(
    loadRules(dir).rules.map((r) => r.name),
    ["x y"],
  );
  assert.equal(removeRule(dir, "x y"), true);
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(removeRule(dir, "x y"), false);
  for (const name of ["../x", "a/b", "..", "."])
    assert.throws(() => removeRule(dir, name), /invalid rule name/);
});
