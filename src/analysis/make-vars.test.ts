// make's variables as Kbuild files use them, read from a file.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../test/support/tmp.ts";
import { readMakeVars } from "./make-vars.ts";

test("readMakeVars: obj-$(CONFIG_X), conditionals, functions and substitution references", () => {
  const dir = tempDir("make-vars");
  writeFileSync(join(dir, "inc.mk"), "included := yes\n");
  writeFileSync(
    join(dir, "Makefile"),
    [
      "obj-$(CONFIG_A) += a.o # a comment",
      "obj-$(CONFIG_B) += b.o \\",
      "\tb2.o",
      "obj-$(subst m,y,$(CONFIG_B)) += forced/",
      "late = $(later)",
      "later := set",
      "ifeq ($(CONFIG_B),m)",
      "obj-m += ifeq.o",
      "else ifdef CONFIG_A",
      "obj-m += wrong.o",
      "else",
      "obj-m += wrong2.o",
      "endif",
      "ifndef CONFIG_NONE",
      "obj-y += $(patsubst %.c,%.o,x.c y.c) $(filter %.o,z.o q.h) $(if $(CONFIG_NONE),no.o,yes.o)",
      "endif",
      "list := one.c two.c",
      "obj-m += $(list:.c=.o)",
      "include $(src)/inc.mk",
      "target.o: rule-prereq",
      "\t$(CC) -o $@",
      "",
    ].join("\n"),
  );
  const config = new Map([
    ["CONFIG_A", "y"],
    ["CONFIG_B", "m"],
  ]);
  const vars = readMakeVars(join(dir, "Makefile"), { src: dir }, (n) => config.get(n), dir);
  assert.equal(vars.get("obj-y").trim().split(/\s+/).join(" "), "a.o forced/ x.o y.o z.o yes.o");
  assert.equal(vars.get("obj-m").trim().split(/\s+/).join(" "), "b.o b2.o ifeq.o one.o two.o");
  assert.equal(vars.get("late"), "set");
  assert.equal(vars.get("included"), "yes");
});
