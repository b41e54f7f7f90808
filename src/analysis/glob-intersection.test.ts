import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { fnmatch } from "../modules/fnmatch.ts";
import { type Glob, parseGlob, withoutCommonEnds } from "./glob.ts";
import { commonString, contains, intersects } from "./glob-intersection.ts";

// Small patterns over a small alphabet, answered by brute force over every string up to 6
// bytes: two patterns of at most 3 elements that share a string share one of at most 6
// (head + both middles + tail), so the brute force sees every answer.
const element = fc.constantFrom("a", "b", "*", "?", "[ab]", "[!a]", "[a-b]", "\\a", "c");
const pattern = fc.array(element, { minLength: 0, maxLength: 3 }).map((parts) => parts.join(""));

function strings(maxLength: number): string[] {
  const out = [""];
  let frontier = [""];
  for (let n = 1; n <= maxLength; n++) {
    frontier = frontier.flatMap((s) => ["a", "b", "c", "d"].map((c) => s + c));
    out.push(...frontier);
  }
  return out;
}
const universe = strings(6);

test("glob intersection and inclusion agree with brute force over fnmatch", () => {
  fc.assert(
    fc.property(pattern, pattern, (a, b) => {
      const ga = parseGlob(a);
      const gb = parseGlob(b);
      const both = universe.some((s) => fnmatch(a, s) && fnmatch(b, s));
      const common = commonString(ga, gb);
      assert.equal(common !== undefined, both, `${a} ∩ ${b}: ${common}`);
      assert.equal(intersects(ga, gb), both, `${a} ∩ ${b}`);
      const inside = universe.every((s) => !fnmatch(b, s) || fnmatch(a, s));
      assert.equal(contains(ga, gb), inside, `${b} ⊆ ${a}`);
    }),
    { numRuns: 600 },
  );
});

test("two patterns meet and contain as what is left without their common plain ends", () => {
  const plain = fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 2 }).map((parts) => parts.join(""));
  fc.assert(
    fc.property(plain, pattern, pattern, plain, (head, a, b, tail) => {
      const [p, q] = [head + a + tail, head + b + tail];
      const [sp, sq] = withoutCommonEnds(p, q);
      const [gp, gq, gsp, gsq] = [p, q, sp, sq].map(parseGlob) as [Glob, Glob, Glob, Glob];
      assert.equal(intersects(gsp, gsq), intersects(gp, gq), `${p} ∩ ${q} as ${sp} ∩ ${sq}`);
      assert.equal(contains(gsp, gsq), contains(gp, gq), `${q} ⊆ ${p} as ${sq} ⊆ ${sp}`);
      assert.equal(contains(gsq, gsp), contains(gq, gp), `${p} ⊆ ${q} as ${sp} ⊆ ${sq}`);
    }),
    { numRuns: 600 },
  );
});
