// #if against a .config as autoconf.h and include/linux/kconfig.h decide it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chainScope, parseConfig, preprocess } from "./c-preprocess.ts";

const config = parseConfig(
  [
    "CONFIG_Y=y",
    "CONFIG_M=m",
    "CONFIG_HEX=0x10",
    "CONFIG_INT=12",
    'CONFIG_STR="abc"',
    "# CONFIG_N is not set",
  ].join("\n"),
);

/** Which of the conditions holds: each `#if…` line guards a token naming itself. */
function taken(conditions: string[]): string[] {
  const text = conditions.map((c, i) => `${c}\nt${i}\n#endif`).join("\n");
  const { tokens } = preprocess(text, config, chainScope());
  return tokens.map((t) => conditions[Number(t.text.slice(1))] as string);
}

test("#ifdef CONFIG_X: defined for =y, not for =m (autoconf.h defines CONFIG_X_MODULE instead)", () => {
  assert.deepEqual(taken(["#ifdef CONFIG_Y", "#ifdef CONFIG_M", "#ifdef CONFIG_N", "#ifndef CONFIG_M"]), [
    "#ifdef CONFIG_Y",
    "#ifndef CONFIG_M",
  ]);
  assert.deepEqual(
    taken([
      "#if defined(CONFIG_M_MODULE)",
      "#if defined(CONFIG_Y_MODULE)",
      "#if defined CONFIG_M",
      "#ifdef CONFIG_HEX",
      "#ifdef CONFIG_STR",
    ]),
    ["#if defined(CONFIG_M_MODULE)", "#ifdef CONFIG_HEX", "#ifdef CONFIG_STR"],
  );
});

test("IS_ENABLED is y or m, IS_BUILTIN y, IS_MODULE m (include/linux/kconfig.h)", () => {
  const all = ["Y", "M", "N"].flatMap((s) =>
    ["IS_ENABLED", "IS_BUILTIN", "IS_MODULE"].map((fn) => `#if ${fn}(CONFIG_${s})`),
  );
  assert.deepEqual(taken(all), [
    "#if IS_ENABLED(CONFIG_Y)",
    "#if IS_BUILTIN(CONFIG_Y)",
    "#if IS_ENABLED(CONFIG_M)",
    "#if IS_MODULE(CONFIG_M)",
  ]);
});

test("#if CONFIG_X == value: hex and decimal values, a module option is 0", () => {
  assert.deepEqual(
    taken([
      "#if CONFIG_HEX == 0x10",
      "#if CONFIG_HEX == 16",
      "#if CONFIG_INT > 11",
      "#if CONFIG_M",
      "#if CONFIG_Y",
    ]),
    ["#if CONFIG_HEX == 0x10", "#if CONFIG_HEX == 16", "#if CONFIG_INT > 11", "#if CONFIG_Y"],
  );
});
