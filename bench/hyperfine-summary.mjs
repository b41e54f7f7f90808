// Prints the medians (and mean CPU time) of a hyperfine --export-json file, then the ratios
// asked for: `node bench/hyperfine-summary.mjs RESULTS.json "SUBJECT / PEER"...`.
import { readFileSync } from "node:fs";

const [file, ...ratios] = process.argv.slice(2);
const { results } = JSON.parse(readFileSync(file, "utf8"));
const median = Object.fromEntries(results.map((r) => [r.command, r.median * 1000]));
const cpu = Object.fromEntries(results.map((r) => [r.command, (r.user + r.system) * 1000]));
for (const [name, ms] of Object.entries(median)) {
  console.log(
    `median ${name.padEnd(24)} ${ms.toFixed(1).padStart(6)} ms   cpu (user+sys, mean) ${cpu[name].toFixed(1).padStart(6)} ms`,
  );
}
for (const ratio of ratios) {
  const [subject, peer] = ratio.split(" / ");
  if (!(subject in median) || !(peer in median)) throw new Error(`no such commands in ${file}: ${ratio}`);
  const wall = (median[subject] / median[peer]).toFixed(2);
  console.log(`ratio  ${ratio.padEnd(40)} ${wall} (cpu ${(cpu[subject] / cpu[peer]).toFixed(2)})`);
}
