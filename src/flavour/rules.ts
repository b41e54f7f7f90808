// Saved flavours. A rule names its devices by address or by a selector — ids, class, the PF
// whose VFs it covers, or a modalias pattern — so "all ConnectX VFs get vfio" is one rule that
// keeps working when addresses change. One rule per file, `key value` lines:
//
//   # written by flavourctl set
//   match id 15b3:101e
//   flavour vfio
//   driver mlx5_vfio_pci        (optional)
//   group yes                   (optional: the device's IOMMU group moves with it; set --group)
import { InputError } from "../errors.ts";
import type { DeviceInfo } from "../host/host.ts";
import { fnmatch } from "../modules/fnmatch.ts";
import { isAddress, type PciAddress, printable } from "../pci/address.ts";
import type { PciIds } from "../pci/ids.ts";
import { flavouredModalias } from "../pci/modalias.ts";

export type Selector =
  | { kind: "address"; address: PciAddress }
  | { kind: "id"; vendor: number; device: number; subvendor?: number; subdevice?: number }
  | { kind: "class"; classCode: number; mask: number }
  | { kind: "vfs-of"; pf: PciAddress }
  | { kind: "pattern"; pattern: string };

export interface Rule {
  name: string;
  selector: Selector;
  flavour: "vfio" | "driver";
  driver?: string;
  /** Every non-bridge member of the device's IOMMU group is given its flavour with it. */
  group?: true;
  /** Where it was read from, for messages. */
  file?: string;
}

/** What a selector can look at on a device. */
export interface RuleSubject {
  address: PciAddress;
  ids: PciIds;
  modalias: string;
  physfn: PciAddress | null;
}

/** What a rule's selector is matched against, for a device as the host reads it. */
export function ruleSubjectOf(info: DeviceInfo): RuleSubject {
  return {
    address: info.address,
    ids: {
      vendor: info.vendor,
      device: info.device,
      // unknown subsystem ids match no rule by subsystem ids
      subvendor: info.subsystemVendor ?? -1,
      subdevice: info.subsystemDevice ?? -1,
      classCode: info.classCode,
    },
    modalias: info.modalias ?? "",
    physfn: info.physfn,
  };
}

/** Precedence when several rules match one device: the most specific kind wins. */
const PRECEDENCE: Selector["kind"][] = ["address", "vfs-of", "id", "pattern", "class"];

export function selectorMatches(selector: Selector, device: RuleSubject): boolean {
  switch (selector.kind) {
    case "address":
      return device.address === selector.address;
    case "vfs-of":
      return device.physfn === selector.pf;
    case "id":
      return (
        device.ids.vendor === selector.vendor &&
        device.ids.device === selector.device &&
        (selector.subvendor === undefined || device.ids.subvendor === selector.subvendor) &&
        (selector.subdevice === undefined || device.ids.subdevice === selector.subdevice)
      );
    case "class":
      return ((device.ids.classCode ^ selector.classCode) & selector.mask) === 0;
    case "pattern":
      return fnmatch(
        selector.pattern,
        selector.pattern.startsWith("vfio_") ? flavouredModalias(device.modalias) : device.modalias,
      );
  }
}

/** The rule that decides a device's flavour: the most specific kind, then the first by name. */
export function ruleFor(rules: readonly Rule[], device: RuleSubject): Rule | undefined {
  const matching = rules.filter((rule) => selectorMatches(rule.selector, device));
  matching.sort(
    (a, b) =>
      PRECEDENCE.indexOf(a.selector.kind) - PRECEDENCE.indexOf(b.selector.kind) || (a.name < b.name ? -1 : 1),
  );
  return matching[0];
}

const HEX4 = /^[0-9a-fA-F]{4}$/;

export function parseSelector(text: string): Selector | string {
  const [kind, value, ...extra] = text.trim().split(/\s+/);
  if (value === undefined || extra.length > 0)
    return `expected 'KIND VALUE', got '${printable(text.trim())}'`;
  switch (kind) {
    case "address":
    case "vfs-of": {
      if (!isAddress(value)) return `'${printable(value)}' is not a PCI address (dddd:bb:dd.f, lower case)`;
      return kind === "address" ? { kind, address: value } : { kind, pf: value };
    }
    case "id": {
      const parts = value.split(":");
      if ((parts.length !== 2 && parts.length !== 4) || !parts.every((p) => HEX4.test(p))) {
        return `'${printable(value)}' is not VVVV:DDDD or VVVV:DDDD:SVVV:SDDD (hex)`;
      }
      const [vendor, device, subvendor, subdevice] = parts.map((p) => Number.parseInt(p, 16)) as number[];
      return { kind, vendor: vendor as number, device: device as number, subvendor, subdevice };
    }
    case "class": {
      const match = /^(?:0x)?([0-9a-fA-F]{2}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6})$/.exec(value);
      if (!match) return `'${printable(value)}' is not a class: CC, CCSS or CCSSPP (hex)`;
      const digits = match[1] as string;
      const shift = (6 - digits.length) * 4;
      return { kind, classCode: Number.parseInt(digits, 16) << shift, mask: (0xffffff << shift) & 0xffffff };
    }
    case "pattern":
      if (!/^(pci|vfio_pci):/.test(value))
        return `pattern '${printable(value)}' must start with pci: or vfio_pci:`;
      return { kind, pattern: value };
    default:
      return `unknown selector kind '${printable(kind ?? "")}' (address, id, class, vfs-of, pattern)`;
  }
}

export function formatSelector(selector: Selector): string {
  const h4 = (n: number) => n.toString(16).padStart(4, "0");
  switch (selector.kind) {
    case "address":
      return `address ${selector.address}`;
    case "vfs-of":
      return `vfs-of ${selector.pf}`;
    case "id":
      return `id ${h4(selector.vendor)}:${h4(selector.device)}${
        selector.subvendor === undefined ? "" : `:${h4(selector.subvendor)}:${h4(selector.subdevice ?? 0)}`
      }`;
    case "class": {
      const digits = selector.mask === 0xff0000 ? 2 : selector.mask === 0xffff00 ? 4 : 6;
      return `class ${(selector.classCode >> ((6 - digits) * 4)).toString(16).padStart(digits, "0")}`;
    }
    case "pattern":
      return `pattern ${selector.pattern}`;
  }
}

const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

export function isRuleName(name: string): boolean {
  return RULE_NAME.test(name) && !name.includes("..");
}

/** A rule file's text; every problem is an InputError naming the file and line. */
export function parseRule(name: string, text: string, file: string): Rule {
  let selector: Selector | undefined;
  let flavour: Rule["flavour"] | undefined;
  let driver: string | undefined;
  let group: true | undefined;
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") return;
    const where = `${file}:${i + 1}`;
    const space = line.search(/\s/);
    const key = printable(space < 0 ? line : line.slice(0, space), 40);
    const value = space < 0 ? "" : line.slice(space + 1).trim();
    if (value === "") throw new InputError(`${where}: '${key}' needs a value`);
    const once = (seen: unknown) => {
      if (seen !== undefined) throw new InputError(`${where}: '${key}' given twice`);
    };
    if (key === "match") {
      once(selector);
      const parsed = parseSelector(value);
      if (typeof parsed === "string") throw new InputError(`${where}: ${parsed}`);
      selector = parsed;
    } else if (key === "flavour") {
      once(flavour);
      if (value !== "vfio" && value !== "driver")
        throw new InputError(`${where}: flavour must be vfio or driver, not '${printable(value)}'`);
      flavour = value;
    } else if (key === "driver") {
      once(driver);
      const problem = driverNameProblem(value);
      if (problem) throw new InputError(`${where}: invalid driver name '${printable(value)}': ${problem}`);
      driver = value;
    } else if (key === "group") {
      once(group);
      if (value !== "yes") throw new InputError(`${where}: group must be yes, not '${printable(value)}'`);
      group = true;
    } else throw new InputError(`${where}: unknown key '${key}' (match, flavour, driver, group)`);
  });
  if (!selector) throw new InputError(`${file}: no 'match' line`);
  if (!flavour) throw new InputError(`${file}: no 'flavour' line`);
  if (flavour === "driver" && !driver) throw new InputError(`${file}: flavour driver needs a 'driver' line`);
  return {
    name,
    selector,
    flavour,
    ...(driver === undefined ? {} : { driver }),
    ...(group ? { group } : {}),
    file,
  };
}

export function formatRule(rule: Rule): string {
  return [
    "# flavourctl rule: see 'flavourctl rules --help'",
    `match ${formatSelector(rule.selector)}`,
    `flavour ${rule.flavour}`,
    ...(rule.driver === undefined ? [] : [`driver ${rule.driver}`]),
    ...(rule.group ? ["group yes"] : []),
    "",
  ].join("\n");
}

/**
 * Why a driver name cannot be a rule's `driver` value, or undefined. Linux driver names are
 * kobject names: any bytes but `/` (kobject_set_name_vargs turns it into `!`), spaces included.
 * The rule format holds one value per line, trimmed, with `#` starting a comment: a name with a
 * line break or other control character, a `#`, or spaces at its ends cannot be written so
 * that it reads back the same.
 */
export function driverNameProblem(name: string): string | undefined {
  if (name === "") return "empty";
  if (name.length > 1024) return "longer than 1024 characters";
  if (name.includes("/")) return "a driver name has no '/'";
  if (/[\p{Cc}\u2028\u2029]/u.test(name)) return "a control character or line break";
  if (name.includes("#")) return "'#' starts a comment in a rule file";
  if (name !== name.trim()) return "white space at its start or end";
  return undefined;
}

/**
 * Why this rule cannot be saved so that parseRule reads it back equal, or undefined: every
 * save is checked with it before anything is changed (set refuses; saveRule throws). The
 * property test in rules.test.ts shows that what it lets through reads back equal.
 */
export function ruleProblem(rule: Rule): string | undefined {
  if (!isRuleName(rule.name)) return `'${printable(rule.name)}' is not a rule name`;
  if (rule.driver !== undefined) {
    const problem = driverNameProblem(rule.driver);
    if (problem) return `driver name '${printable(rule.driver)}' cannot be saved in a rule: ${problem}`;
  }
  if (rule.flavour === "driver" && rule.driver === undefined) return "flavour driver needs a driver";
  // a pattern is one word of its line: no white space, no comment, no control character
  if (
    rule.selector.kind === "pattern" &&
    (/[\s#\p{Cc}]/u.test(rule.selector.pattern) ||
      typeof parseSelector(`pattern ${rule.selector.pattern}`) === "string")
  )
    return `pattern '${printable(rule.selector.pattern)}' cannot be saved in a rule`;
  return undefined;
}

/** The file name a selector is saved under. */
export function ruleName(selector: Selector): string {
  return formatSelector(selector)
    .replace(/\*/g, "any")
    .replace(/[^A-Za-z0-9_.:-]+/g, "-");
}
