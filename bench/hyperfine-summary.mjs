// Prints the medians (and mean CPU time) of hyperfine --export-json files, then the ratios asked
// for: `node bench/hyperfine-summary.mjs RESULTS.json... "SUBJECT / PEER"...`. Several files are
// rounds of one benchmark (the same commands, in turn): each command's run times are pooled
// over the rounds, and each ratio is also given round by round, whose spread shows the noise.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const files = args.filter((arg) => arg.endsWith(".json"));
const ratios = args.filter((arg) => !arg.endsWith(".json"));
const rounds = files.map((file) => JSON.parse(readFileSync(file, "utf8")).results);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const times = new Map();
const cpu = new Map();
for (const results of rounds) {
  for (const r of results) {
    times.set(r.command, [...(times.get(r.command) ?? []), ...r.times.map((t) => t * 1000)]);
    // hyperfine gives CPU time as a mean per round: weighted by the round's runs
    const [sum, runs] = cpu.get(r.command) ?? [0, 0];
    cpu.set(r.command, [sum + (r.user + r.system) * 1000 * r.times.length, runs + r.times.length]);
  }
}
const wall = (name) => median(times.get(name));
const cpuMean = (name) => {
  const [sum, runs] = cpu.get(name);
  return sum / runs;
};
for (const name of times.keys()) {
  console.log(
    `median ${name.padEnd(24)} ${wall(name).toFixed(1).padStart(6)} ms   cpu (user+sys, mean) ${cpuMean(name).toFixed(1).padStart(6)} ms`,
  );
}
for (const ratio of ratios) {
  const [subject, peer] = ratio.split(" / ");
  if (!times.has(subject) || !times.has(peer)) throw new Error(`no such commands in ${files}: ${ratio}`);
  const pooled = `${(wall(subject) / wall(peer)).toFixed(2)} (cpu ${(cpuMean(subject) / cpuMean(peer)).toFixed(2)})`;
  let perRound = "";
  if (rounds.length > 1) {
    const each = rounds.map((results) => {
      const of = (name) => median(results.find((r) => r.command === name).times);
      return of(subject) / of(peer);
    });
    perRound = `   rounds: median ${median(each).toFixed(2)}, ${Math.min(...each).toFixed(2)}–${Math.max(...each).toFixed(2)}`;
  }
  console.log(`ratio  ${ratio.padEnd(40)} ${pooled}${perRound}`);
}
